"""Idempotent thread posts and every claim-once under a race.

A thread post is queued once per dedupe key, and the notifier posts it in the thread
(broadcast to the channel when asked) through the injected renderer. Then each "exactly
once" of the care, alerts and approvals tables is raced by several stores, each with its
own engine (as replicas are), on the real PostgreSQL: exactly one wins, every time.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.fakeslack import RunningFakeSlack
from bot.watch.approval_store import ApprovalState
from bot.watch.care_store import ActionOutcome, FireOutcome
from bot.watch.claims import ThreadPost, short_id
from bot.watch.diff import Observation
from bot.watch.notifier import Notifier
from bot.watch.store import Store
from tests.watch.conftest import PG_URL, pg_available, pg_store
from tests.watch.faketime import FakeTime

pytest_plugins = ["tests.fakes.fixtures"]

T0 = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
LEASE = "watch-leader"


class Lease:
    """The notifier's view of a lease this process holds."""

    def __init__(self, store: Store, holder: str) -> None:
        self.store, self.holder, self.name = store, holder, LEASE

    def is_leader(self) -> bool:
        return True

    async def take(self) -> None:
        assert await self.store.acquire_lease(LEASE, self.holder, 60.0, time.time())


def test_short_ids_are_short_and_unambiguous() -> None:
    ids = {short_id("s") for _ in range(200)}
    assert len(ids) > 190
    assert all(len(i) == 6 and i[0] == "s" and not set(i[1:]) & set("01ilo") for i in ids)


async def test_a_thread_post_is_queued_once_per_key(store: Store) -> None:
    nudge = ThreadPost("w1", "C1", "1.1", "idle_nudge", "idle:1:C1", {"template": "t"}, True)
    assert await store.enqueue_thread_post(nudge)
    assert not await store.enqueue_thread_post(nudge)
    other = ThreadPost("w1", "C2", "2.2", "idle_nudge", "idle:1:C2", {"template": "t"})
    assert await store.enqueue_thread_posts([nudge, other, other]) == 1
    items = await store.all_items()
    assert [(i.channel, i.dedupe_key, i.broadcast) for i in items] == [
        ("C1", "idle:1:C1", True),
        ("C2", "idle:1:C2", False),
    ]
    # Transitions carry no key: any number of them may be queued.
    await store.add_watch(
        Observation(workload_id="w1", phase="Running", name="my-qwen"),
        channel="C1", parent_ts="1.1", reason="watch", user=None, workload_created_at=None,
    )  # fmt: skip
    assert await store.record_action("w1", "scale", "U1", "1-2") == 1
    assert await store.record_action("w1", "scale", "U1", "2-3") == 1
    assert len(await store.all_items()) == 4


async def test_the_notifier_posts_a_keyed_post_once_broadcast_to_the_channel(
    fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'n.db'}")
    await store.create_schema()
    try:
        await store.ensure_lease(LEASE)
        slack = AsyncWebClient(token="xoxb-test", base_url=fake_slack.api_url)
        parent = await slack.chat_postMessage(channel="C0001", text="my-qwen")
        rendered: list[tuple[str, dict[str, Any]]] = []

        def render(template: str, /, **context: Any) -> dict[str, Any]:
            rendered.append((template, context))
            return {"text": f"{context['name']} served no requests in 24 h"}

        for key, broadcast in (("idle:1:C0001", True), ("idle:1:C0001", True), ("k2", False)):
            await store.enqueue_thread_post(
                ThreadPost(
                    "w1", "C0001", parent["ts"], "idle_nudge", key,
                    {"template": "idle_nudge", "context": {"name": "my-qwen"}}, broadcast,
                )
            )  # fmt: skip
        t = FakeTime()
        lease = Lease(store, "A")
        await lease.take()
        notifier = Notifier(store, slack, lease, clock=t, sleep=t.sleep, render=render)
        for _ in range(50):
            if not await store.open_items():
                break
            await t.sleep(await notifier.drain_once())
        replies = fake_slack.fake.thread_replies("C0001", parent["ts"])
        assert [(r.text, r.reply_broadcast) for r in replies] == [
            ("my-qwen served no requests in 24 h", True),
            ("my-qwen served no requests in 24 h", False),
        ]
        assert rendered == [("idle_nudge", {"name": "my-qwen"})] * 2
    finally:
        await store.close()


# --- races on PostgreSQL --------------------------------------------------------------------

REPLICAS = 4
ROUNDS = 5


@pytest.fixture
async def replicas() -> AsyncIterator[list[Store]]:
    """Several stores, each with its own engine and pool, on one fresh PostgreSQL schema."""
    if not pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (the tests need it)")
    async with pg_store() as first:
        others = [Store(PG_URL, schema=first.schema) for _ in range(REPLICAS - 1)]
        stores = [first, *others]
        # Open a connection in each pool first so that the race is not won by warm-up.
        await asyncio.gather(*(s.ping() for s in stores))
        try:
            yield stores
        finally:
            for s in others:
                await s.close()


async def race(stores: list[Store], claim: Callable[[Store, int], Awaitable[bool]]) -> list[bool]:
    """Every store tries the claim at once; what each got."""
    start = asyncio.Event()

    async def one(n: int, s: Store) -> bool:
        await start.wait()
        return await claim(s, n)

    tasks = [asyncio.create_task(one(n, s)) for n, s in enumerate(stores)]
    await asyncio.sleep(0)
    start.set()
    return list(await asyncio.gather(*tasks))


def once(results: list[bool]) -> bool:
    return sorted(results) == [False] * (len(results) - 1) + [True]


def post(key: str) -> list[ThreadPost]:
    return [ThreadPost("w1", "C1", "1.1", "race", key, {"template": "x"})]


async def assert_one_post_per_key(store: Store) -> None:
    keys = [i.dedupe_key for i in await store.all_items()]
    assert len(keys) == len(set(keys))


async def test_race_schedule_fire_and_its_outcome(replicas: list[Store]) -> None:
    first = replicas[0]
    sid = (
        await first.add_schedule(
            workload_id="w1", workload_name="q", channel="C1", author="U1", cron="* * * * *",
            tz="UTC", min_replicas=0, max_replicas=None,
        )
    ).id  # fmt: skip
    for n in range(ROUNDS):
        at = T0 + timedelta(minutes=n)
        assert once(await race(replicas, lambda s, i, at=at: s.claim_fire(sid, at, f"h:{i}")))
        outcome = await race(
            replicas,
            lambda s, i, at=at: s.finish_fire(
                sid, at, FireOutcome.APPLIED, posts=post(f"f{at}:{i}")
            ),
        )
        assert once(outcome)
    assert len(await first.schedule_fires_of(sid)) == ROUNDS
    assert len(await first.all_items()) == ROUNDS


async def test_race_schedule_end(replicas: list[Store]) -> None:
    first = replicas[0]
    for _ in range(ROUNDS):
        sid = (
            await first.add_schedule(
                workload_id="w1", workload_name="q", channel="C1", author="U1",
                cron="* * * * *", tz="UTC", min_replicas=0, max_replicas=None,
            )
        ).id  # fmt: skip
        assert once(
            await race(replicas, lambda s, i, sid=sid: s.end_schedule(sid, "workload-deleted"))
        )


async def test_race_idle_episode_open_nudge_action_and_end(replicas: list[Store]) -> None:
    first = replicas[0]
    for n in range(ROUNDS):
        workload = f"w{n}"
        opened = await asyncio.gather(
            *(
                s.open_idle_episode(workload, T0 + timedelta(seconds=i))
                for i, s in enumerate(replicas)
            )
        )
        assert len({e.id for e in opened}) == 1
        eid = opened[0].id
        due = T0 + timedelta(hours=1)
        assert once(
            await race(
                replicas,
                lambda s, i, eid=eid, due=due: s.claim_idle_nudge(
                    eid, at=T0, auto_action="scale-to-zero", auto_action_due_at=due,
                    posts=post(f"nudge:{eid}"),
                ),
            )
        )  # fmt: skip
        # Every replica may record the intent (the PATCH is idempotent); one records
        # the outcome, with its note.
        assert all(
            await race(replicas, lambda s, i, eid=eid, due=due: s.start_idle_action(eid, at=due))
        )
        assert once(
            await race(
                replicas,
                lambda s, i, eid=eid, due=due: s.finish_idle_action(
                    eid, ActionOutcome.DONE, at=due, posts=post(f"auto:{eid}")
                ),
            )
        )
        ended = await asyncio.gather(*(s.end_idle_episode(workload) for s in replicas))
        assert sum(e is not None for e in ended) == 1
    assert len(await first.all_items()) == 2 * ROUNDS
    await assert_one_post_per_key(first)


async def test_race_digest_post(replicas: list[Store]) -> None:
    for n in range(ROUNDS):
        day = date(2026, 12, 1) + timedelta(days=n)
        assert once(
            await race(
                replicas,
                lambda s, i, day=day: s.claim_digest_post(
                    "C1", day, f"h:{i}", posts=post(f"digest:C1:{day}")
                ),
            )
        )
        assert all(await asyncio.gather(*(s.digest_claimed("C1", day) for s in replicas)))
    assert len(await replicas[0].all_items()) == ROUNDS
    await assert_one_post_per_key(replicas[0])


async def test_race_alert_fire_and_resolve(replicas: list[Store]) -> None:
    first = replicas[0]
    rid = (
        await first.add_alert_rule(
            workload_id="w1", workload_name="q", channel="C1", author="U1", metric="latency",
            op=">", value=500, for_seconds=60,
        )
    ).id  # fmt: skip
    for episode in range(1, ROUNDS + 1):
        fired = await race(
            replicas,
            lambda s, i, e=episode: s.fire_alert(
                rid, e, value=900.0, since=T0, posts=post(f"fire:{e}")
            ),
        )
        assert once(fired)
        resolved = await race(
            replicas,
            lambda s, i, e=episode: s.resolve_alert(rid, e, posts=post(f"ok:{e}")),
        )
        assert once(resolved)
    state = await first.alert_state_of(rid)
    assert state is not None and state.episode == ROUNDS
    assert len(await first.all_items()) == 2 * ROUNDS


async def test_race_stuck_and_flap_summary(replicas: list[Store]) -> None:
    first = replicas[0]
    await first.add_watch(
        Observation(workload_id="w1", phase="Running", name="q"),
        channel="C1", parent_ts="1.1", reason="watch", user=None, workload_created_at=None,
    )  # fmt: skip
    for n in range(ROUNDS):
        since = T0 + timedelta(minutes=n)
        assert once(
            await race(
                replicas,
                lambda s, i, since=since: s.claim_stuck(
                    "w1", "Pending", since, f"h:{i}", posts=post(f"stuck:{since}")
                ),
            )
        )
        assert once(
            await race(
                replicas,
                lambda s, i, since=since: s.claim_flap_summary(
                    "w1", "C1", since=since, posts=post(f"flap:{since}")
                ),
            )
        )
        assert once(await race(replicas, lambda s, i: s.end_flapping("w1", "C1")))
    assert len(await first.all_items()) == 2 * ROUNDS


async def test_race_approval_decisions(replicas: list[Store]) -> None:
    first = replicas[0]
    for _ in range(ROUNDS):
        rid = (
            await first.create_approval(
                channel="C1", requester="U1", action="scale", workload_id="w1",
                workload_name="q", project=None, request={"minReplicas": 8}, summary="8 > 4",
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
        ).id  # fmt: skip
        # Two approvers press Approve twice each while another presses Deny.
        decisions = await race(
            replicas,
            lambda s, i, rid=rid: s.decide_approval(
                rid,
                ApprovalState.DENIED if i == 0 else ApprovalState.APPROVED,
                f"U{i + 2}",
            ),
        )
        assert once(decisions)
        got = await first.get_approval(rid)
        assert got is not None and got.state != ApprovalState.PENDING
        assert got.decided_by == f"U{decisions.index(True) + 2}"
        if got.state == ApprovalState.APPROVED:
            assert once(await race(replicas, lambda s, i, rid=rid: s.finish_approval(rid, "ok")))


async def test_race_home_publish_and_thread_posts(replicas: list[Store]) -> None:
    first = replicas[0]
    await first.home_opened("U1", at=T0)
    for n in range(ROUNDS):
        at = T0 + timedelta(seconds=10 * n)
        assert once(await race(replicas, lambda s, i, at=at: s.claim_home_publish("U1", at=at)))
        key = f"k{n}-{uuid.uuid4().hex[:6]}"
        assert once(await race(replicas, lambda s, i, key=key: s.enqueue_thread_post(post(key)[0])))
    await assert_one_post_per_key(first)
