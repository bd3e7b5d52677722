"""The watch store on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.watch.db import database_url
from bot.watch.diff import Observation, diff
from bot.watch.store import Store
from bot.watch.watches import Change

LEASE = "watch-leader"


def obs(phase: str = "Creating", workload_id: str = "w1", second: int = 0) -> Observation:
    return Observation(
        workload_id=workload_id,
        phase=phase,
        phase_updated_at=datetime(2026, 1, 1, 12, 0, second, tzinfo=UTC),
        name="llama",
        project="team-a",
        image="vllm/vllm-openai:latest",
        replicas="min 1 · max 2",
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgres://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
    ],
)
def test_database_url_upgrades_the_driver(given: str, expected: str) -> None:
    assert database_url(given) == expected


async def test_watches_round_trip(store: Store) -> None:
    w = await store.add_watch(
        obs(), channel="C1", parent_ts="1.1", reason="create", user="U1", workload_created_at=None
    )
    assert w.active and w.pending_user == "U1" and w.pending_action == "create"
    await store.add_watch(
        obs(workload_id="w2"),
        channel="C2",
        parent_ts="2.2",
        reason="watch",
        user="U2",
        workload_created_at=None,
    )
    assert await store.watched_in("C1") == {"w1"}
    assert await store.watched_ids() == {"w1", "w2"}
    assert await store.transitional_ids(["Creating"]) == {"w1", "w2"}
    got = await store.get_watch("w1", "C1")
    assert got is not None and got.phase_updated_at == obs().phase_updated_at
    assert [x.workload_id for x in await store.active_watches(["w2"])] == ["w2"]


async def test_apply_writes_watch_and_outbox_together_once(store: Store) -> None:
    w = await store.add_watch(
        obs(), channel="C1", parent_ts="1.1", reason="create", user="U1", workload_created_at=None
    )
    new = obs("Initializing", second=30)
    update = diff(w.state(), new, datetime.now(UTC))
    assert update is not None
    # Two pollers computed the same change from the same row: only one may write it.
    written = await asyncio.gather(
        store.apply([Change(watch=w, update=update, observation=new)]),
        store.apply([Change(watch=w, update=update, observation=new)]),
        return_exceptions=True,
    )
    assert sorted(x for x in written if isinstance(x, int)) in ([0, 1], [1])
    items = await store.all_items()
    assert len(items) == 1
    item = items[0]
    assert item.kind == "transition" and item.thread_ts == "1.1" and item.state == "pending"
    assert item.payload["transition"]["new_phase"] == "Initializing"
    assert item.payload["parent"]["phase"] == "Initializing"
    after = await store.get_watch("w1", "C1")
    assert after is not None and after.last_phase == "Initializing"
    assert after.version != w.version


async def test_end_watch_and_record(store: Store) -> None:
    await store.add_watch(
        obs(), channel="C1", parent_ts="1.1", reason="watch", user=None, workload_created_at=None
    )
    await store.add_watch(
        obs(), channel="C2", parent_ts="2.2", reason="watch", user=None, workload_created_at=None
    )
    assert await store.record_action("w1", "scale", "U9", "replicas 1 → 3") == 2
    watch = await store.get_watch("w1", "C2")
    assert watch is not None and (watch.pending_action, watch.pending_user) == ("scale", "U9")
    assert await store.end_watch("w1", "C1", "U9")
    assert not await store.end_watch("w1", "C1", "U9")
    assert await store.watched_in("C1") == set()
    kinds = [(i.kind, i.channel) for i in await store.all_items()]
    assert kinds == [("record", "C1"), ("record", "C2"), ("unwatch", "C1")]


async def test_outbox_lifecycle_is_fenced_by_the_lease(store: Store) -> None:
    await store.ensure_lease(LEASE)
    await store.add_watch(
        obs(), channel="C1", parent_ts="1.1", reason="watch", user=None, workload_created_at=None
    )
    await store.record_action("w1", "update", "U1", "image changed")
    [item] = await store.open_items()
    now = 1_000.0
    assert not await store.claim([item.id], "A", LEASE, now, 5.0)  # nobody holds the lease
    assert await store.acquire_lease(LEASE, "A", 10.0, now) == 1
    assert not await store.claim([item.id], "A", LEASE, now, 11.0)  # not enough lease left
    assert not await store.claim([item.id], "B", LEASE, now, 5.0)  # not the holder
    assert await store.claim([item.id], "A", LEASE, now, 5.0)
    [claimed] = await store.open_items()
    assert (claimed.state, claimed.claimed_by, claimed.attempts) == ("sending", "A", 1)
    await store.retry_later([item.id], now + 3, "timeout", posted=False, keep_sending=True)
    assert (await store.open_items())[0].state == "sending"
    await store.set_reply_ts([item.id], "9.9")
    assert (await store.open_items())[0].reply_ts == "9.9"
    await store.mark_delivered([item.id])
    assert await store.open_items() == []


async def test_lease_takeover_only_after_expiry(store: Store) -> None:
    await store.ensure_lease(LEASE)
    await store.ensure_lease(LEASE)  # idempotent
    assert await store.acquire_lease(LEASE, "A", 10.0, 100.0) == 1
    assert await store.acquire_lease(LEASE, "B", 10.0, 105.0) is None
    assert await store.acquire_lease(LEASE, "A", 10.0, 108.0) == 1  # renewal keeps the epoch
    assert await store.acquire_lease(LEASE, "B", 10.0, 117.0) is None
    assert await store.acquire_lease(LEASE, "B", 10.0, 118.5) == 2  # expired at 118
    assert await store.lease(LEASE) == ("B", 128.5, 2)
    await store.release_lease(LEASE, "A")  # not the holder: no effect
    assert await store.acquire_lease(LEASE, "A", 10.0, 120.0) is None
    await store.release_lease(LEASE, "B")
    assert await store.acquire_lease(LEASE, "A", 10.0, 120.0) == 3


async def test_lease_contention_has_one_winner(store: Store) -> None:
    await store.ensure_lease(LEASE)
    results = await asyncio.gather(
        *(store.acquire_lease(LEASE, f"H{i}", 10.0, 50.0) for i in range(8)),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, int)]
    assert winners == [1]


async def test_purge_forgets_only_old_finished_items(store: Store) -> None:
    await store.add_watch(
        obs(), channel="C1", parent_ts="1.1", reason="watch", user=None, workload_created_at=None
    )
    await store.record_action("w1", "scale", "U1", "a")
    await store.record_action("w1", "scale", "U1", "b")
    first, second = await store.open_items()
    await store.mark_delivered([first.id])
    assert await store.purge_delivered(datetime.now(UTC) - timedelta(days=1)) == 0
    assert await store.purge_delivered(datetime.now(UTC) + timedelta(seconds=1)) == 1
    assert [i.id for i in await store.all_items()] == [second.id]
