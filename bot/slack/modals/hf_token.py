"""The Hugging Face token modal: asked for a gated model; the token is used for one
model-info lookup and then dropped (never stored, logged or echoed)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot.runai import errors as runai_errors
from bot.slack import render
from bot.slack.deps import Deps, Invocation
from bot.slack.errors import Doing, Problem
from bot.slack.ids import Field
from bot.slack.modals.api_errors import HF_TOKEN_FIELDS
from bot.slack.modals.create import model_message
from bot.slack.modals.fields import Errors, ModalContext, Values
from bot.slack.modals.submit import (
    Ack,
    Outcome,
    context_of,
    loading_view,
    result_view,
    submit,
    user_of,
    values_of,
    view_id_of,
)
from bot.slack.reply import Replier

logger = logging.getLogger(__name__)


def validate_hf_token(values: Values) -> str | Errors:
    """The token modal → the token (never logged), or an inline error."""
    token = values.get(Field.HF_TOKEN, "")
    if not token:
        return {Field.HF_TOKEN: "Paste a token."}
    if any(ch.isspace() for ch in token) or len(token) < 8:
        return {Field.HF_TOKEN: "That doesn't look like a Hugging Face token."}
    return token


def hf_token_view(model: str, channel_id: str | None) -> dict[str, Any]:
    """The Hugging Face token modal for a gated `model`, asked from `channel_id`."""
    ctx = ModalContext(channel_id=channel_id, model=model)
    return render.view("hf_token", model=model, metadata=ctx.dump())


async def ask_hf_token(replier: Replier, inv: Invocation, model: str, detail: str | None) -> None:
    """A gated model: open the token modal if the trigger is still fresh, else offer a button."""
    view = hf_token_view(model, inv.channel_id)
    if inv.view_id or inv.trigger_fresh():
        try:
            await replier.open_view(inv, view)
            return
        except Exception:
            logger.info("token modal not opened; offering a button", extra={"model": model})
    await replier.respond(inv, render.message("model_gated", model=model, detail=detail))


async def on_hf_token_submit(
    deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any]
) -> None:
    """Token modal submitted: look the model up with it; the token is then dropped."""
    result = validate_hf_token(values_of(body))
    if isinstance(result, dict):
        await ack(response_action="errors", errors=result)
        return
    token = result
    ctx = context_of(body)
    user = user_of(body)
    model = ctx.model or ""

    def form(problem: Problem | None, errors: Errors) -> dict[str, Any]:
        return render.view("hf_token", model=model, metadata=ctx.dump())

    async def work() -> Outcome:
        try:
            found = await deps.model_info.model_info(model, token)
        except (runai_errors.UnauthorizedError, runai_errors.ForbiddenError) as exc:
            return Outcome(errors={Field.HF_TOKEN: f"Hugging Face refused it: {exc.message}"})
        info = found.info
        message = model_message(info, gated=True, source=found.origin.label)

        async def after() -> None:
            if ctx.channel_id:
                await replier.ephemeral(ctx.channel_id, user, message)

        return Outcome(
            success=result_view("Model info", text=f"Found {info.model_name}."), after=after
        )

    await submit(
        deps,
        replier,
        ack,
        view_id=view_id_of(body),
        work=work(),
        form=form,
        working=loading_view("Hugging Face token", f"Looking up {model}…"),
        fields=HF_TOKEN_FIELDS,
        doing=Doing("look up models"),
    )
