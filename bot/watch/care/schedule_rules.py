"""Schedule fires: which are due, which to apply and which were missed.

Exactly once is the database's job: each fire is keyed by (schedule, scheduled time), so
the schedule job claims a fire by inserting that key and only the winner PATCHes. This
module decides which keys to claim. Each schedule remembers up to when it was last
checked (`checked_until`); a check covers the fires in (`checked_until`, `now`]:

- a fire at most `grace` late is applied (the misfire grace, `SCHEDULE_MISFIRE_GRACE_SECONDS`);
- an older one is skipped and said once in the thread (a takeover after a long gap);
- every fire of a schedule sets the same replicas, so when several are due only the
  latest is applied, and across the schedules of one workload the latest fire wins too
  (the older due ones are `superseded`: claimed, not applied).

Pure: the schedule job passes in the schedules and the time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.cron import MAX_FIRES, CronRule, say_fire_time

RANGE_DASH = "\u2013"
"""Between min and max replicas in the words of a schedule."""

NEXT_SHOWN = 3
"""Fire times a schedule's reply shows."""

MAX_LISTED = 40
"""Schedules one `schedules` message lists (a section each, within Slack's 50 blocks)."""


class Misfire(StrEnum):
    """What happens to a fire found at check time."""

    APPLY = "apply"
    SKIP = "skip"
    EARLY = "early"  # not due yet (a clock that runs behind the scheduled time)


def misfire(scheduled_at: datetime, now: datetime, grace: timedelta) -> Misfire:
    """Apply a fire at most `grace` late, skip it if later; `EARLY` before its time."""
    late = now - scheduled_at
    if late < timedelta(0):
        return Misfire.EARLY
    return Misfire.APPLY if late <= grace else Misfire.SKIP


@dataclass(frozen=True)
class ScheduleState:
    """What the schedule job knows of one stored schedule."""

    schedule_id: str
    workload_id: str
    rule: CronRule
    checked_until: datetime
    """Fires at or before this were already handled (the creation time at first)."""


@dataclass(frozen=True)
class Fire:
    """One fire of one schedule."""

    schedule_id: str
    workload_id: str
    scheduled_at: datetime


@dataclass(frozen=True)
class Skipped:
    """The fires of one schedule missed beyond the grace, said in one line."""

    schedule_id: str
    workload_id: str
    first: datetime
    last: datetime
    count: int
    more: bool
    """More than `count` were missed (every minute, down for a day); `last` is then the
    edge of the grace, not a fire time."""


@dataclass(frozen=True)
class FirePlan:
    """The outcome of one check."""

    apply: tuple[Fire, ...]
    """Claim and PATCH, oldest first: at most one per workload."""
    superseded: tuple[Fire, ...]
    """Due within the grace but overtaken by a later fire of the same workload: claim only."""
    skipped: tuple[Skipped, ...]
    """Say once in the thread ("skipped: the bot was not running")."""
    checked_until: datetime
    """Store as every planned schedule's `checked_until`."""


def plan_fires(schedules: Iterable[ScheduleState], now: datetime, grace: timedelta) -> FirePlan:
    """The fires of every schedule in (its `checked_until`, `now`] sorted into apply,
    superseded and skipped."""
    due: list[Fire] = []
    skipped: list[Skipped] = []
    for state in schedules:
        late_edge = now - grace
        if state.checked_until < late_edge:
            old = state.rule.fires_between(state.checked_until, late_edge, MAX_FIRES + 1)
            old = [when for when in old if when < late_edge]
            if old:
                shown = old[:MAX_FIRES]
                more = len(old) > MAX_FIRES
                # Past MAX_FIRES the last one is not worth walking to: say "until the edge".
                last = late_edge if more else shown[-1]
                skipped.append(
                    Skipped(state.schedule_id, state.workload_id, shown[0], last, len(shown), more)
                )
        start = max(state.checked_until, late_edge - timedelta(microseconds=1))
        for when in state.rule.fires_between(start, now):
            if misfire(when, now, grace) is Misfire.APPLY:
                due.append(Fire(state.schedule_id, state.workload_id, when))
    latest: dict[str, Fire] = {}
    for fire in due:
        held = latest.get(fire.workload_id)
        if held is None or (fire.scheduled_at, fire.schedule_id) > (
            held.scheduled_at,
            held.schedule_id,
        ):
            latest[fire.workload_id] = fire
    apply = sorted(latest.values(), key=lambda f: f.scheduled_at)
    superseded = sorted((f for f in due if f not in apply), key=lambda f: f.scheduled_at)
    return FirePlan(tuple(apply), tuple(superseded), tuple(skipped), now)


def next_wakeup(schedules: Iterable[ScheduleState], now: datetime) -> datetime | None:
    """When the schedule job next has something to do: the earliest next fire."""
    times = [
        when
        for when in (s.rule.next_fire(max(s.checked_until, now)) for s in schedules)
        if when is not None
    ]
    return min(times, default=None)


@dataclass(frozen=True)
class ScheduleSummary:
    """What a schedule's reply and the schedules list say about one schedule."""

    schedule_id: str
    workload: str
    rule_words: str
    """`At 07:00 PM, Monday through Friday (Europe/Berlin)`."""
    replicas: str
    """Min and max joined by an en dash."""
    sentence: str
    """`At 07:00 PM, Monday through Friday (Europe/Berlin): scale my-qwen to 0-1.` (with
    the en dash)."""
    next_times: tuple[str, ...]
    """`Mon 7 Dec 2026, 07:00 PM CET`, …"""
    author: str | None = None


def summarize(
    schedule_id: str,
    workload: str,
    rule: CronRule,
    min_replicas: int,
    max_replicas: int,
    now: datetime,
    *,
    count: int = NEXT_SHOWN,
    author: str | None = None,
) -> ScheduleSummary:
    """The words for one schedule and its next `count` fire times."""
    words = rule.describe()
    replicas = f"{min_replicas}{RANGE_DASH}{max_replicas}"
    return ScheduleSummary(
        schedule_id,
        workload,
        words,
        replicas,
        f"{words}: scale {workload} to {replicas}.",
        tuple(say_fire_time(when, rule.zone) for when in rule.next_fires(now, count)),
        author,
    )


def listing(
    summaries: Sequence[ScheduleSummary], limit: int = MAX_LISTED
) -> tuple[tuple[ScheduleSummary, ...], int]:
    """The schedules one message shows and how many more there are."""
    return tuple(summaries[:limit]), max(len(summaries) - limit, 0)


def fired_note(min_replicas: int, max_replicas: int) -> str:
    """The thread note of an applied fire, posted with the author as its `user`
    (":alarm_clock: Scheduled: scaled to 0-1 (by @alice)" through the notice template)."""
    return f"Scheduled: scaled to {min_replicas}{RANGE_DASH}{max_replicas}"


def refused_note(schedule_id: str, reason: str) -> str:
    """The thread note of a fire the policy refused its author at fire time."""
    return (
        f"Schedule {schedule_id} did not run: {reason} "
        f"It stays until removed (`/inference unschedule {schedule_id}`)."
    )


def ended_note(schedule_id: str) -> str:
    """The thread note, said once, of a schedule whose workload was deleted."""
    return f"Schedule {schedule_id} ended: its workload is gone."


def skipped_note(skipped: Skipped, zone: str) -> str:
    """The thread note of missed fires."""
    first = say_fire_time(skipped.first, zone)
    if skipped.count == 1:
        return f"Skipped the scheduled scale of {first}: the bot was not running then."
    last = say_fire_time(skipped.last, zone)
    if skipped.more:
        return (
            f"Skipped more than {skipped.count} scheduled scales between {first} and {last}: "
            "the bot was not running then."
        )
    return (
        f"Skipped {skipped.count} scheduled scales from {first} to {last}: "
        "the bot was not running then."
    )


def fires_to_claim(plan: FirePlan) -> Sequence[Fire]:
    """Every fire whose key the job inserts (applied and superseded)."""
    return (*plan.apply, *plan.superseded)
