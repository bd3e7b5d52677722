"""The buttons of `why` and `history`: **Why?** (on Failed/Degraded, stuck and alert
replies) posts the `why` answer in the thread it is in, for a presser who may read the
workload here; **Roll back to this** asks first; **Roll back** sends the PATCH; **Cancel**.

A button's value is checked before anything is asked of Run:ai; a value that is not one
of ours gets a clear message and changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.slack import parsing
from bot.slack.commands.dispatch import Ack
from bot.slack.commands.explain import (
    OLD_BUTTON,
    ask_rollback,
    do_rollback,
    read_value,
    replace_answer,
    why_message,
)
from bot.slack.commands.failures import report_failures
from bot.slack.deps import Deps, Invocation
from bot.slack.errors import Doing, UserFacingError
from bot.slack.reply import Replier


def _value(body: Mapping[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")


def _thread_of(body: Mapping[str, Any]) -> str | None:
    message = body.get("message") or {}
    ts = message.get("thread_ts") or message.get("ts")
    return str(ts) if ts else None


async def on_why(deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any]) -> None:
    """Why?: the `why` answer as a reply in the thread the button is in."""
    await ack()
    inv = Invocation.from_action(body)
    workload_id = _value(body)
    thread_ts = _thread_of(body)
    if not parsing.is_workload_id(workload_id):
        await replier.problem(inv, "That button doesn't name a workload.")
        return
    deps.tasks.fire(
        report_failures(
            replier,
            inv,
            _post_why(deps, replier, inv, thread_ts, workload_id),
            Doing("read", workload_id),
        ),
        name="why",
    )


async def _post_why(
    deps: Deps, replier: Replier, inv: Invocation, thread_ts: str | None, workload_id: str
) -> None:
    message = await why_message(deps, workload_id)
    channel = inv.channel_id
    if channel is None or thread_ts is None:
        # A button in a message only its reader sees (no thread to answer in): to them.
        await replier.respond(inv, message)
        return
    try:
        await deps.slack.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
            **message,
        )
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        raise UserFacingError(
            f"Slack would not take the answer in this thread (Slack said {error})."
        ) from exc


def _button(
    name: str, work: Callable[[Deps, Replier, Invocation, str, str | None], Awaitable[None]]
) -> Callable[[Deps, Replier, Ack, Mapping[str, Any]], Awaitable[None]]:
    """A rollback button's listener: ack, check the value, then `work` after the ack."""

    async def listener(deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any]) -> None:
        await ack()
        inv = Invocation.from_action(body)
        read = read_value(_value(body))
        if read is None:
            await replier.problem(inv, OLD_BUTTON)
            return
        deps.tasks.fire(
            report_failures(replier, inv, work(deps, replier, inv, *read), Doing("update", None)),
            name=name,
        )

    return listener


async def _ask(
    deps: Deps, replier: Replier, inv: Invocation, revision_id: str, said: str | None
) -> None:
    await ask_rollback(deps, replier, inv, revision_id)


async def _confirm(
    deps: Deps, replier: Replier, inv: Invocation, revision_id: str, said: str | None
) -> None:
    if said is None:
        await replier.problem(inv, OLD_BUTTON)
        return
    await do_rollback(deps, replier, inv, revision_id, said)


on_rollback = _button("rollback-ask", _ask)
"""Roll back to this: the confirmation naming what will change."""

on_confirm_rollback = _button("rollback", _confirm)
"""Roll back (confirmed): the PATCH."""


async def on_cancel_rollback(
    deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any]
) -> None:
    """Cancel: say so in place of the confirmation."""
    await ack()
    inv = Invocation.from_action(body)
    deps.tasks.fire(
        replace_answer(replier, inv, ":ok_hand:", "Kept it as it is: nothing was rolled back."),
        name="cancel-rollback",
    )
