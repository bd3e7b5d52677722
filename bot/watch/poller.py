"""Ask Run:ai what changed and turn it into outbox notifications.

A poll is one `GET /api/v1/workloads?filterBy=phaseUpdatedAt>=<since>` (paged, 500 a
page), whatever the number of watched workloads: only what changed since the last poll
(minus an overlap for clock skew and late writes) comes back. A slower full reconcile
lists everything, so a watched workload that vanished is noticed; it is declared deleted
only after `GET /api/v1/workloads/{id}` answers 404. When Run:ai is unavailable the poll
fails as a whole, the cursor does not move, and the next successful poll catches up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bot import telemetry
from bot.runai import RunaiClient, errors, models
from bot.watch import quiet
from bot.watch.alerts import flapping
from bot.watch.diff import TRANSITIONAL_PHASES, deleted, diff, is_transitional, poll_due
from bot.watch.observe import observe
from bot.watch.store import Store
from bot.watch.tuning import DEFAULTS
from bot.watch.watches import Change, Watch

logger = logging.getLogger(__name__)

GONE_PHASES = ("Deleting", "Terminating")
MAX_DIRECT_CHECKS = 20
# Only inference workloads are watched; training jobs changing phase must not cost pages.
INFERENCES_ONLY = f"type=={models.INFERENCE_WORKLOAD_TYPE}"


@dataclass
class PollStats:
    """What one poll did (logs, tests and benchmarks read it)."""

    kind: str
    fetched: int = 0
    notifications: int = 0
    deleted: int = 0
    api_calls: int = 0


def _stamp(workload: models.Workload) -> tuple[str | None, datetime | None]:
    return (str(workload.phase) if workload.phase else None, workload.phase_updated_at)


def _quieted(change: Change, now: datetime) -> Change:
    """The change with what its thread gets (`watch --only`, mute, flapping), decided from
    the quiet settings read with the watch row: no query per change."""
    transition = change.update.transition
    if transition is None:
        return change
    decision = quiet.decide(change.watch.quiet, transition, now)
    return replace(
        change,
        reply=str(decision.reply),
        flap=decision.flap,
        summary=decision.summary,
        ended=decision.ended,
    )


class Poller:
    """Turns Run:ai phase changes of watched workloads into outbox notifications."""

    def __init__(
        self,
        store: Store,
        runai: RunaiClient,
        *,
        interval: float = DEFAULTS.poll_interval,
        fast_interval: float | None = DEFAULTS.fast_interval,
        reconcile_interval: float = DEFAULTS.reconcile_interval,
        overlap: float = DEFAULTS.overlap,
        on_notify: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.runai = runai
        self.interval = interval
        self.fast_interval = fast_interval if fast_interval is not None else min(interval, 1.0)
        self.reconcile_interval = reconcile_interval
        self.overlap = overlap
        self._on_notify = on_notify
        self._clock = clock
        self._cursor: float | None = None
        self._last_poll: float | None = None
        self._last_reconcile: float | None = None
        self._fast = True
        self._applied: dict[str, tuple[str | None, datetime | None]] = {}
        self._lost: set[str] = set()
        self._lock = asyncio.Lock()

    async def idle(self) -> None:
        """Wait for a running poll or reconcile to finish."""
        async with self._lock:
            return

    @property
    def busy(self) -> bool:
        """A poll or reconcile is running."""
        return self._lock.locked()

    def reset(self) -> None:
        """Forget the cursor: the next tick starts with a full reconcile (new leader)."""
        self._cursor = None
        self._last_poll = None
        self._last_reconcile = None
        self._applied = {}

    async def tick(self) -> PollStats | None:
        """Scheduler entry point: poll or reconcile when one is due."""
        now = self._clock()
        # Every attempt, failed ones included, waits for the poll cadence: an outage is
        # retried once an interval, not hammered at the scheduler's tick rate.
        if not poll_due(now, self._last_poll, self.interval, self.fast_interval, self._fast):
            return None
        started = time.perf_counter()
        try:
            if self._cursor is None or (
                self._last_reconcile is not None
                and now - self._last_reconcile >= self.reconcile_interval
            ):
                return await self.reconcile()
            return await self.poll()
        finally:
            telemetry.POLL_SECONDS.observe(time.perf_counter() - started)

    async def poll(self) -> PollStats:
        """Ask for what changed since the last poll and record transitions."""
        async with self._lock:
            if self._cursor is None:
                return await self._reconcile()
            started = self._clock()
            self._last_poll = started
            stats = PollStats(kind="poll")
            since = models.format_timestamp(
                datetime.fromtimestamp(self._cursor - self.overlap, UTC)
            )
            seen: dict[str, models.Workload] = {}
            try:
                stats.api_calls += await self._list(
                    seen, [f"phaseUpdatedAt>={since}", INFERENCES_ONLY]
                )
            except errors.RunaiError as exc:
                logger.warning("poll failed; will catch up", extra={"error": str(exc)})
                return stats
            stats.fetched = len(seen)
            self._lost = set()
            # The overlap brings back changes this process already applied: skip them
            # before touching the database (only what this very process committed).
            window = {i: _stamp(w) for i, w in seen.items()}
            skipped = {i for i, stamp in window.items() if self._applied.get(i) == stamp}
            for workload_id in skipped:
                del seen[workload_id]
            # Workloads being deleted vanish from the list: ask for them directly so the
            # final reply does not wait for the next full reconcile.
            moving = await self.store.phases_of(TRANSITIONAL_PHASES)
            gone_checks = sorted(i for i, p in moving.items() if p in GONE_PHASES and i not in seen)
            gone_checks = gone_checks[:MAX_DIRECT_CHECKS]
            missing, calls = await self._confirm(gone_checks, seen)
            stats.api_calls += calls
            watched = await self.store.active_watches(set(seen) | set(gone_checks))
            stats.notifications, stats.deleted = await self._apply(watched, seen, missing)
            self._cursor = started
            # Remember what was settled; a change that lost its compare-and-set (a record
            # or unwatch raced it) is looked at again next time.
            diffed = {w.workload_id for w in watched} - self._lost
            self._applied = {i: st for i, st in window.items() if i in skipped or i in diffed}
            still_moving = {i for i in moving if i not in seen and i not in missing}
            self._fast = bool(still_moving) or any(
                is_transitional(str(seen[w.workload_id].phase))
                for w in watched
                if w.workload_id in seen
            )
            return stats

    async def reconcile(self) -> PollStats:
        """List every workload; watched ones missing are checked one by one (404 = gone)."""
        async with self._lock:
            return await self._reconcile()

    async def _reconcile(self) -> PollStats:
        started = self._clock()
        stats = PollStats(kind="reconcile")
        self._last_poll = started
        stamps = await self.store.watch_stamps()
        seen: dict[str, models.Workload] = {}
        if stamps:
            try:
                stats.api_calls += await self._list(seen, [INFERENCES_ONLY], keep=set(stamps))
            except errors.RunaiError as exc:
                logger.warning("reconcile failed; will retry", extra={"error": str(exc)})
                return stats
            absent = [w for w in stamps if w not in seen]
            missing, calls = await self._confirm(absent, seen)
            stats.api_calls += calls
            stats.fetched = len(seen)
            # Load whole watches only where Run:ai disagrees with what the store knows.
            differ = {
                i for i, w in seen.items() if any(_stamp(w) != known for known in stamps.get(i, ()))
            }
            watched = await self.store.active_watches(differ | missing)
            stats.notifications, stats.deleted = await self._apply(watched, seen, missing)
        self._cursor = started
        self._last_reconcile = started
        await self._update_fast()
        await self._settle_flapping()
        return stats

    async def _settle_flapping(self) -> int:
        """End the flapping spells quiet for 10 minutes, telling each (unmuted) thread once
        that replies resume, and editing the spell's summary (if it was posted, muted or
        not) to say it ended; how many ended. Runs with the reconcile (once a minute)."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        ended = 0
        for w in await self.store.flapping_watches():
            if w.quiet is None or not flapping.settle(w.quiet.flap(), now)[1]:
                continue
            last_edit = quiet.summary_end_post(w)
            posts = [last_edit] if last_edit is not None else []
            if not w.quiet.muted(now):
                posts.append(quiet.settled_post(w))
            if await self.store.end_flapping(w.workload_id, w.channel, posts=posts):
                ended += 1
        if ended and self._on_notify is not None:
            self._on_notify()
        return ended

    async def _list(
        self,
        seen: dict[str, models.Workload],
        filter_by: list[str],
        keep: set[str] | None = None,
    ) -> int:
        """Page through the workloads list; returns the number of API calls made."""
        calls = 0
        async for page in self.runai.iter_workload_pages(filter_by=filter_by):
            calls += 1
            for workload in page.workloads:
                if keep is None or workload.id in keep:
                    seen[workload.id] = workload
        return calls

    async def _confirm(
        self, ids: Iterable[str], seen: dict[str, models.Workload]
    ) -> tuple[set[str], int]:
        """GET each id: 404 → really gone; found → add to `seen`; unavailable → unknown."""
        ids = list(ids)
        missing: set[str] = set()
        semaphore = asyncio.Semaphore(8)

        async def check(workload_id: str) -> None:
            async with semaphore:
                try:
                    seen[workload_id] = await self.runai.get_workload(workload_id)
                except errors.NotFoundError:
                    missing.add(workload_id)
                except errors.RunaiError as exc:
                    logger.warning(
                        "cannot confirm workload state; not declaring it deleted",
                        extra={"workload_id": workload_id, "error": str(exc)},
                    )

        await asyncio.gather(*(check(i) for i in ids))
        return missing, len(ids)

    async def _apply(
        self,
        watched: list[Watch],
        seen: dict[str, models.Workload],
        missing: set[str],
    ) -> tuple[int, int]:
        now = datetime.fromtimestamp(self._clock(), UTC)
        changes: list[Change] = []
        gone = 0
        done: set[tuple[str, str]] = set()
        for w in watched:
            key = (w.workload_id, w.channel)
            if key in done:
                continue
            done.add(key)
            workload = seen.get(w.workload_id)
            if w.workload_id in missing or (workload is not None and workload.deleted_at):
                changes.append(_quieted(Change(w, deleted(w.state(), now), end_watch=True), now))
                gone += 1
                continue
            if workload is None:
                continue
            obs = observe(workload)
            result = diff(w.state(), obs, now)
            if result is not None:
                changes.append(_quieted(Change(w, result, observation=obs), now))
        written = await self.store.apply(changes, lost=self._lost)
        if written:
            logger.info("transitions queued", extra={"count": written})
            if self._on_notify is not None:
                self._on_notify()
        return written, gone

    async def _update_fast(self) -> None:
        self._fast = bool(await self.store.transitional_ids(TRANSITIONAL_PHASES))
