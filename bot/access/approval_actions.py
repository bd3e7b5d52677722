"""An approval request's buttons: Approve, Deny (a small modal with an optional reason).

The decisions themselves live in `bot.access.approvals.ApprovalDesk`; here they are acked
at once, run as tracked tasks, and answered privately to whoever pressed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.access.approvals import ApprovalDesk, Note, note_message
from bot.slack import render
from bot.slack.deps import Deps, Invocation
from bot.slack.ids import Action, Callback, Field
from bot.slack.modals.fields import ModalContext
from bot.slack.modals.submit import context_of, values_of
from bot.slack.reply import Replier, TriggerExpired

logger = logging.getLogger(__name__)

Ack = Callable[..., Awaitable[Any]]
REASON_MAX = 500


def _value(body: Mapping[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")


def _user(body: Mapping[str, Any]) -> str:
    return str((body.get("user") or {}).get("id", ""))


def _say(note: Note) -> dict[str, Any]:
    return note_message(*note)


def deny_view(approval_id: str, channel: str, summary: str) -> dict[str, Any]:
    """The Deny modal: an optional reason (the request's id rides in private_metadata)."""
    # `workload_id` carries the request id: ModalContext is what admit reads the channel
    # from, so the submission is decided for the request's channel.
    metadata = ModalContext(channel_id=channel, workload_id=approval_id).dump()
    return render.view("approval_deny", approval_id=approval_id, summary=summary, metadata=metadata)


def register_approvals(desk: ApprovalDesk) -> Callable[[AsyncApp, Deps, Replier], None]:
    """The listeners for `build_app(listeners=...)`."""

    def register(app: AsyncApp, deps: Deps, replier: Replier) -> None:
        @app.action(Action.APPROVE.value)
        async def _approve(ack: Any, body: dict[str, Any]) -> None:
            await ack()
            inv = Invocation.from_action(body)
            deps.tasks.fire(approve(desk, replier, inv, _value(body)), name="approve")

        @app.action(Action.DENY.value)
        async def _deny(ack: Any, body: dict[str, Any]) -> None:
            await ack()
            inv = Invocation.from_action(body)
            deps.tasks.fire(open_deny(desk, replier, inv, _value(body)), name="deny", urgent=True)

        @app.view_submission(Callback.APPROVAL_DENY.value)
        async def _denied(ack: Any, body: dict[str, Any]) -> None:
            await on_deny_submit(desk, deps, replier, ack, body)

    return register


async def approve(desk: ApprovalDesk, replier: Replier, inv: Invocation, approval_id: str) -> None:
    """Approve and perform (once), then tell the approver privately."""
    try:
        text = await desk.approve(approval_id, inv.user_id)
    except Exception:
        logger.exception("approve failed", extra={"approval": approval_id})
        text = ("Something went wrong on my side while approving; it has been logged.",)
    await replier.respond(inv, _say(text))


async def open_deny(
    desk: ApprovalDesk, replier: Replier, inv: Invocation, approval_id: str
) -> None:
    """Open the reason modal, if the presser may deny; else say why privately."""
    approval = await desk.store.get_approval(approval_id)
    why_not = await desk.may_decide(approval, inv.user_id)
    if why_not is not None or approval is None:
        await replier.respond(inv, _say(why_not or ("That request no longer exists.",)))
        return
    try:
        await replier.open_view(inv, deny_view(approval.id, approval.channel, approval.summary))
    except TriggerExpired:
        await replier.respond(
            inv, _say(("Slack took too long to open the form; press Deny again.",))
        )


async def on_deny_submit(
    desk: ApprovalDesk, deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any]
) -> None:
    """The Deny modal's submission: close it, deny (once), tell the denier."""
    await ack()
    ctx = context_of(body)
    reason = values_of(body).get(Field.REASON, "")[:REASON_MAX]
    user = _user(body)
    channel = ctx.channel_id
    approval_id = ctx.workload_id or ""

    async def work() -> None:
        try:
            text = await desk.deny(approval_id, user, reason or None)
        except Exception:
            logger.exception("deny failed", extra={"approval": approval_id})
            text = ("Something went wrong on my side while denying; it has been logged.",)
        if channel:
            await replier.ephemeral(channel, user, _say(text))

    deps.tasks.fire(work(), name="deny-submit")
