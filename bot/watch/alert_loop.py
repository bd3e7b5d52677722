"""Alert evaluation and stuck replies, on the lease holder, every ALERT_INTERVAL_SECONDS.

One evaluation:
1. every active rule with its stored state (one query), grouped by endpoint, with the
   channels' watches with their mute (one query each);
2. per endpoint, one metrics call at most: `next_route` picks the route (inference:
   latency, throughput; workload: GPU, running pods) and `plan_metrics` asks it every
   series its rules need at once, over their longest `for` plus one interval. An
   endpoint with rules on both routes reads them in turn, one per evaluation, the least
   recently read first (remembered here, per endpoint and route): its verdicts are as
   right as with two calls, each only up to one interval later; a rule whose route is
   not read this time is left as it is (see `bot/watch/alerts/rules.py`);
3. `evaluate_all`, then `episodes.step` from the stored state; a fire or resolve is the
   store's compare-and-set (`fire_alert` / `resolve_alert`) with its thread post queued in
   the same transaction under the dedupe key `alert:<rule>:<episode>:<fire|resolve>`, so
   one fire and one resolve go out per episode across restarts, takeovers and replicas;
4. stuck: every followed workload whose known phase (the poller's, in `watches`) has been
   Pending, Creating or Initializing longer than STUCK_AFTER gets one reply per stretch
   (`claim_stuck` keyed by workload, phase and phase start), with its latest events.

Quiet: a rule whose channel muted the workload's thread (`watch_quiet`), or that is
snoozed, starts no announced episode: the store stays `ok` and the
fire goes out once the quiet ends if the breach still holds (`episodes.step` decides; an
episode that began quiet and ended quiet leaves no trace). A muted thread hears no resolve
either (the episode ends silently); a snoozed one does. A rule whose channel no longer
follows the workload is not evaluated at all (no thread to tell, and a deleted workload
would only answer 404s); it resumes if the channel follows the workload again.

The chart of a fire is uploaded before the fire is claimed, as a file shared nowhere, and
the queued reply shows it by file id (`slack_file`): the reply itself stays exactly-once
through the outbox. An upload that fails leaves the reply without a chart; a claim lost
to another replica leaves one unshared file behind.

The loop reads Run:ai with the bot's own client (like the poller): a rule's author was
checked for the right to read the workload when the rule was made.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select

from bot.runai import errors, models
from bot.runai import observability as obs
from bot.utc import as_utc, utcnow
from bot.watch.alert_store import AlertRule, AlertState, AlertStatus
from bot.watch.alerts import episodes
from bot.watch.alerts.episodes import Episode, Post, State
from bot.watch.alerts.rules import (
    Metric,
    MetricsPlan,
    Op,
    Rule,
    Source,
    Verdict,
    evaluate_all,
    find_series,
    next_route,
    plan_metrics,
    routes_of,
)
from bot.watch.alerts.stuck import STUCK_PHASES
from bot.watch.claims import ThreadPost
from bot.watch.db.schema import watches as watches_table
from bot.watch.store import Store

logger = logging.getLogger(__name__)

STUCK_EVENTS = 5
Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


class AlertReads(Protocol):
    """The Run:ai reads an evaluation makes (`RunaiClient`)."""

    async def inference_metrics(
        self,
        workload_id: str,
        start: datetime,
        end: datetime,
        *,
        metric_types: Sequence[models.MetricType | str],
        number_of_samples: int,
    ) -> models.MetricsResponse:
        """Throughput/latency series."""
        ...

    async def workload_metrics(
        self,
        workload_id: str,
        start: datetime,
        end: datetime,
        *,
        metric_types: Sequence[obs.WorkloadMetricType | str],
        number_of_samples: int,
    ) -> obs.MetricsCompositeResponse:
        """GPU and pod-count series."""
        ...

    async def workload_events(self, workload_id: str, *, limit: int = 50) -> obs.EventsPage:
        """The newest events."""
        ...


class Lease(Protocol):
    """Who acts: only the lease holder evaluates."""

    holder: str

    def is_leader(self) -> bool: ...


ChartMaker = Callable[[str, Sequence[models.Measurement]], Awaitable[bytes]]


class AlertWords(Protocol):
    """The words of the replies the loop queues, as JSON for the outbox.

    The Slack room gives them (`bot.slack.alert_cards.WORDS`): the watch room knows what
    happened, not how Slack says it.
    """

    def alert(
        self,
        alert_id: str,
        workload_id: str,
        name: str,
        rule: Rule,
        episode: Episode,
        now: datetime,
        chart: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """A fire or resolve reply's card; `chart` is an uploaded (file id, alt text)."""
        ...

    def stuck(
        self,
        workload_id: str,
        name: str,
        phase: str,
        held: timedelta,
        events: Sequence[obs.Event],
        now: datetime,
    ) -> dict[str, Any]:
        """A stuck reply's card, with the latest events."""
        ...


Uploader = Callable[[bytes, str, str], Awaitable[str | None]]
"""(png, filename, title) → the Slack file id, or None when the upload failed."""


@dataclass
class EvalStats:
    """What one evaluation did (logs, tests and the benchmark read it)."""

    endpoints: int = 0
    rules: int = 0
    metrics_calls: int = 0
    failed_calls: int = 0
    fired: int = 0
    resolved: int = 0
    stuck: int = 0
    event_calls: int = 0
    http_seconds: float = 0.0
    calls_by_route: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Followed:
    """What the loop needs of one active watch: its thread, phase and mute."""

    workload_id: str
    channel: str
    parent_ts: str
    name: str | None
    last_phase: str | None
    phase_updated_at: datetime | None
    muted_until: datetime | None

    def muted(self, now: datetime) -> bool:
        """Whether the thread is muted at `now`."""
        return self.muted_until is not None and self.muted_until > now


async def read_metrics(
    runai: AlertReads, workload_id: str, plan: MetricsPlan, source: Source
) -> list[models.Measurement]:
    """The one call that reads `plan`'s series of one route over its window."""
    if source == "inference":
        answer = await runai.inference_metrics(
            workload_id,
            plan.start,
            plan.end,
            metric_types=plan.inference_types,
            number_of_samples=plan.samples,
        )
        return list(answer.measurements)
    composite = await runai.workload_metrics(
        workload_id,
        plan.start,
        plan.end,
        metric_types=plan.workload_types,
        number_of_samples=plan.samples,
    )
    return list(composite.measurements)


async def followed(store: Store) -> list[Followed]:
    """Every active watch, only the columns the loop reads (one query)."""
    t = watches_table
    query = select(
        t.c.workload_id,
        t.c.channel,
        t.c.parent_ts,
        t.c.name,
        t.c.last_phase,
        t.c.phase_updated_at,
        t.c.muted_until,
    ).where(t.c.active.is_(True))
    async with store.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        Followed(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            as_utc(r[5]) if r[5] else None,
            as_utc(r[6]) if r[6] else None,
        )
        for r in rows
    ]


def rule_of(stored: AlertRule) -> Rule:
    """The pure rule of a stored one."""
    return Rule(
        Metric(stored.metric), Op(stored.op), stored.value, timedelta(seconds=stored.for_seconds)
    )


def episode_of(state: AlertState) -> Episode:
    """The pure episode of a stored state: the store only ever holds announced fires."""
    firing = state.status is AlertStatus.FIRING
    return Episode(
        state=State.FIRING if firing else State.RESOLVED if state.resolved_at else State.OK,
        number=state.episode,
        since=state.since,
        announced=firing,
        resolved_at=state.resolved_at,
        snoozed_until=state.snoozed_until,
        value=state.last_value,
    )


def alert_key(rule_id: str, episode: int, post: str) -> str:
    """The outbox dedupe key of one fire or resolve."""
    return f"alert:{rule_id}:{episode}:{post}"


def stuck_key(workload_id: str, phase: str, since: datetime) -> str:
    """The outbox dedupe key of one stuck stretch's reply in one channel."""
    return f"stuck:{workload_id}:{phase}:{since.isoformat()}"


class AlertLoop:
    """Evaluates every alert rule and looks for stuck workloads while this process leads."""

    def __init__(
        self,
        store: Store,
        runai: AlertReads,
        lease: Lease,
        *,
        words: AlertWords,
        interval: float = 60.0,
        stuck_after: timedelta = timedelta(minutes=15),
        chart: ChartMaker | None = None,
        upload: Uploader | None = None,
        posted: Callable[[], None] | None = None,
        clock: Clock = utcnow,
        sleep: Sleep = asyncio.sleep,
        concurrency: int = 8,
    ) -> None:
        self.store = store
        self.runai = runai
        self.lease = lease
        self._words = words
        self.interval = interval
        self.stuck_after = stuck_after
        self._chart = chart
        self._upload = upload
        self._posted = posted
        self._clock = clock
        self._sleep = sleep
        self._concurrency = max(1, concurrency)
        self._rules: dict[AlertRule, Rule] = {}
        self._told_stuck: set[str] = set()
        # When each endpoint's routes were last read (one route per evaluation), and the
        # rules whose last verdict was pending: what `next_route` picks from.
        self._last_read: dict[str, dict[Source, datetime]] = {}
        self._pending: set[str] = set()

    async def run(self) -> None:
        """Evaluate every `interval` while leading (cancel the task to stop)."""
        while True:
            if self.lease.is_leader():
                try:
                    await self.evaluate_once()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("alert evaluation failed")
            await self._sleep(self.interval)

    async def evaluate_once(self, now: datetime | None = None) -> EvalStats:
        """One evaluation of every rule, and the stuck check."""
        now = now or self._clock()
        stats = EvalStats()
        rules = await self.store.list_alert_rules()
        watched = await followed(self.store)
        watches = {(w.workload_id, w.channel): w for w in watched}
        by_endpoint: dict[str, list[tuple[AlertRule, AlertState]]] = defaultdict(list)
        for rule, state in rules:
            # A rule whose channel no longer follows the workload (unwatched, or the
            # workload deleted) has no thread to tell: its endpoint is not even asked.
            if (rule.workload_id, rule.channel) in watches:
                by_endpoint[rule.workload_id].append((rule, state))
        stats.endpoints = len(by_endpoint)
        for gone in self._last_read.keys() - by_endpoint.keys():
            del self._last_read[gone]
        if len(self._pending) > 100_000:
            self._pending.clear()  # only a tie-break of `next_route`
        stats.rules = sum(len(found) for found in by_endpoint.values())
        values: dict[str, float | None] = {}
        # A few workers over one queue, not a task per endpoint: at thousands of endpoints
        # the tasks alone would cost more CPU than the verdicts.
        queue = iter(list(by_endpoint.items()))

        async def worker() -> None:
            for wid, found in queue:
                await self._endpoint(wid, found, watches, now, stats, values)

        await asyncio.gather(*(worker() for _ in range(min(self._concurrency, len(by_endpoint)))))
        await self.store.note_alert_values(values, at=now)
        await self._stuck(watched, now, stats)
        if (stats.fired or stats.resolved or stats.stuck) and self._posted is not None:
            self._posted()
        return stats

    # --- metric rules ---------------------------------------------------------------------

    async def _measurements(
        self,
        workload_id: str,
        found: Sequence[tuple[AlertRule, AlertState]],
        pure: dict[str, Rule],
        now: datetime,
        stats: EvalStats,
    ) -> tuple[Source | None, list[models.Measurement] | None]:
        """The one metrics call of this endpoint's evaluation: its route, and every series
        of that route its rules need (None: Run:ai did not answer)."""
        rules = list(pure.values())
        needed = routes_of(rules)
        if len(needed) > 1:
            # Both routes: the one read least recently, so that the two alternate and
            # each rule is seen at least every other evaluation. This is where issue 12's
            # "one metrics call per endpoint" costs time to notice (one interval at most,
            # for these endpoints only), never a wrong verdict: the read covers the rules'
            # whole window, and the rules of the other route are left as they are.
            urgent = {
                pure[stored.id].info.source
                for stored, state in found
                if state.status is AlertStatus.FIRING or stored.id in self._pending
            }
            read = self._last_read.setdefault(workload_id, {})
            source = next_route(needed, read, urgent)
            if source is not None:
                read[source] = now
        else:
            source = next(iter(needed), None)
        if source is None:
            return None, []
        plan = plan_metrics(rules, now, timedelta(seconds=self.interval), source)
        started = time.perf_counter()
        stats.metrics_calls += 1
        _count(stats, source)
        try:
            series = await read_metrics(self.runai, workload_id, plan, source)
        except errors.RunaiError as exc:
            # Not knowing is not a breach: nothing changes until Run:ai answers again.
            stats.failed_calls += 1
            logger.warning(
                "alert metrics unavailable",
                extra={"workload_id": workload_id, "error": str(exc)},
            )
            return source, None
        finally:
            stats.http_seconds += time.perf_counter() - started
        return source, series

    async def _endpoint(
        self,
        workload_id: str,
        found: list[tuple[AlertRule, AlertState]],
        watches: dict[tuple[str, str], Followed],
        now: datetime,
        stats: EvalStats,
        values: dict[str, float | None],
    ) -> None:
        pure = {stored.id: self._rule_of(stored) for stored, _ in found}
        source, measurements = await self._measurements(workload_id, found, pure, now, stats)
        if measurements is None:
            return
        # Only the rules of the route read this time get a verdict; the others are left
        # as they are until their route's turn (the next evaluation).
        read = {rid: rule for rid, rule in pure.items() if rule.info.source == source}
        verdicts = evaluate_all(read, measurements, now)
        for stored, state in found:
            verdict = verdicts.get(stored.id)
            if verdict is None:
                continue
            if verdict.state == "pending":
                self._pending.add(stored.id)
            else:
                self._pending.discard(stored.id)
            # The latest value is shown for firing rules (`alerts`); a fire or resolve
            # writes its own. Writing every rule's value each time would cost a row each.
            firing = state.status is AlertStatus.FIRING
            if verdict.value is not None and firing:
                values[stored.id] = verdict.value
            # Only a breach of a rule at rest or the end of a firing one can change
            # anything (`episodes.step` says what): the rest of the rules skip the step.
            if verdict.state != ("clear" if firing else "breaching"):
                continue
            try:
                await self._step(
                    stored,
                    state,
                    pure[stored.id],
                    verdict,
                    measurements,
                    watches,
                    now,
                    stats,
                )
            except Exception:
                logger.exception("alert step failed", extra={"alert_id": stored.id})

    def _rule_of(self, stored: AlertRule) -> Rule:
        """The pure rule, built once per stored rule (rules never change, only go)."""
        rule = self._rules.get(stored)
        if rule is None:
            if len(self._rules) > 100_000:
                self._rules.clear()
            rule = self._rules[stored] = rule_of(stored)
        return rule

    async def _step(
        self,
        stored: AlertRule,
        state: AlertState,
        rule: Rule,
        verdict: Verdict,
        measurements: Sequence[models.Measurement],
        watches: dict[tuple[str, str], Followed],
        now: datetime,
        stats: EvalStats,
    ) -> None:
        key = (stored.workload_id, stored.channel)
        watch = watches.get(key)
        # A channel that stopped following the workload has no thread to tell: as muted.
        muted = watch is None or watch.muted(now)
        before = episode_of(state)
        after, post = episodes.step(before, verdict, now, muted=muted)
        name = (watch.name if watch else None) or stored.workload_name or stored.workload_id
        if post is Post.FIRE:
            assert watch is not None
            chart = await self._chart_of(stored, rule, name, measurements)
            card = self._words.alert(stored.id, stored.workload_id, name, rule, after, now, chart)
            won = await self.store.fire_alert(
                stored.id,
                after.number,
                value=after.value,
                since=after.since or now,
                at=now,
                posts=[self._post(watch, stored, after.number, "fire", card, broadcast=True)],
            )
            stats.fired += won
            if won:
                logger.info("alert fired", extra={"alert_id": stored.id, "episode": after.number})
        elif before.state is State.FIRING and after.state is State.RESOLVED:
            card = self._words.alert(stored.id, stored.workload_id, name, rule, after, now)
            posts = (
                [self._post(watch, stored, before.number, "resolve", card, broadcast=False)]
                if post is Post.RESOLVE and watch is not None
                else []
            )
            won = await self.store.resolve_alert(
                stored.id, before.number, value=after.value, at=now, posts=posts
            )
            stats.resolved += won
            if won:
                logger.info(
                    "alert resolved", extra={"alert_id": stored.id, "episode": before.number}
                )
        # Otherwise nothing to store: a quiet breach stays `ok` until it can be announced.

    def _post(
        self,
        watch: Followed | None,
        stored: AlertRule,
        episode: int,
        kind: str,
        card: dict[str, Any],
        *,
        broadcast: bool,
    ) -> ThreadPost:
        assert watch is not None
        template = "watch_alert_firing" if kind == "fire" else "watch_alert_resolved"
        return ThreadPost(
            workload_id=stored.workload_id,
            channel=stored.channel,
            thread_ts=watch.parent_ts,
            kind="alert",
            dedupe_key=alert_key(stored.id, episode, kind),
            payload={"template": template, "context": {"card": card}},
            broadcast=broadcast,
        )

    async def _chart_of(
        self,
        stored: AlertRule,
        rule: Rule,
        name: str,
        measurements: Sequence[models.Measurement],
    ) -> tuple[str, str] | None:
        """The window's chart of the rule's series, uploaded (file id, alt text); None when
        it can't be."""
        if self._chart is None or self._upload is None:
            return None
        series = find_series(measurements, rule.metric)
        if series is None:
            return None
        title = f"{name}: {rule.words()}"
        try:
            png = await self._chart(title, [series])
            file_id = await self._upload(png, f"{name}-alert-{stored.id}.png", title)
        except Exception:
            logger.exception("alert chart failed", extra={"alert_id": stored.id})
            return None
        return (file_id, title) if file_id else None

    # --- stuck ----------------------------------------------------------------------------

    async def _stuck(
        self,
        watched: Sequence[Followed],
        now: datetime,
        stats: EvalStats,
    ) -> None:
        stuck: dict[tuple[str, str, datetime], list[Followed]] = defaultdict(list)
        for w in watched:
            since = w.phase_updated_at
            phase = w.last_phase
            if phase in STUCK_PHASES and since is not None and now - since > self.stuck_after:
                stuck[(w.workload_id, phase, since)].append(w)
        if len(self._told_stuck) > 100_000:
            self._told_stuck.clear()  # only saves event calls; the store remembers
        for (workload_id, phase, since), group in stuck.items():
            key = stuck_key(workload_id, phase, since)
            if key in self._told_stuck:
                continue
            try:
                if await self._tell_stuck(workload_id, phase, since, group, now, stats):
                    stats.stuck += 1
                self._told_stuck.add(key)
            except Exception:
                logger.exception("stuck reply failed", extra={"workload_id": workload_id})

    async def _tell_stuck(
        self,
        workload_id: str,
        phase: str,
        since: datetime,
        group: Sequence[Followed],
        now: datetime,
        stats: EvalStats,
    ) -> bool:
        events: list[obs.Event] = []
        stats.event_calls += 1
        try:
            events = list(
                (await self.runai.workload_events(workload_id, limit=STUCK_EVENTS)).events
            )
        except errors.RunaiError as exc:
            logger.warning("stuck: events unavailable", extra={"error": str(exc)})
        posts = []
        for w in group:
            if w.muted(now):
                continue
            card = self._words.stuck(
                workload_id, w.name or workload_id, phase, now - since, events, now
            )
            posts.append(
                ThreadPost(
                    workload_id=workload_id,
                    channel=w.channel,
                    thread_ts=w.parent_ts,
                    kind="stuck",
                    dedupe_key=f"{stuck_key(workload_id, phase, since)}:{w.channel}",
                    payload={"template": "watch_stuck", "context": {"card": card}},
                )
            )
        return await self.store.claim_stuck(
            workload_id, phase, since, self.lease.holder, at=now, posts=posts
        )


def _count(stats: EvalStats, route: str) -> None:
    stats.calls_by_route[route] = stats.calls_by_route.get(route, 0) + 1
