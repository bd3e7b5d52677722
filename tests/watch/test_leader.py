"""Leader election through the lease row, with a hand-driven clock."""

from __future__ import annotations

import pytest

from bot.watch.leader import Leadership
from bot.watch.store import Store
from tests.watch.faketime import FakeTime


def Clock() -> FakeTime:
    return FakeTime(start=1_000.0)


async def test_one_leader_and_takeover_within_ttl(store: Store) -> None:
    clock = Clock()
    a = Leadership(store, holder="A", ttl=15, renew_every=3, safety=2, clock=clock)
    b = Leadership(store, holder="B", ttl=15, renew_every=3, safety=2, clock=clock)
    changes: list[tuple[str, bool]] = []
    a.on_change(lambda lead: changes.append(("A", lead)))
    b.on_change(lambda lead: changes.append(("B", lead)))
    await a.start()
    await b.start()
    assert await a.tick() and not await b.tick()
    first = a.epoch
    clock.now += 3
    assert await a.tick() and a.epoch == first  # renewal
    # A dies (no more ticks). It stops believing it leads before B may take over.
    clock.now += 13.0
    assert not a.is_leader()
    assert not await b.tick()  # lease row still valid for 2 s
    clock.now += 2.5
    assert await b.tick()
    assert b.epoch is not None and first is not None and b.epoch == first + 1
    assert changes == [("A", True), ("B", True)]
    # A was only paused: its next tick tells it that it lost.
    assert not await a.tick()
    assert changes[-1] == ("A", False)


async def test_release_hands_over_at_once(store: Store) -> None:
    clock = Clock()
    a = Leadership(store, holder="A", clock=clock)
    b = Leadership(store, holder="B", clock=clock)
    await a.start()
    assert await a.tick()
    await a.release()
    assert not a.is_leader()
    assert await b.tick()


def test_renewal_must_fit_in_the_ttl(store: Store) -> None:
    with pytest.raises(ValueError):
        Leadership(store, ttl=5, renew_every=3, safety=1)
