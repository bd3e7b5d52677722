"""The schedule loop: on the lease holder, apply each schedule's fires exactly once.

One task per process; it acts only while this replica holds the watch lease. It sleeps
until the earliest next fire of the active schedules (`schedule_rules.next_wakeup`), not
on a fixed tick, so a fire starts within milliseconds of its second. Two things end a
sleep early:

- `wake()`: a schedule created or removed on THIS replica re-plans at once;
- the refresh (`refresh` seconds, default 1): the leader re-reads the `schedules` table,
  so a schedule created on another replica is seen within a second. A short poll rather
  than a database notification: the bot runs on SQLite and PostgreSQL alike, and one
  indexed SELECT a second on one replica costs nothing worth a LISTEN/NOTIFY channel
  (which would also need its own reconnecting connection).

Exactly once: each fire is claimed (`Store.claim_fires`, keyed by schedule and scheduled
second) before its PATCH; only the claimant acts, and the thread note goes into the
outbox with the fire's outcome in one transaction. A fire claimed by a leader that died
before recording an outcome is not retried (at most once: the PATCH may have gone out).
After a takeover, a schedule's fires are checked from its last claimed fire (or its
creation): those at most `grace` late are applied, older ones said once as skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.cron import CronRule
from bot.utc import utcnow
from bot.watch.care import schedule_rules as rules
from bot.watch.care_store import FireOutcome, FireRecord, Schedule, fire_key
from bot.watch.claims import ThreadPost
from bot.watch.store import Store

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]

FIRE_CONCURRENCY = 16
"""Fires applied at once (each a claim, a Run:ai read, a PATCH and a record)."""

WAKE_MARGIN = 0.005
"""Seconds slept past a fire time, so the wall clock has surely reached it on waking."""


class Leading(Protocol):
    """What the loop needs of the lease (`bot.watch.leader.Leadership`)."""

    holder: str

    def is_leader(self) -> bool:
        """Whether this replica holds the watch lease now."""
        ...


@dataclass(frozen=True)
class FireResult:
    """How one fire ended, and the line for the workload's thread."""

    outcome: FireOutcome
    note: str
    detail: str | None = None
    emoji: str = ":alarm_clock:"
    by: str | None = None
    """Who the note names (the schedule's author for an applied fire)."""


class ScheduleActor(Protocol):
    """Applies one fire as the schedule's author (`bot.access.schedules.PolicedFires`)."""

    async def fire(self, schedule: Schedule) -> FireResult:
        """Decide and PATCH; never raises for an outcome the thread should hear of."""
        ...


def _notice(text: str, emoji: str, user: str | None) -> dict[str, object]:
    return {
        "template": "notice",
        "context": {"emoji": emoji, "text": text, "user": user, "detail": None},
    }


class ScheduleLoop:
    """The schedules' fires on the lease holder (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        leadership: Leading,
        actor: ScheduleActor,
        *,
        grace: float,
        refresh: float = 1.0,
        clock: Clock = utcnow,
        sleep: Sleep = asyncio.sleep,
        posted: Callable[[], None] = lambda: None,
        fired: Callable[[Schedule, datetime, FireResult], None] | None = None,
    ) -> None:
        self.store = store
        self.leadership = leadership
        self.actor = actor
        self.grace = timedelta(seconds=grace)
        self.refresh = refresh
        self.clock = clock
        self.sleep = sleep
        self.posted = posted
        self.fired = fired
        self._wake = asyncio.Event()
        self._checked: dict[str, datetime] = {}
        self._next: dict[str, datetime | None] = {}
        self._rules: dict[str, CronRule] = {}
        self._leading = False

    def wake(self) -> None:
        """Re-plan now (a schedule was added or removed here)."""
        self._wake.set()

    async def run(self) -> None:
        """Forever: one pass, then sleep until the next fire or the refresh."""
        while True:
            try:
                delay = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("schedule pass failed")
                delay = self.refresh
            await self._wait(delay)

    async def _wait(self, delay: float) -> None:
        if delay <= 0:
            return
        self._wake.clear()
        sleeper = asyncio.ensure_future(self.sleep(delay))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait((sleeper, waker), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waker):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def step(self) -> float:
        """One pass: apply what is due; seconds until the next pass."""
        if not self.leadership.is_leader():
            # What a previous term knew is stale: a takeover reads the database again.
            self._leading = False
            self._checked.clear()
            self._next.clear()
            return self.refresh
        self._leading = True
        now = self.clock()
        active = await self.store.list_schedules()
        by_id = {s.id: s for s in active}
        for gone in set(self._checked) - set(by_id):
            self._checked.pop(gone, None)
            self._next.pop(gone, None)
            self._rules.pop(gone, None)
        unknown = [s.id for s in active if s.id not in self._checked]
        if unknown:
            last = await self.store.last_fires(unknown)
            for sid in unknown:
                s = by_id[sid]
                self._checked[sid] = max(s.created_at, last.get(sid, s.created_at))
                self._next[sid] = None
        states = [self._state(s) for s in active]
        due = [st for st in states if self._is_due(st, now)]
        if due:
            plan = rules.plan_fires(due, now, self.grace)
            await self._carry_out(plan, by_id)
        for st in states:
            # Nothing fired in (checked, now] for the others: they are checked up to now.
            self._checked[st.schedule_id] = now
            self._next[st.schedule_id] = st.rule.next_fire(now)
        wakeups = [when for when in self._next.values() if when is not None]
        if not wakeups:
            return self.refresh
        until = (min(wakeups) - self.clock()).total_seconds() + WAKE_MARGIN
        return max(0.0, min(self.refresh, until))

    def _state(self, s: Schedule) -> rules.ScheduleState:
        rule = self._rules.get(s.id)
        if rule is None:
            # Kept per schedule: building the APScheduler trigger is the costly part.
            rule = self._rules[s.id] = CronRule(s.cron, s.tz)
        return rules.ScheduleState(s.id, s.workload_id, rule, self._checked[s.id])

    def _is_due(self, st: rules.ScheduleState, now: datetime) -> bool:
        known = self._next.get(st.schedule_id)
        if known is None:
            return True  # new to this term: let the plan look (misfires, skips)
        return known <= now

    async def _carry_out(self, plan: rules.FirePlan, by_id: dict[str, Schedule]) -> None:
        for skipped in plan.skipped:
            await self._skip(by_id[skipped.schedule_id], skipped)
        # Every due key claimed in one transaction, right at the fire time: only the winner
        # of a key acts on it (another replica, a deposed leader: they win nothing).
        due = [(f.schedule_id, f.scheduled_at) for f in rules.fires_to_claim(plan)]
        won = await self._claim_all(due)
        for fire in plan.superseded:
            if (fire.schedule_id, fire_key(fire.scheduled_at)) in won:
                await self.store.finish_fire(
                    fire.schedule_id,
                    fire.scheduled_at,
                    FireOutcome.APPLIED,
                    detail="superseded by a later fire",
                )
        mine = [f for f in plan.apply if (f.schedule_id, fire_key(f.scheduled_at)) in won]
        if not mine:
            return
        threads = await self.store.schedule_threads(f.schedule_id for f in mine)
        # At most one fire per workload: independent, so applied side by side (a hundred
        # schedules on the same minute finish within the second, not one after another).
        # Their outcomes are recorded as they come, each write taking every outcome that
        # finished meanwhile (one transaction, not one each: under load the database
        # round trips, not Run:ai, were what made the last fire late).
        gate = asyncio.Semaphore(FIRE_CONCURRENCY)
        writing = asyncio.Lock()
        finished: list[_Finished] = []

        async def one(fire: rules.Fire) -> None:
            schedule = by_id[fire.schedule_id]
            async with gate:
                result = await self._decide(schedule)
            finished.append(_Finished(schedule, fire.scheduled_at, result))
            async with writing:
                batch = finished[:]
                finished.clear()
                if batch:
                    await self._record(batch, threads)

        async def guarded(fire: rules.Fire) -> None:
            try:
                await one(fire)
            except Exception:
                logger.exception("schedule fire not recorded", extra={"schedule": fire.schedule_id})

        await asyncio.gather(*(guarded(fire) for fire in mine))

    async def _claim(self, schedule: Schedule, when: datetime) -> bool:
        if not self.leadership.is_leader():
            return False
        return await self.store.claim_fire(schedule.id, when, self.leadership.holder)

    async def _claim_all(self, fires: Sequence[tuple[str, datetime]]) -> set[tuple[str, datetime]]:
        if not fires or not self.leadership.is_leader():
            return set()
        return await self.store.claim_fires(fires, self.leadership.holder)

    async def _skip(self, schedule: Schedule, skipped: rules.Skipped) -> None:
        # One key for the whole gap: its last moment, so a later takeover starts after it.
        if not await self._claim(schedule, skipped.last):
            return
        note = rules.skipped_note(skipped, schedule.tz)
        posts = await self._posts(schedule, "skip", skipped.last, note, ":fast_forward:", None)
        await self.store.finish_fire(
            schedule.id,
            skipped.last,
            FireOutcome.SKIPPED_MISFIRE,
            detail=f"{skipped.count}{'+' if skipped.more else ''} missed",
            posts=posts,
        )
        self.posted()

    async def _decide(self, schedule: Schedule) -> FireResult:
        """Apply a fire this replica claimed (the decision and the PATCH)."""
        try:
            return await self.actor.fire(schedule)
        except Exception as exc:
            logger.exception("schedule fire failed", extra={"schedule": schedule.id})
            return FireResult(
                FireOutcome.FAILED,
                f"Schedule {schedule.id} did not run: {type(exc).__name__}.",
                detail=type(exc).__name__,
                emoji=":warning:",
            )

    async def _record(self, batch: Sequence[_Finished], threads: Mapping[str, str]) -> None:
        """Record the outcomes of finished fires (one transaction), each with its thread
        note; a schedule whose workload is gone ends with it."""
        records = []
        for f in batch:
            s, result = f.schedule, f.result
            note = _note_post(s, threads.get(s.id), "fire", f.when, result)
            ends = result.outcome is FireOutcome.ENDED
            records.append(
                FireRecord(
                    s.id,
                    f.when,
                    result.outcome,
                    detail=result.detail,
                    posts=note,
                    end_reason="workload-deleted" if ends else None,
                )
            )
        await self.store.finish_fires(records)
        for f in batch:
            logger.info(
                "schedule fired",
                extra={
                    "schedule": f.schedule.id,
                    "workload_id": f.schedule.workload_id,
                    "fire_at": f.when.isoformat(),
                    "outcome": str(f.result.outcome),
                    "lag_seconds": round((self.clock() - f.when).total_seconds(), 3),
                },
            )
            if self.fired is not None:
                self.fired(f.schedule, f.when, f.result)
        self.posted()

    async def _posts(
        self,
        schedule: Schedule,
        what: str,
        when: datetime,
        text: str,
        emoji: str,
        user: str | None,
    ) -> Sequence[ThreadPost]:
        """The note in the thread of the schedule's channel (none when it has no thread)."""
        watch = await self.store.get_watch(schedule.workload_id, schedule.channel)
        ts = watch.parent_ts if watch is not None else None
        return _note_post(
            schedule, ts, what, when, FireResult(FireOutcome.APPLIED, text, None, emoji, user)
        )


@dataclass(frozen=True)
class _Finished:
    """A fire applied, its outcome not recorded yet."""

    schedule: Schedule
    when: datetime
    result: FireResult


def _note_post(
    schedule: Schedule, thread_ts: str | None, what: str, when: datetime, result: FireResult
) -> Sequence[ThreadPost]:
    """The note of a fire in the thread of the schedule's channel (none without a thread)."""
    if not thread_ts:
        return ()
    key = f"schedule:{schedule.id}:{what}:{fire_key(when).isoformat()}"
    return (
        ThreadPost(
            schedule.workload_id,
            schedule.channel,
            thread_ts,
            "schedule",
            key,
            _notice(result.note, result.emoji, result.by),
        ),
    )
