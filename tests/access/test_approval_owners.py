"""Which binding's `approval:` governs a request from an unbound place (the App Home, a
DM, an unbound channel): the channels that own the workload, over a real store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.approvals import ApprovalDesk, OwnersUnknown
from bot.access.asker import Asker
from bot.access.gate import Gate
from bot.policy import Action, Ask, parse_policy
from bot.watch.diff import Observation
from bot.watch.store import Store
from tests.conftest import free_port

POLICY = """
channels:
  C0CREATE:
    projects: [team-a]
    approval: {replicas_over: 8, approvers: [U0LEAD]}
  C0FOLLOW:
    projects: [team-a]
    approval: {replicas_over: 4, approvers: [U0OTHER]}
  C0STRICT:
    projects: [team-a]
    approval: {replicas_over: 1, approvers: [U0OTHER]}
  C0PLAIN: [team-a]
"""


async def _watch(store: Store, workload: str, channel: str, reason: str) -> None:
    await store.add_watch(
        Observation(workload, "Running", name=workload),
        channel=channel,
        parent_ts="1.1",
        reason=reason,
        user="U0001",
        workload_created_at=None,
    )


@pytest.fixture
async def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'owners.db'}")
    await store.create_schema()
    return store


def _desk(store: Store) -> ApprovalDesk:
    gate = Gate(parse_policy(POLICY), None, None)
    return ApprovalDesk(store, AsyncWebClient(token="xoxb-unused"), gate, ttl=timedelta(hours=1))


async def test_the_creating_channel_comes_first_then_the_followers(store: Store) -> None:
    await _watch(store, "w1", "C0FOLLOW", "watch")
    await _watch(store, "w1", "C0CREATE", "create")
    await _watch(store, "w1", "C0GONE", "watch")
    await store.end_watch("w1", "C0GONE", "U0001")
    await store.end_watch("w1", "C0CREATE", "U0001")
    # Created there: still an owner after it stopped following; a channel that stopped
    # following is not.
    assert await store.owning_channels("w1") == ["C0CREATE", "C0FOLLOW"]
    assert await store.owning_channels("nobody-follows") == []
    await store.close()


async def test_the_strictest_owner_decides_and_the_creator_gets_the_request(store: Store) -> None:
    await _watch(store, "w1", "C0CREATE", "create")
    await _watch(store, "w1", "C0FOLLOW", "watch")
    desk = _desk(store)
    home = Asker("U0001", "U0001", Action.SCALE)
    # Over the follower's threshold only: the follower's approvers decide.
    assert await desk.governing(home, "w1", Ask(replicas=6)) == (
        "C0FOLLOW",
        ["6 replicas (over 4)"],
    )
    # Over both: the request goes to the channel that created it.
    assert await desk.governing(home, "w1", Ask(replicas=10)) == (
        "C0CREATE",
        ["10 replicas (over 8)"],
    )
    assert await desk.governing(home, "w1", Ask(replicas=4)) is None
    # A DM (D…) and an unbound channel are unbound places too.
    for place in ("D0001", "C0RANDOM"):
        asker = Asker("U0001", place, Action.SCALE)
        assert await desk.governing(asker, "w1", Ask(replicas=6)) is not None
    # A bound channel keeps its own binding, even a stricter owner's does not apply there.
    await _watch(store, "w1", "C0STRICT", "watch")
    plain = Asker("U0001", "C0PLAIN", Action.SCALE)
    assert await desk.governing(plain, "w1", Ask(replicas=6)) is None
    # A create has no owner yet; performing an approved request passes.
    assert await desk.governing(home, None, Ask(replicas=20)) is None
    approved = Asker("U0001", "U0001", Action.SCALE, approved="r1")
    assert await desk.governing(approved, "w1", Ask(replicas=20)) is None
    await store.close()


async def test_owners_unknown_refuses_rather_than_letting_it_through() -> None:
    down = Store(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test")
    desk = _desk(down)
    with pytest.raises(OwnersUnknown, match="Nothing was changed"):
        await desk.governing(Asker("U0001", "U0001", Action.SCALE), "w1", Ask(replicas=2))
    await down.close()
