"""The schedule loop over a real store (SQLite and PostgreSQL) with a recording actor: who
fires, when it wakes, what a takeover applies, and that each fire is claimed once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from bot.watch.care.schedule_loop import FireResult, ScheduleLoop
from bot.watch.care_store import FireOutcome, Schedule
from bot.watch.diff import Observation
from bot.watch.store import Store
from tests.e2e.care_harness import ManualClock

T0 = datetime(2026, 12, 2, 10, 0, 30, tzinfo=UTC)
MINUTE = datetime(2026, 12, 2, 10, 1, tzinfo=UTC)


@dataclass
class Lead:
    leading: bool = True
    holder: str = "test:1"

    def is_leader(self) -> bool:
        return self.leading


@dataclass
class Recorder:
    fired: list[str] = field(default_factory=list)
    fail: bool = False

    async def fire(self, schedule: Schedule) -> FireResult:
        self.fired.append(schedule.id)
        if self.fail:
            raise RuntimeError("Run:ai down")
        return FireResult(FireOutcome.APPLIED, "Scheduled: scaled to 0\u20131", by=schedule.author)


async def add(store: Store, cron: str = "* * * * *", at: datetime = T0) -> Schedule:
    return await store.add_schedule(
        workload_id="w-1",
        workload_name="my-qwen",
        channel="C0001",
        author="U0001",
        cron=cron,
        tz="UTC",
        min_replicas=0,
        max_replicas=1,
        at=at,
    )


def loop_of(store: Store, clock: ManualClock, lead: Lead, actor: Recorder) -> ScheduleLoop:
    return ScheduleLoop(store, lead, actor, grace=300, clock=clock.now, sleep=clock.sleep)


@pytest.mark.parametrize("store", ["sqlite", "postgresql"], indirect=True)
async def test_it_sleeps_until_the_fire_not_a_fixed_tick(store: Store) -> None:
    clock, actor = ManualClock(T0), Recorder()
    loop = loop_of(store, clock, Lead(), actor)
    await add(store)
    assert await loop.step() == 1.0  # 30 s away: the refresh comes first
    await clock.set(MINUTE - timedelta(seconds=0.4))
    assert 0.4 <= await loop.step() <= 0.41  # wakes for the fire itself
    assert actor.fired == []
    await clock.set(MINUTE + timedelta(milliseconds=5))
    await loop.step()
    await loop.step()
    assert len(actor.fired) == 1


@pytest.mark.parametrize("store", ["sqlite", "postgresql"], indirect=True)
async def test_only_the_leader_fires_and_a_second_leader_never_repeats_a_fire(
    store: Store,
) -> None:
    clock = ManualClock(MINUTE + timedelta(seconds=1))
    await add(store)
    follower, other = Recorder(), Recorder()
    assert await loop_of(store, clock, Lead(leading=False), follower).step() == 1.0
    assert follower.fired == []
    first, second = Recorder(), Recorder()
    await loop_of(store, clock, Lead(holder="a:1"), first).step()
    await loop_of(store, clock, Lead(holder="b:2"), second).step()  # a takeover, same second
    assert len(first.fired) == 1 and second.fired == [] and other.fired == []


@pytest.mark.parametrize("store", ["sqlite", "postgresql"], indirect=True)
async def test_another_replicas_new_schedule_is_seen_at_the_next_refresh(store: Store) -> None:
    clock, actor = ManualClock(T0), Recorder()
    loop = loop_of(store, clock, Lead(), actor)
    task = asyncio.create_task(loop.run())
    try:
        await asyncio.sleep(0.1)  # the loop sleeps on the (manual) refresh: no schedule yet
        s = await add(store)  # written by another replica: no wake() here
        await clock.set(T0 + timedelta(seconds=1))  # the refresh
        await asyncio.sleep(0.2)
        await clock.set(MINUTE + timedelta(milliseconds=5))
        for _ in range(100):
            if actor.fired:
                break
            await asyncio.sleep(0.02)
        assert actor.fired == [s.id]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
async def test_a_failing_fire_is_recorded_and_the_loop_goes_on(store: Store) -> None:
    clock, actor = ManualClock(MINUTE + timedelta(seconds=1)), Recorder(fail=True)
    s = await add(store)
    loop = loop_of(store, clock, Lead(), actor)
    await loop.step()
    (fire,) = await store.schedule_fires_of(s.id)
    assert fire.outcome is FireOutcome.FAILED and fire.detail == "RuntimeError"
    actor.fail = False
    await clock.set(MINUTE + timedelta(minutes=1, seconds=1))
    await loop.step()
    assert [f.outcome for f in await store.schedule_fires_of(s.id)] == [
        FireOutcome.FAILED,
        FireOutcome.APPLIED,
    ]


@pytest.mark.parametrize("store", ["sqlite", "postgresql"], indirect=True)
async def test_claim_fires_wins_each_key_once_even_side_by_side(store: Store) -> None:
    a, b = await add(store), await add(store, "0 * * * *")
    keys = [(a.id, MINUTE), (b.id, MINUTE), (a.id, MINUTE + timedelta(microseconds=7))]
    first, second = await asyncio.gather(
        store.claim_fires(keys, "a:1"), store.claim_fires(keys, "b:2")
    )
    assert first | second == {(a.id, MINUTE), (b.id, MINUTE)}
    assert not first & second
    assert await store.claim_fires(keys, "c:3") == set()


def count_transactions(store: Store) -> list[int]:
    """How many transactions the store commits from now on (one counter, read as [0])."""
    count = [0]

    def committed(_conn: object) -> None:
        count[0] += 1

    event.listen(store.engine.sync_engine, "commit", committed)
    return count


@pytest.mark.parametrize("store", ["sqlite", "postgresql"], indirect=True)
async def test_the_fires_of_one_second_share_their_database_work(store: Store) -> None:
    # Thirty schedules due on the same second: the claim is one transaction and the
    # outcomes are written as they come, several to a transaction; one transaction per
    # fire was what made the last fire late on PostgreSQL under load.
    clock, actor = ManualClock(T0), Recorder()
    loop = loop_of(store, clock, Lead(), actor)
    schedules = []
    for n in range(30):
        s = await store.add_schedule(
            workload_id=f"w-{n}",
            workload_name=f"svc-{n}",
            channel="C0001",
            author="U0001",
            cron="* * * * *",
            tz="UTC",
            min_replicas=0,
            max_replicas=1,
            at=T0,
        )
        await store.add_watch(
            Observation(f"w-{n}", "Running", name=f"svc-{n}"),
            channel="C0001",
            parent_ts=f"{n}.1",
            reason="watch",
            user="U0001",
            workload_created_at=None,
        )
        schedules.append(s)
    await loop.step()  # plans: the next fire is at MINUTE
    await clock.set(MINUTE + timedelta(milliseconds=5))
    commits = count_transactions(store)
    await loop.step()
    assert sorted(actor.fired) == sorted(s.id for s in schedules)
    assert commits[0] <= 5, commits[0]
    for s in schedules:
        [fire] = await store.schedule_fires_of(s.id)
        assert fire.outcome is FireOutcome.APPLIED
    # Each fire's note is queued in its workload's thread, once.
    notes = {(i.workload_id, i.thread_ts) for i in await store.all_items()}
    assert notes == {(f"w-{n}", f"{n}.1") for n in range(30)}
