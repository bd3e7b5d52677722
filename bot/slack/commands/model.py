"""`model <hf-model>`: what it takes to serve a Hugging Face model, with a Deploy button."""

from __future__ import annotations

from bot.runai import errors as runai_errors
from bot.slack import parsing
from bot.slack.commands.route import Route
from bot.slack.deps import Deps, Invocation
from bot.slack.errors import UserFacingError, is_gated_refusal
from bot.slack.modals import create as create_modal
from bot.slack.modals import hf_token as hf_token_modal
from bot.slack.reply import Replier


async def model_info(
    deps: Deps, replier: Replier, inv: Invocation, command: parsing.ModelInfo
) -> None:
    """Model info with a Deploy button; a gated model asks for a token."""
    model = command.model
    try:
        info = await deps.runai.model_info(model)
    except runai_errors.RunaiError as exc:
        if is_gated_refusal(exc):
            await hf_token_modal.ask_hf_token(replier, inv, model, exc.message)
            return
        if isinstance(exc, runai_errors.NotFoundError) and not isinstance(
            exc, runai_errors.ModelInfoUnavailableError
        ):
            raise UserFacingError(f"Hugging Face has no model {model}.", exc.message) from exc
        raise
    await replier.respond(inv, create_modal.model_message(info, gated=False))


ROUTES = (Route(parsing.ModelInfo, model_info, "look up models"),)
