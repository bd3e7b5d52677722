"""Alerts: `alert` (a metric rule on a workload, told in its thread here), `alerts` (this
channel's rules with their state and a Remove button), `unalert`, and the buttons of the
list and of a firing reply (Remove, Snooze 1 h, Snooze 24 h).

The rules live in the database and are evaluated on the lease holder
(`bot.watch.alert_loop`); these handlers check, store, list, snooze and remove through
the desk bound to the asker (`Deps.alerts`, `bot.access.alerts`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bot.slack import parsing, render
from bot.slack.alert_cards import SNOOZES, alert_row
from bot.slack.commands.failures import report_failures
from bot.slack.commands.route import Route
from bot.slack.deps import AlertsLike, Deps, Invocation
from bot.slack.errors import Doing, UserFacingError
from bot.slack.ids import Action
from bot.slack.present import when
from bot.slack.reply import Replier
from bot.slack.resolve import resolve, resolve_or_gone
from bot.watch.alert_loop import episode_of, rule_of

logger = logging.getLogger(__name__)

Ack = Callable[..., Awaitable[Any]]

NOT_IN_A_CHANNEL = "Alerts belong to a channel: run this in the channel that follows it."
UNAVAILABLE = "Alerts need the bot's database, which this bot runs without."
_SNOOZE_ACTIONS = {Action.SNOOZE_1H.value: "1h", Action.SNOOZE_24H.value: "24h"}


def _desk(deps: Deps) -> AlertsLike:
    if deps.alerts is None:
        raise UserFacingError(UNAVAILABLE)
    return deps.alerts


def _notice(emoji: str, text: str) -> dict[str, Any]:
    return render.message("notice", emoji=emoji, text=text, user=None, detail=None)


async def alert(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Alert) -> None:
    """Store the rule (the lookup checks the asker may read the workload), follow the
    workload in this channel if it isn't yet (its thread gets the fires); the rule in words."""
    desk = _desk(deps)
    if not inv.channel_id:
        raise UserFacingError(NOT_IN_A_CHANNEL)
    workload = await resolve(deps.runai, command.ref)
    stored = await desk.add(workload, channel=inv.channel_id, user=inv.user_id, rule=command.rule)
    following = ""
    if workload.id not in await deps.watcher.watched_in(inv.channel_id):
        await deps.watcher.watch(workload, channel=inv.channel_id, user=inv.user_id, reason="watch")
        following = " Following it here now: the fires go to its thread."
    await replier.respond(
        inv,
        _notice(
            ":bell:",
            f"Alert {stored.id} on {workload.name}: {command.rule.words()}. I'll reply in "
            f"its thread (and the channel) when that holds, and when it ends.{following}",
        ),
    )


async def alerts(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Alerts) -> None:
    """This channel's rules (of one workload), each with its state and a Remove button."""
    desk = _desk(deps)
    if not inv.channel_id:
        raise UserFacingError(NOT_IN_A_CHANNEL)
    workload_id: str | None = None
    name: str | None = None
    if command.ref is not None:
        workload_id, name = await resolve_or_gone(deps.runai, command.ref)
    now = desk.now()
    rows = [
        alert_row(
            stored.id,
            stored.workload_name or stored.workload_id,
            rule_of(stored),
            episode_of(state),
            now,
        )
        for stored, state in await desk.listed(inv.channel_id, workload_id)
    ]
    await replier.respond(inv, render.message("alerts", rows=rows, name=name))


async def unalert(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Unalert) -> None:
    """Remove one rule (its author, someone who may scale the workload here, or an admin)."""
    await remove(deps, replier, inv, command.alert_id)


async def remove(deps: Deps, replier: Replier, inv: Invocation, alert_id: str) -> None:
    """Remove the rule for the invoker; say so."""
    gone = await _desk(deps).remove(alert_id, user=inv.user_id, channel=inv.channel_id)
    name = gone.workload_name or gone.workload_id
    await replier.respond(
        inv,
        _notice(":wastebasket:", f"Removed alert {gone.id} on {name}: {rule_of(gone).words()}."),
    )


async def snooze(deps: Deps, replier: Replier, inv: Invocation, alert_id: str, key: str) -> None:
    """Snooze the rule for the presser; the thread is told, the presser too."""
    stored, until = await _desk(deps).snooze(
        alert_id, user=inv.user_id, channel=inv.channel_id, for_=SNOOZES[key]
    )
    await replier.respond(
        inv,
        _notice(
            ":zzz:",
            f"Snoozed alert {stored.id} until {when(until)}: no fire replies until then "
            "(its resolve is still told).",
        ),
    )


def _button(body: Mapping[str, Any]) -> tuple[str, str]:
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else {}
    if not isinstance(first, Mapping):
        return "", ""
    return str(first.get("action_id") or ""), str(first.get("value") or "")


def _alert_id(value: str) -> str | None:
    value = value.strip()
    return value if parsing.ALERT_ID_RE.match(value) else None


async def on_remove_alert(deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any]) -> None:
    """The Remove button of the alerts list: ack now, remove after."""
    await ack()
    inv = Invocation.from_action(body)
    alert_id = _alert_id(_button(body)[1])
    if alert_id is None:
        await replier.problem(inv, "That button names no alert; run `/inference alerts`.")
        return
    deps.tasks.fire(
        report_failures(
            replier, inv, remove(deps, replier, inv, alert_id), Doing("remove the alert of")
        ),
        name="remove-alert",
    )


async def on_snooze(deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any]) -> None:
    """Snooze 1 h / Snooze 24 h of a firing reply: ack now, snooze after."""
    await ack()
    inv = Invocation.from_action(body)
    action_id, value = _button(body)
    alert_id = _alert_id(value)
    key = _SNOOZE_ACTIONS.get(action_id)
    if alert_id is None or key is None:
        await replier.problem(inv, "That button names no alert; run `/inference alerts`.")
        return
    deps.tasks.fire(
        report_failures(replier, inv, snooze(deps, replier, inv, alert_id, key), Doing("read")),
        name="snooze-alert",
    )


ROUTES = (
    Route(parsing.Alert, alert, "read"),
    Route(parsing.Alerts, alerts, "read"),
    Route(parsing.Unalert, unalert, "read", names_workload=False),
)
