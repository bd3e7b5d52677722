"""The poller against a stub Run:ai client: calls per poll, cursor, deletion proof."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.runai import RunaiClient, errors, models
from bot.watch.diff import Observation
from bot.watch.poller import Poller
from bot.watch.store import Store
from tests.watch.faketime import FakeTime

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def workload(i: int, phase: str = "Running", after: float = 0) -> models.Workload:
    return models.Workload(
        id=f"w{i}",
        name=f"svc-{i}",
        type="inference",
        phase=phase,
        phase_updated_at=T0 + timedelta(seconds=after),
    )


class StubRunai:
    """Answers like Run:ai from a dict; records every call."""

    def __init__(self, workloads: list[models.Workload]) -> None:
        self.workloads = {w.id: w for w in workloads}
        self.calls: list[tuple[str, Any]] = []
        self.down = False
        self.get_down = False

    async def list_workloads(
        self, *, filter_by: Sequence[str] = (), limit: int = 500, offset: int = 0, **_: Any
    ) -> models.WorkloadPage:
        self.calls.append(("list", (tuple(filter_by), offset)))
        if self.down:
            raise errors.UnavailableError(503, "down")
        items = list(self.workloads.values())
        assert "type==inference" in filter_by
        for entry in filter_by:
            if entry.startswith("phaseUpdatedAt>="):
                since = datetime.fromisoformat(entry.split(">=")[1].replace("Z", "+00:00"))
                items = [w for w in items if w.phase_updated_at and w.phase_updated_at >= since]
        page = items[offset : offset + limit]
        nxt = offset + limit if offset + limit < len(items) else None
        return models.WorkloadPage(workloads=page, next=nxt)

    # The client's own paging loop, over the stub's pages.
    iter_workload_pages = RunaiClient.iter_workload_pages

    async def get_workload(self, workload_id: str) -> models.WorkloadDetailed:
        self.calls.append(("get", workload_id))
        if self.get_down:
            raise errors.UnavailableError(503, "down")
        w = self.workloads.get(workload_id)
        if w is None:
            raise errors.NotFoundError(404, "not found")
        return models.WorkloadDetailed.model_validate(w.model_dump())


def Clock() -> FakeTime:
    return FakeTime(start=T0.timestamp() + 1000)


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    await store.create_schema()
    yield store
    await store.close()


async def watch_all(store: Store, runai: StubRunai) -> None:
    for w in runai.workloads.values():
        await store.add_watch(
            Observation(workload_id=w.id, phase=str(w.phase), phase_updated_at=w.phase_updated_at),
            channel="C1",
            parent_ts="1.1",
            reason="watch",
            user=None,
            workload_created_at=None,
        )


async def test_one_call_per_poll_whatever_the_number_of_watches(sqlite_store: Store) -> None:
    runai = StubRunai([workload(i) for i in range(1200)])
    await watch_all(sqlite_store, runai)
    clock = Clock()
    poller = Poller(sqlite_store, runai, overlap=10, clock=clock)  # type: ignore[arg-type]
    first = await poller.tick()
    assert first is not None and first.kind == "reconcile"
    assert first.api_calls == 3  # 1,200 workloads in pages of 500
    runai.calls.clear()
    for i in range(12):  # 1% change
        runai.workloads[f"w{i}"] = workload(i, "Degraded", after=2000)
    clock.now += 5
    stats = await poller.tick()
    assert stats is not None and stats.kind == "poll"
    assert stats.api_calls == 1 and stats.notifications == 12
    [(kind, (filters, offset))] = runai.calls
    assert (kind, offset) == ("list", 0)
    since = datetime.fromtimestamp(clock.now - 5 - 10, UTC)
    stamp = since.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    assert filters == (f"phaseUpdatedAt>={stamp}Z", "type==inference")
    # Seeing the same change again (overlap) tells nothing new.
    clock.now += 5
    again = await poller.tick()
    assert again is not None and again.notifications == 0


async def test_a_next_that_does_not_move_forward_ends_the_listing(sqlite_store: Store) -> None:
    class Stuck(StubRunai):
        """A control plane whose `next` is stuck at 1."""

        async def list_workloads(self, **kwargs: Any) -> models.WorkloadPage:
            page = await super().list_workloads(**kwargs)
            return models.WorkloadPage(workloads=page.workloads, next=1)

    runai = Stuck([workload(i) for i in range(3)])
    await watch_all(sqlite_store, runai)
    poller = Poller(sqlite_store, runai, overlap=10, clock=Clock())  # type: ignore[arg-type]
    stats = await poller.tick()
    assert stats is not None and stats.api_calls == 2  # offsets 0 and 1, then it stops


async def test_outage_moves_no_cursor_and_catches_up(sqlite_store: Store) -> None:
    runai = StubRunai([workload(1)])
    await watch_all(sqlite_store, runai)
    clock = Clock()
    poller = Poller(sqlite_store, runai, overlap=1, clock=clock)  # type: ignore[arg-type]
    await poller.tick()
    runai.down = True
    runai.workloads["w1"] = workload(1, "Failed", after=1000 + 2)
    for _ in range(5):
        clock.now += 5
        stats = await poller.tick()
        assert stats is not None and stats.notifications == 0
    runai.down = False
    clock.now += 5
    stats = await poller.tick()
    assert stats is not None and stats.notifications == 1


async def test_missing_from_list_is_deleted_only_on_404(sqlite_store: Store) -> None:
    runai = StubRunai([workload(1), workload(2)])
    await watch_all(sqlite_store, runai)
    clock = Clock()
    poller = Poller(sqlite_store, runai, reconcile_interval=60, clock=clock)  # type: ignore[arg-type]
    await poller.tick()
    del runai.workloads["w2"]
    runai.get_down = True
    clock.now += 61
    stats = await poller.tick()
    assert stats is not None and stats.kind == "reconcile" and stats.deleted == 0
    assert await sqlite_store.watched_ids() == {"w1", "w2"}
    runai.get_down = False
    clock.now += 61
    stats = await poller.tick()
    assert stats is not None and stats.deleted == 1
    assert await sqlite_store.watched_ids() == {"w1"}
    [item] = await sqlite_store.all_items()
    assert item.payload["transition"]["new_phase"] == "Deleted"
    assert item.payload["parent"]["ended"] == "deleted"


async def test_deleting_workloads_are_checked_directly(sqlite_store: Store) -> None:
    runai = StubRunai([workload(1), workload(2)])
    await watch_all(sqlite_store, runai)
    clock = Clock()
    poller = Poller(sqlite_store, runai, reconcile_interval=600, clock=clock)  # type: ignore[arg-type]
    await poller.tick()
    runai.workloads["w2"] = workload(2, "Deleting", after=1000 + 1)
    clock.now += 5
    await poller.tick()
    del runai.workloads["w2"]
    runai.calls.clear()
    clock.now += 5
    stats = await poller.tick()
    assert stats is not None and stats.kind == "poll" and stats.deleted == 1
    assert [c[0] for c in runai.calls] == ["list", "get"]


async def test_an_outage_is_retried_at_the_poll_cadence_not_hammered(sqlite_store: Store) -> None:
    runai = StubRunai([workload(1)])
    await watch_all(sqlite_store, runai)
    clock = Clock()
    poller = Poller(sqlite_store, runai, interval=5, reconcile_interval=60, clock=clock)  # type: ignore[arg-type]
    await poller.tick()
    runai.down = True
    clock.now += 61  # a reconcile is due, and fails
    assert (await poller.tick()) is not None
    calls = len(runai.calls)
    for _ in range(10):  # the scheduler ticks often; nothing is asked until the interval passed
        clock.now += 0.4
        assert await poller.tick() is None
    assert len(runai.calls) == calls
    clock.now += 1.5
    assert (await poller.tick()) is not None
    assert len(runai.calls) == calls + 1


async def test_a_change_that_lost_its_race_is_told_on_the_next_poll(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    runai = StubRunai([workload(1)])
    await watch_all(sqlite_store, runai)
    clock = Clock()
    poller = Poller(sqlite_store, runai, overlap=10, clock=clock)  # type: ignore[arg-type]
    await poller.tick()
    runai.workloads["w1"] = workload(1, "Degraded", after=1000 + 2)
    real_apply = sqlite_store.apply

    async def racing_apply(changes: Any, lost: Any = None) -> int:
        # `/inference scale` lands between the diff and its write: the row moved on.
        await sqlite_store.record_action("w1", "scale", "U1", "replicas 1 → 2")
        return await real_apply(changes, lost)

    monkeypatch.setattr(sqlite_store, "apply", racing_apply)
    clock.now += 5
    stats = await poller.tick()
    assert stats is not None and stats.notifications == 0
    monkeypatch.undo()
    clock.now += 5
    stats = await poller.tick()
    assert stats is not None and stats.notifications == 1
    transition = (await sqlite_store.all_items())[-1].payload["transition"]
    assert (transition["new_phase"], transition["actor_user"]) == ("Degraded", "U1")
