"""The idle check: on the lease holder, every `IDLE_CHECK_INTERVAL_SECONDS`.

Frugal with Run:ai: one paged list call set narrows the cluster to workloads whose GPUs
sit idle (`filterBy=idleAllocatedGpus>=…`); only those a channel follows get one metrics
call each (THROUGHPUT over the idle window). The pure verdict is `care.idle.decide`; the
"once" is the store's: `claim_idle_nudge` queues the nudge (one broadcast reply per
following channel) in the same transaction, `claim_idle_action` the policy's automatic
scale-to-zero. An episode ends when the workload's GPUs are busy again or released, or it
served traffic (`end_idle_episode`); only then can a new one start.

A workload followed in several channels is judged by the longest idle window among their
bindings (`idle.after`, else `IDLE_AFTER`), and scaled to zero automatically when any of
those bindings says `action: scale-to-zero`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import func, select

from bot.config import Settings
from bot.policy import Policy
from bot.policy.model import IdleAction, IdleRule
from bot.runai import errors as runai_errors
from bot.runai import models
from bot.runai.calls import UsageReads
from bot.utc import as_utc, utcnow
from bot.watch.care import idle
from bot.watch.care.usage import Sample, samples_of
from bot.watch.care_store import ActionOutcome, NudgeClaim
from bot.watch.care_store import IdleEpisode as StoredEpisode
from bot.watch.claims import ThreadPost, insert_or_skip
from bot.watch.db.schema import idle_episodes
from bot.watch.runtime import WatchRuntime
from bot.watch.store import Store
from bot.watch.watches import Watch

logger = logging.getLogger(__name__)

IDLE_FILTER = "idleAllocatedGpus>=0.01"
"""The list filter that narrows the cluster to workloads holding idle GPUs (Run:ai counts
fractions of a GPU; a hundredth is below any fraction it hands out)."""

PAGE_SIZE = 500
SAMPLES = 60
"""THROUGHPUT samples over the window: enough that a burst of traffic shows."""
METRICS_CONCURRENCY = 8
"""Metrics calls in flight at once (Run:ai is shared; the list narrowed them already)."""

AUTO_ACTION = str(IdleAction.SCALE_TO_ZERO)
POLICY_USER = "policy"
"""Who the audit trail names for the policy's automatic scale-to-zero."""


@dataclasses.dataclass(frozen=True)
class AutoScaled:
    """A scale to zero made by a binding's `idle:` rule, for the audit trail.

    The watch room says what happened; the audit trail, which stands above this room,
    turns it into its row (`AuditRow`), and the check writes that row in the transaction
    that records the outcome: a leader killed after it leaves both or neither.
    """

    workload_id: str
    workload_name: str | None
    outcome: str
    rule: str | None
    summary: str


AuditRow = Callable[[AutoScaled], Mapping[str, Any]]
"""The `audit_events` row of an automatic scale (`bot.audit.auto_scaled_row`)."""

NUDGE_TEMPLATE = "care_idle_nudge"
NOTE_TEMPLATE = "care_idle_note"


class IdleReader(UsageReads, Protocol):
    """The Run:ai calls the idle check makes (`RunaiClient`): the care reads, and what
    the policy's scale to zero needs."""

    async def get_inference(self, workload_id: str) -> models.Inference:
        """An inference with its spec."""
        ...

    async def update_inference(
        self, workload_id: str, req: models.InferenceUpdateRequest
    ) -> models.Inference:
        """PATCH an inference."""
        ...


def allocated_gpus(workload: models.Workload) -> float:
    """`allocatedResources.gpu` of a list row (0 when absent)."""
    extra = workload.model_extra or {}
    resources = extra.get("allocatedResources") or {}
    value = resources.get("gpu") if isinstance(resources, Mapping) else None
    return float(value) if isinstance(value, int | float) else 0.0


def idle_gpus(workload: models.Workload) -> float:
    """`idleAllocatedGpus` of a list row (0 when absent)."""
    value = (workload.model_extra or {}).get("idleAllocatedGpus")
    return float(value) if isinstance(value, int | float) else 0.0


@dataclasses.dataclass(frozen=True)
class CheckReport:
    """What one idle check did (logs, tests and the benchmark read it)."""

    list_calls: int = 0
    metrics_calls: int = 0
    candidates: int = 0
    nudged: tuple[str, ...] = ()
    ended: tuple[str, ...] = ()
    acted: tuple[str, ...] = ()
    failed: bool = False


def pure_episode(stored: StoredEpisode | None, kept_until: datetime | None) -> idle.IdleEpisode:
    """The stored episode as `idle.decide` reads it (a Keep of an earlier episode counts)."""
    if stored is None:
        return idle.IdleEpisode(kept_until=kept_until)
    return idle.IdleEpisode(
        nudged_at=stored.nudged_at,
        kept_until=max((t for t in (stored.kept_until, kept_until) if t), default=None),
        kept_by=stored.kept_by,
        act_at=stored.auto_action_due_at,
        acted_at=stored.auto_action_done_at,
    )


def note_post(watch: Watch, key: str, emoji: str, text: str) -> ThreadPost:
    """A line in a workload's thread (escaped by the template)."""
    return ThreadPost(
        workload_id=watch.workload_id,
        channel=watch.channel,
        thread_ts=watch.parent_ts,
        kind=NOTE_TEMPLATE,
        dedupe_key=key,
        payload={"template": NOTE_TEMPLATE, "context": {"emoji": emoji, "text": text}},
    )


def settled(stored: StoredEpisode | None, kept_until: datetime | None, now: datetime) -> bool:
    """An episode nudged already, whose Keep (if any) has not run out: nothing to measure.
    Its end shows in the list (its GPUs busy or released), its automatic action is due by
    the clock; a metrics call would change nothing."""
    if stored is None or stored.nudged_at is None:
        return False
    ran_out = kept_until is not None and stored.nudged_at < kept_until <= now
    return not ran_out


class IdleCheck:
    """One idle check at a time over a reader, the store and the policy's bindings."""

    def __init__(
        self,
        store: Store,
        runai: IdleReader,
        *,
        idle_after: timedelta,
        policy: Policy | None = None,
        price: Decimal | None = None,
        currency: str = "USD",
        audit_row: AuditRow | None = None,
        clock: Callable[[], datetime] = utcnow,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.runai = runai
        self.idle_after = idle_after
        self.policy = policy
        self.price = price
        self.currency = currency
        self.audit_row = audit_row
        self.clock = clock
        self.wake = wake

    def rule_of(self, channel: str) -> IdleRule | None:
        """The channel binding's `idle:` rule, if the policy gives one."""
        return self.policy.idle_rule(channel) if self.policy is not None else None

    def judged_by(self, channels: Iterable[str]) -> tuple[timedelta, IdleRule]:
        """The window and rule of a workload followed in `channels`: the longest window;
        the automatic action when any binding asks for it."""
        rules = [self.rule_of(c) for c in channels]
        window = max([idle.window_of(self.idle_after, r) for r in rules] or [self.idle_after])
        auto = any(r is not None and r.action is IdleAction.SCALE_TO_ZERO for r in rules)
        return window, IdleRule(
            after=window, action=IdleAction.SCALE_TO_ZERO if auto else IdleAction.NUDGE
        )

    async def candidates(self) -> tuple[list[models.Workload], int]:
        """Workloads holding idle GPUs (every page), and how many list calls it took."""
        found: list[models.Workload] = []
        offset, calls = 0, 0
        while True:
            page = await self.runai.list_workloads(
                filter_by=[IDLE_FILTER], limit=PAGE_SIZE, offset=offset
            )
            calls += 1
            found.extend(page.workloads)
            if not page.workloads or page.next is None or page.next <= offset:
                return found, calls
            offset = page.next

    async def run(self) -> CheckReport:
        """One check: narrow, measure the followed candidates, nudge, end, act.

        The store is read and written in a handful of statements whatever the number of
        candidates (one per kind of change), not one per candidate.
        """
        now = as_utc(self.clock())
        try:
            rows, list_calls = await self.candidates()
        except runai_errors.RunaiError as exc:
            logger.warning("idle check: list failed", extra={"error": type(exc).__name__})
            return CheckReport(failed=True)
        following: dict[str, list[Watch]] = {}
        for w in await self.store.active_watches([r.id for r in rows]):
            following.setdefault(w.workload_id, []).append(w)
        idle_now = {r.id: r for r in rows if r.id in following and idle_gpus(r) > 0}
        judged = {k: self.judged_by(w.channel for w in following[k]) for k in idle_now}
        open_episodes = {e.workload_id: e for e in await self.store.open_idle_episodes()}
        # The GPUs of a workload with an open episode are no longer idle (busy or
        # released): the episode is over, unless its automatic action is unfinished (the
        # scale to zero itself released them; `act_due` finds out and ends it).
        over = [
            workload_id
            for workload_id, e in open_episodes.items()
            if workload_id not in idle_now and not e.action_unfinished
        ]
        ended = await self.store.end_idle_episodes(over, reason="busy", at=now)
        kept_until = await self.kept_until(list(idle_now))
        todo = [
            workload_id
            for workload_id in idle_now
            if self.due(
                open_episodes.get(workload_id),
                kept_until.get(workload_id),
                judged[workload_id][0],
                now,
            )
        ]
        answers = await self.throughputs(todo, judged, now)
        served_again: list[str] = []
        nudges: list[tuple[idle.IdleObservation, idle.IdleDecision]] = []
        quiet: dict[str, tuple[str, datetime]] = {}
        for workload_id in todo:
            series = answers.get(workload_id)
            if series is None:
                continue  # metrics unavailable: judged at the next check
            row = idle_now[workload_id]
            _window, rule = judged[workload_id]
            obs = idle.IdleObservation(
                workload_id=workload_id,
                name=row.name,
                gpus=allocated_gpus(row) or idle_gpus(row),
                held_since=as_utc(row.created_at) if row.created_at else None,
                throughput=series,
            )
            stored = open_episodes.get(workload_id)
            episode = pure_episode(stored, kept_until.get(workload_id))
            decision = idle.decide(obs, episode, now, self.idle_after, rule)
            if decision.step is idle.Step.END and stored is not None:
                served_again.append(workload_id)
            elif decision.step is idle.Step.NUDGE:
                nudges.append((obs, decision))
            elif decision.activity in (idle.Activity.SERVING, idle.Activity.WARMING):
                # Quiet since its last request (or since it holds GPUs): measured again
                # only once a whole window has passed since then.
                served = [x.at for x in series if x.value is not None and x.value > 0]
                since = max(served) if served else obs.held_since or now
                quiet[workload_id] = (row.name, since)
        ended += await self.store.end_idle_episodes(served_again, reason="traffic", at=now)
        await self.remember_quiet(quiet, open_episodes, now)
        nudged = await self._nudge_all(nudges, open_episodes, judged, following, now)
        metrics_calls = len(todo)
        acted = await self.act_due(now, {k for k in idle_now if k not in ended})
        if nudged or ended or acted:
            self.wake()
        report = CheckReport(
            list_calls=list_calls,
            metrics_calls=metrics_calls,
            candidates=len(idle_now),
            nudged=tuple(nudged),
            ended=tuple(ended),
            acted=tuple(acted),
        )
        logger.info("idle check", extra=dataclasses.asdict(report))
        return report

    def due(
        self,
        stored: StoredEpisode | None,
        kept_until: datetime | None,
        window: timedelta,
        now: datetime,
    ) -> bool:
        """Whether a candidate is worth a metrics call now: not kept, not nudged already,
        and a whole window has passed since it was last seen serving."""
        if kept_until is not None and kept_until > now:
            return False  # nothing to say until the Keep's date
        if settled(stored, kept_until, now):
            return False
        if stored is not None and stored.nudged_at is None:
            return now - stored.idle_since >= window
        return True

    async def remember_quiet(
        self,
        quiet: Mapping[str, tuple[str, datetime]],
        open_episodes: Mapping[str, StoredEpisode],
        now: datetime,
    ) -> None:
        """Open (or move the start of) the episodes of candidates not idle long enough
        yet, all in one transaction."""
        if not quiet:
            return
        new = [
            {
                "workload_id": workload_id,
                "workload_name": name,
                "idle_since": as_utc(since),
                "opened_at": now,
            }
            for workload_id, (name, since) in quiet.items()
            if workload_id not in open_episodes
        ]
        if new:
            async with self.store.engine.begin() as conn:
                # One statement run over all rows (compiled once, not per row count); the
                # unique index of open episodes lets in only a workload that has none
                # (another replica may just have opened it).
                await conn.execute(insert_or_skip(conn, idle_episodes), new)
        await self.store.set_idle_since(
            {
                stored.id: since
                for workload_id, (_name, since) in quiet.items()
                if (stored := open_episodes.get(workload_id)) is not None
                and stored.nudged_at is None
            }
        )

    async def kept_until(self, workload_ids: Sequence[str]) -> dict[str, datetime]:
        """Until when a Keep silences each workload (one query for all candidates)."""
        found: dict[str, datetime] = {}
        async with self.store.engine.connect() as conn:
            for start in range(0, len(workload_ids), 500):
                chunk = list(workload_ids[start : start + 500])
                result = await conn.execute(
                    select(idle_episodes.c.workload_id, func.max(idle_episodes.c.kept_until))
                    .where(
                        idle_episodes.c.workload_id.in_(chunk),
                        idle_episodes.c.kept_until.is_not(None),
                    )
                    .group_by(idle_episodes.c.workload_id)
                )
                found.update((w, as_utc(t)) for w, t in result if t is not None)
        return found

    async def throughputs(
        self,
        workload_ids: Sequence[str],
        judged: Mapping[str, tuple[timedelta, IdleRule]],
        now: datetime,
    ) -> dict[str, list[Sample]]:
        """One THROUGHPUT call per workload over its window, a few at a time; a workload
        whose call failed is left out."""
        gate = asyncio.Semaphore(METRICS_CONCURRENCY)
        found: dict[str, list[Sample]] = {}

        async def one(workload_id: str) -> None:
            window = judged[workload_id][0]
            async with gate:
                try:
                    answer = await self.runai.inference_metrics(
                        workload_id,
                        now - window,
                        now,
                        metric_types=[models.MetricType.THROUGHPUT],
                        number_of_samples=SAMPLES,
                    )
                except runai_errors.RunaiError as exc:
                    logger.info(
                        "idle check: metrics unavailable",
                        extra={"workload_id": workload_id, "error": type(exc).__name__},
                    )
                    return
            series = next(
                (m for m in answer.measurements if m.type == models.MetricType.THROUGHPUT), None
            )
            found[workload_id] = samples_of(series)

        await asyncio.gather(*(one(w) for w in workload_ids))
        return found

    async def _nudge_all(
        self,
        nudges: Sequence[tuple[idle.IdleObservation, idle.IdleDecision]],
        open_episodes: Mapping[str, StoredEpisode],
        judged: Mapping[str, tuple[timedelta, IdleRule]],
        following: Mapping[str, Sequence[Watch]],
        now: datetime,
    ) -> list[str]:
        """Claim every nudge of this check with its broadcast posts, in one transaction
        (and the episodes they need opened in another); the workloads nudged."""
        if not nudges:
            return []
        # A Keep ran out while still idle: that is a new episode.
        expired = [
            obs.workload_id
            for obs, _d in nudges
            if (e := open_episodes.get(obs.workload_id)) is not None and e.nudged_at is not None
        ]
        await self.store.end_idle_episodes(expired, reason="kept-expired", at=now)
        fresh = set(expired) | ({o.workload_id for o, _d in nudges} - open_episodes.keys())
        opened = await self.store.open_idle_episodes_for(
            {
                obs.workload_id: (obs.name, now - judged[obs.workload_id][0])
                for obs, _d in nudges
                if obs.workload_id in fresh
            },
            at=now,
        )
        episodes = {**open_episodes, **opened}
        claims: list[NudgeClaim] = []
        for obs, decision in nudges:
            stored = episodes.get(obs.workload_id)
            if stored is None:
                continue
            window, rule = judged[obs.workload_id]
            words = idle.nudge(obs, window, self.price, self.currency, rule)
            context = {"n": dataclasses.asdict(words)}
            act_at = decision.episode.act_at
            claims.append(
                NudgeClaim(
                    stored.id,
                    AUTO_ACTION if act_at is not None else None,
                    act_at,
                    [
                        ThreadPost(
                            workload_id=w.workload_id,
                            channel=w.channel,
                            thread_ts=w.parent_ts,
                            kind=NUDGE_TEMPLATE,
                            dedupe_key=f"idle:{stored.id}:nudge:{w.channel}",
                            payload={"template": NUDGE_TEMPLATE, "context": context},
                            broadcast=True,
                        )
                        for w in following[obs.workload_id]
                    ],
                )
            )
        won = await self.store.claim_idle_nudges(claims, at=now)
        return [w for w, e in episodes.items() if e.id in won]

    async def act_due(self, now: datetime, still_idle: set[str]) -> list[str]:
        """The policy's automatic scale-to-zero of every due episode, exactly once in
        effect: its intent is recorded (`start_idle_action`) before the PATCH and its
        outcome, with the thread note, after it (`finish_idle_action`). An episode started
        and not finished (its leader died) is finished here: done if the workload is at
        min 0 already, PATCHed if it is still idle and not kept, else cancelled."""
        acted: list[str] = []
        for episode in await self.store.due_idle_actions(now):
            if not episode.action_unfinished:
                if episode.workload_id not in still_idle:
                    continue  # no longer idle before it started: the episode ends
                if not await self.store.start_idle_action(episode.id, at=now):
                    continue
            if await self._scale_to_zero(episode, now, episode.workload_id in still_idle):
                acted.append(episode.workload_id)
        return acted

    async def _scale_to_zero(self, episode: StoredEpisode, now: datetime, idle_now: bool) -> bool:
        """Carry out a started automatic action; True when this call recorded it done."""
        name = episode.workload_name or episode.workload_id
        outcome, detail = ActionOutcome.DONE, None
        try:
            current = await self.runai.get_inference(episode.workload_id)
            auto = current.spec.autoscaling if current.spec else None
            if auto is None or auto.min_replicas != 0:
                # Re-read now: a Keep pressed since the check began stops it.
                kept = await self.store.idle_kept_until(episode.workload_id)
                if not idle_now or (kept is not None and kept > now):
                    outcome = ActionOutcome.CANCELLED
                else:
                    await self.runai.update_inference(
                        episode.workload_id,
                        models.InferenceUpdateRequest(
                            spec=models.InferenceUpdateSpec(autoscaling=idle.scale_to_zero(auto))
                        ),
                    )
        except runai_errors.NotFoundError:
            outcome = ActionOutcome.GONE
        except runai_errors.RunaiError as exc:
            outcome, detail = ActionOutcome.FAILED, type(exc).__name__
        watches = await self.store.active_watches([episode.workload_id])
        if outcome is ActionOutcome.DONE:
            emoji, key = ":robot_face:", "act"
            text = (
                f"Scaled {name} to zero, as this channel's policy says for an idle endpoint "
                "(nobody pressed Keep)."
            )
        elif outcome is ActionOutcome.FAILED:
            emoji, key = ":warning:", "act-failed"
            text = f"Could not scale {name} to zero: Run:ai answered {detail}."
        else:
            emoji, key, text = "", "", ""
        posts = [
            note_post(w, f"idle:{episode.id}:{key}:{w.channel}", emoji, text)
            for w in (watches if key else ())
        ]
        audit = None
        if self.audit_row is not None and outcome in (ActionOutcome.DONE, ActionOutcome.FAILED):
            audit = self.audit_row(
                AutoScaled(
                    workload_id=episode.workload_id,
                    workload_name=episode.workload_name,
                    outcome="ok" if outcome is ActionOutcome.DONE else "failed",
                    rule=detail,
                    summary=f"idle: scale {name} to zero (policy idle.action scale-to-zero)",
                )
            )
        # The outcome, its thread note and its audit line: one transaction.
        if not await self.store.finish_idle_action(
            episode.id, outcome, at=now, posts=posts, audit=audit
        ):
            return False  # another leader recorded it
        return outcome is ActionOutcome.DONE


IDLE_CHECK_JOB = "care-idle-check"
FIRST_CHECK_AFTER = timedelta(seconds=30)
"""The first check waits for the lease to settle after a start."""


def idle_check_for(
    settings: Settings,
    store: Store,
    runai: IdleReader,
    *,
    policy: Policy | None = None,
    audit_row: AuditRow | None = None,
    wake: Callable[[], None] = lambda: None,
    clock: Callable[[], datetime] = utcnow,
) -> IdleCheck:
    """The idle check with the bot's settings (`IDLE_AFTER`, `GPU_HOUR_COST`…)."""
    return IdleCheck(
        store,
        runai,
        idle_after=settings.idle_after,
        policy=policy,
        price=settings.gpu_hour_cost,
        currency=settings.cost_currency,
        audit_row=audit_row,
        clock=clock,
        wake=wake,
    )


def schedule_idle_check(runtime: WatchRuntime, check: IdleCheck, interval: float) -> None:
    """Every `interval` seconds, on the lease holder only, one idle check."""

    async def job() -> None:
        if not runtime.leadership.is_leader():
            return
        try:
            await check.run()
        except Exception:
            logger.exception("idle check failed")

    runtime.scheduler.add_job(
        job,
        "interval",
        seconds=interval,
        id=IDLE_CHECK_JOB,
        next_run_time=utcnow() + min(FIRST_CHECK_AFTER, timedelta(seconds=interval)),
    )
