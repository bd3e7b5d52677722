"""Schedules: `schedule` (scale on a cron rule), `schedules` (this channel's, with Remove
buttons), `unschedule` (remove one), and the Remove button.

The rules live in the database and fire on the lease holder
(`bot.watch.care.schedule_loop`); these handlers only check, store, list and remove,
through the desk bound to the asker (`Deps.schedules`, `bot.access.schedules`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bot.cron import CronError, CronRule
from bot.runai import models
from bot.slack import parsing, render
from bot.slack.commands.failures import report_failures
from bot.slack.commands.route import Route
from bot.slack.deps import Deps, Invocation, SchedulesLike
from bot.slack.errors import Doing, UserFacingError
from bot.slack.reply import Replier
from bot.slack.resolve import resolve, resolve_or_gone
from bot.watch.care import schedule_rules as rules
from bot.watch.care_store import Schedule

logger = logging.getLogger(__name__)

Ack = Callable[..., Awaitable[Any]]

NOT_IN_A_CHANNEL = "Schedules belong to a channel: run this in the channel that follows it."
UNAVAILABLE = "Schedules need the bot's database, which this bot runs without."


def _desk(deps: Deps) -> SchedulesLike:
    if deps.schedules is None:
        raise UserFacingError(UNAVAILABLE)
    return deps.schedules


def summary(desk: SchedulesLike, schedule: Schedule) -> rules.ScheduleSummary:
    """A stored schedule in words, with its next fire times."""
    high = models.effective_max_replicas(schedule.min_replicas, schedule.max_replicas)
    return rules.summarize(
        schedule.id,
        schedule.workload_name or schedule.workload_id,
        CronRule(schedule.cron, schedule.tz),
        schedule.min_replicas,
        high,
        desk.now(),
        author=schedule.author,
    )


async def schedule(
    deps: Deps, replier: Replier, inv: Invocation, command: parsing.Schedule
) -> None:
    """Check the author may scale it here within the caps, store the rule, follow the
    workload in this channel (its thread records each fire); the rule in words."""
    desk = _desk(deps)
    if not inv.channel_id:
        raise UserFacingError(NOT_IN_A_CHANNEL)
    workload = await resolve(deps.runai, command.ref)
    zone = command.zone or await desk.zone_of(inv.user_id)
    try:
        rule = CronRule.of(command.cron, zone)
    except CronError as exc:
        raise UserFacingError(exc.message) from None
    stored = await desk.add(
        workload,
        channel=inv.channel_id,
        user=inv.user_id,
        rule=rule,
        low=command.min_replicas,
        high=command.max_replicas,
    )
    try:
        if workload.id not in await deps.watcher.watched_in(inv.channel_id):
            await deps.watcher.watch(
                workload, channel=inv.channel_id, user=inv.user_id, reason="watch"
            )
    except Exception:
        # The schedule stands; without a thread its fires are only audited.
        logger.exception("schedule: following the workload failed")
    await replier.respond(inv, render.message("care_schedule_created", s=summary(desk, stored)))


async def schedules(
    deps: Deps, replier: Replier, inv: Invocation, command: parsing.Schedules
) -> None:
    """This channel's schedules (of one workload), next fire time and a Remove button."""
    desk = _desk(deps)
    if not inv.channel_id:
        raise UserFacingError(NOT_IN_A_CHANNEL)
    workload_id: str | None = None
    narrowed: str | None = None
    if command.ref is not None:
        workload_id, narrowed = await resolve_or_gone(deps.runai, command.ref)
    found = await desk.listed(inv.channel_id, workload_id)
    shown, more = rules.listing([summary(desk, s) for s in found])
    await replier.respond(
        inv, render.message("care_schedules", schedules=shown, more=more, narrowed=narrowed)
    )


async def unschedule(
    deps: Deps, replier: Replier, inv: Invocation, command: parsing.Unschedule
) -> None:
    """Remove one schedule (its author, someone who may scale it here, or an admin)."""
    await remove(deps, replier, inv, command.schedule_id)


async def remove(deps: Deps, replier: Replier, inv: Invocation, schedule_id: str) -> None:
    """End the schedule for the invoker; say so."""
    desk = _desk(deps)
    gone = await desk.remove(schedule_id, user=inv.user_id, channel=inv.channel_id)
    words = summary(desk, gone).sentence
    await replier.respond(
        inv,
        render.message(
            "notice",
            emoji=":wastebasket:",
            text=f"Removed schedule {gone.id}: {words}",
            user=None,
            detail=None,
        ),
    )


async def on_remove_schedule(
    deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any]
) -> None:
    """The Remove button of the schedules list: ack now, remove after."""
    await ack()
    inv = Invocation.from_action(body)
    actions = body.get("actions") or [{}]
    value = str(actions[0].get("value") or "") if isinstance(actions, list) else ""
    match = parsing.SCHEDULE_ID_RE.match(value)
    if not match:
        await replier.problem(inv, "That button names no schedule; run `/inference schedules`.")
        return
    deps.tasks.fire(
        report_failures(
            replier,
            inv,
            remove(deps, replier, inv, match.group(1).lower()),
            Doing("remove the schedule of"),
        ),
        name="remove-schedule",
    )


ROUTES = (
    Route(parsing.Schedule, schedule, "scale"),
    Route(parsing.Schedules, schedules, "read"),
    Route(parsing.Unschedule, unschedule, "read", names_workload=False),
)
