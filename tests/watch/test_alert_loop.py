"""The alert loop over a real store (SQLite) and canned Run:ai answers: what it asks, what
it stores and what it queues, on a clock the test turns."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.runai import errors, models
from bot.runai import observability as obs
from bot.slack.alert_cards import WORDS
from bot.watch.alert_loop import AlertLoop
from bot.watch.alert_store import AlertStatus
from bot.watch.diff import Observation
from bot.watch.outbox import OutboxItem
from bot.watch.store import Store

T0 = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
STEP = timedelta(seconds=60)


class Reads:
    """Run:ai's answers: a latency per minute (None: no sample), and the calls made."""

    def __init__(self) -> None:
        self.latency: dict[datetime, float | None] = {}
        self.calls: list[tuple[str, str, tuple[str, ...]]] = []
        self.fail = False

    def _series(self, kind: str, start: datetime, end: datetime) -> models.Measurement:
        values = [
            models.MetricValue(value=str(v) if v is not None else None, timestamp=at)
            for at, v in sorted(self.latency.items())
            if start <= at <= end
        ]
        return models.Measurement(type=kind, values=values)

    async def inference_metrics(
        self,
        workload_id: str,
        start: datetime,
        end: datetime,
        *,
        metric_types: Sequence[models.MetricType | str],
        number_of_samples: int,
    ) -> models.MetricsResponse:
        self.calls.append(("inference", workload_id, tuple(str(t) for t in metric_types)))
        if self.fail:
            raise errors.UnavailableError(message="down")
        return models.MetricsResponse(
            measurements=[self._series(str(t), start, end) for t in metric_types]
        )

    async def workload_metrics(
        self,
        workload_id: str,
        start: datetime,
        end: datetime,
        *,
        metric_types: Sequence[obs.WorkloadMetricType | str],
        number_of_samples: int,
    ) -> obs.MetricsCompositeResponse:
        self.calls.append(("workload", workload_id, tuple(str(t) for t in metric_types)))
        return obs.MetricsCompositeResponse(
            measurements=[self._series(str(t), start, end) for t in metric_types]
        )

    async def workload_events(self, workload_id: str, *, limit: int = 50) -> obs.EventsPage:
        self.calls.append(("events", workload_id, ()))
        return obs.EventsPage(events=[])


class Lease:
    holder = "test"

    def __init__(self) -> None:
        self.leading = True

    def is_leader(self) -> bool:
        return self.leading


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> Any:
    s = Store(f"sqlite:///{tmp_path / 'alerts.db'}")
    await s.create_schema()
    yield s
    await s.close()


async def follow(store: Store, workload: str = "w1", channel: str = "C1") -> None:
    await store.add_watch(
        Observation(workload_id=workload, phase="Running", name="my-qwen"),
        channel=channel, parent_ts="1.1", reason="watch", user="U1", workload_created_at=None,
    )  # fmt: skip


async def add_rule(
    store: Store, metric: str = "latency", op: str = ">", value: float = 500, channel: str = "C1"
) -> str:
    r = await store.add_alert_rule(
        workload_id="w1", workload_name="my-qwen", channel=channel, author="U1",
        metric=metric, op=op, value=value, for_seconds=300, at=T0,
    )  # fmt: skip
    return r.id


async def alert_posts(store: Store) -> list[OutboxItem]:
    return [i for i in await store.all_items() if i.kind == "alert"]


def minutes(clock: Clock, reads: Reads, count: int, latency: float | None) -> None:
    """`count` minutes of samples at `latency`, the clock moving with them."""
    for _ in range(count):
        clock.now += STEP
        reads.latency[clock.now] = latency


async def test_fires_once_after_for_and_resolves_once(store: Store) -> None:
    reads, clock = Reads(), Clock()
    loop = AlertLoop(store, reads, Lease(), words=WORDS, interval=60, clock=clock)
    await follow(store)
    rid = await add_rule(store)
    minutes(clock, reads, 10, 100)
    assert (await loop.evaluate_once()).fired == 0
    minutes(clock, reads, 3, 900)
    assert (await loop.evaluate_once()).fired == 0  # pending
    minutes(clock, reads, 3, 900)
    stats = await loop.evaluate_once()
    assert stats.fired == 1 and stats.metrics_calls == 1
    assert (await loop.evaluate_once()).fired == 0
    [fire] = await alert_posts(store)
    assert fire.broadcast and fire.payload["template"] == "watch_alert_firing"
    card = fire.payload["context"]["card"]
    assert card["alert_id"] == rid and card["value"] == "900 ms"
    assert card["rule"] == "latency above 500 ms for 5 min"
    state = await store.alert_state_of(rid)
    assert state is not None and state.status is AlertStatus.FIRING and state.episode == 1
    minutes(clock, reads, 1, 100)
    assert (await loop.evaluate_once()).resolved == 1
    assert (await loop.evaluate_once()).resolved == 0
    posts = await alert_posts(store)
    assert [p.payload["template"] for p in posts] == ["watch_alert_firing", "watch_alert_resolved"]
    assert not posts[1].broadcast


async def test_one_metrics_call_per_endpoint_the_routes_in_turn(store: Store) -> None:
    reads, clock = Reads(), Clock()
    loop = AlertLoop(store, reads, Lease(), words=WORDS, interval=60, clock=clock)
    await follow(store)
    for metric in ("latency", "throughput", "gpu", "replicas"):
        await add_rule(store, metric=metric, op="<", value=1)
    kinds: list[tuple[str, tuple[str, ...]]] = []
    for _ in range(4):
        minutes(clock, reads, 1, 100)
        reads.calls.clear()
        stats = await loop.evaluate_once()
        assert stats.metrics_calls == 1 and len(reads.calls) == 1
        kinds.append((reads.calls[0][0], reads.calls[0][2]))
    # Each call asks every series of its route; the routes alternate.
    inference = ("inference", ("LATENCY", "THROUGHPUT"))
    workload = ("workload", ("GPU_UTILIZATION", "RUNNING_POD_COUNT"))
    assert kinds == [inference, workload, inference, workload]


async def test_a_new_leader_reads_the_route_of_a_firing_rule_first(store: Store) -> None:
    reads, clock = Reads(), Clock()
    await follow(store)
    await add_rule(store, metric="latency", op="<", value=1)
    gpu = await add_rule(store, metric="gpu", op="<", value=1)
    minutes(clock, reads, 1, 100)
    await store.fire_alert(gpu, 1, value=0.0, since=clock.now, at=clock.now)
    # Nothing read yet (a takeover): the firing rule's route, whose end would be news.
    loop = AlertLoop(store, reads, Lease(), words=WORDS, interval=60, clock=clock)
    await loop.evaluate_once()
    assert [c[0] for c in reads.calls] == ["workload"]


async def test_missing_data_and_an_unavailable_run_ai_change_nothing(store: Store) -> None:
    reads, clock = Reads(), Clock()
    loop = AlertLoop(store, reads, Lease(), words=WORDS, interval=60, clock=clock)
    await follow(store)
    rid = await add_rule(store)
    minutes(clock, reads, 10, None)
    assert (await loop.evaluate_once()).fired == 0
    reads.latency.clear()
    minutes(clock, reads, 10, 900)
    reads.fail = True
    stats = await loop.evaluate_once()
    assert stats.failed_calls == 1 and stats.fired == 0
    state = await store.alert_state_of(rid)
    assert state is not None and state.status is AlertStatus.OK
    assert await alert_posts(store) == []


async def test_muted_or_unfollowed_then_told_once_the_quiet_ends(store: Store) -> None:
    reads, clock = Reads(), Clock()
    loop = AlertLoop(store, reads, Lease(), words=WORDS, interval=60, clock=clock)
    await follow(store)
    await add_rule(store)
    await store.mute_watch("w1", "C1", until=T0 + timedelta(minutes=20))
    minutes(clock, reads, 10, 900)
    assert (await loop.evaluate_once()).fired == 0  # muted
    minutes(clock, reads, 11, 900)
    assert (await loop.evaluate_once()).fired == 1  # the mute ended, the breach holds
    assert len(await alert_posts(store)) == 1
    # A channel that does not follow the workload has no thread: nothing is told there.
    await add_rule(store, channel="C2")
    minutes(clock, reads, 1, 900)
    assert (await loop.evaluate_once()).fired == 0


async def test_a_rule_nobody_follows_asks_nothing(store: Store) -> None:
    reads, clock = Reads(), Clock()
    loop = AlertLoop(store, reads, Lease(), words=WORDS, interval=60, clock=clock)
    await follow(store, channel="C1")
    await add_rule(store, channel="C2")  # C2 does not follow w1 (or stopped)
    minutes(clock, reads, 10, 900)
    stats = await loop.evaluate_once()
    assert (stats.endpoints, stats.metrics_calls, stats.fired) == (0, 0, 0)
    assert reads.calls == []
    await follow(store, channel="C2")  # followed again: evaluated, and told
    assert (await loop.evaluate_once()).fired == 1


async def test_a_snooze_holds_the_fire_back_but_not_the_resolve(store: Store) -> None:
    reads, clock = Reads(), Clock()
    loop = AlertLoop(store, reads, Lease(), words=WORDS, interval=60, clock=clock)
    await follow(store)
    rid = await add_rule(store)
    assert await store.snooze_alert(rid, T0 + timedelta(hours=1), "U2")
    minutes(clock, reads, 10, 900)
    assert (await loop.evaluate_once()).fired == 0
    minutes(clock, reads, 1, 100)
    assert (await loop.evaluate_once()).resolved == 0  # never told, nothing to resolve
    assert await alert_posts(store) == []


async def test_the_loop_evaluates_only_while_leading(store: Store) -> None:
    reads, clock, lease = Reads(), Clock(), Lease()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 2:
            lease.leading = False
        if len(slept) == 4:
            raise asyncio.CancelledError

    loop = AlertLoop(store, reads, lease, words=WORDS, interval=60, clock=clock, sleep=sleep)
    await follow(store)
    await add_rule(store)
    minutes(clock, reads, 2, 100)
    with pytest.raises(asyncio.CancelledError):
        await loop.run()
    assert slept == [60, 60, 60, 60]
    assert len(reads.calls) == 2  # two evaluations while leading, none after


async def test_a_stuck_workload_is_told_once_with_its_events(store: Store) -> None:
    reads, clock = Reads(), Clock()
    loop = AlertLoop(store, reads, Lease(), words=WORDS, interval=60, clock=clock)
    await store.add_watch(
        Observation(
            workload_id="w1", phase="Pending", name="my-qwen", phase_updated_at=T0
        ),
        channel="C1", parent_ts="1.1", reason="watch", user="U1", workload_created_at=None,
    )  # fmt: skip
    clock.now = T0 + timedelta(minutes=15)
    assert (await loop.evaluate_once()).stuck == 0
    clock.now = T0 + timedelta(minutes=16)
    assert (await loop.evaluate_once()).stuck == 1
    assert (await loop.evaluate_once()).stuck == 0
    # Another replica (a fresh loop) finds it told already.
    other = AlertLoop(store, reads, Lease(), words=WORDS, interval=60, clock=clock)
    assert (await other.evaluate_once()).stuck == 0
    stuck = [i for i in await store.all_items() if i.kind == "stuck"]
    assert len(stuck) == 1 and stuck[0].payload["template"] == "watch_stuck"
    assert stuck[0].payload["context"]["card"]["phase"] == "Pending"
    assert [c[0] for c in reads.calls] == ["events", "events"]
