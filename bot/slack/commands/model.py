"""`model <hf-model>`: what it takes to serve a Hugging Face model, with a Deploy button.

The answer comes from `deps.model_info` (MODEL_INFO_SOURCE: Run:ai, the Hub, or Run:ai
then the Hub) and the reply says which (`Source: …`)."""

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
    hf_token: str | None = None  # a gated model asks for one in a modal (hf_token.py)
    try:
        found = await deps.model_info.model_info(model, hf_token)
    except runai_errors.RunaiError as exc:
        if is_gated_refusal(exc):
            await hf_token_modal.ask_hf_token(replier, inv, model, exc.message)
            return
        if isinstance(exc, runai_errors.NotFoundError) and not isinstance(
            exc, runai_errors.ModelInfoUnavailableError
        ):
            raise UserFacingError(f"Hugging Face has no model {model}.", exc.message) from exc
        raise
    info = found.info
    message = create_modal.model_message(
        info, gated=hf_token is not None, source=found.origin.label
    )
    await replier.respond(inv, message)


ROUTES = (Route(parsing.ModelInfo, model_info, "look up models"),)
