"""The notifier: retry decisions, coalescing, rate limits and the crash window,
against the fake Slack served over HTTP."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.fakeslack import RunningFakeSlack
from bot.slack.threads import thread_message
from bot.watch.claims import CHANNEL_MESSAGE, ThreadPost
from bot.watch.diff import Observation, Transition, WatchUpdate, observed_parent
from bot.watch.notifier import Notifier, classify, group_for, reply_context
from bot.watch.outbox import OutboxItem
from bot.watch.store import Store
from bot.watch.watches import Change
from tests.watch.faketime import FakeTime

LEASE = "watch-leader"

pytest_plugins = ["tests.fakes.fixtures"]


def slack_error(status: int, error: str, headers: dict[str, str] | None = None) -> SlackApiError:
    response = AsyncSlackResponse(
        client=None,  # type: ignore[arg-type]
        http_verb="POST",
        api_url="https://slack.test/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": error},
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError(error, response)


def test_classify() -> None:
    limited = classify(slack_error(429, "ratelimited", {"Retry-After": "7"}), 1)
    assert (limited.retry_after, limited.permanent) == (7.0, False)
    server = classify(slack_error(500, "internal_error"), 3)
    assert not server.permanent and server.retry_after is not None and server.retry_after <= 2.4
    gone = classify(slack_error(200, "channel_not_found"), 1)
    assert gone.permanent and gone.retry_after is None
    timeout = classify(TimeoutError(), 1)
    assert timeout.uncertain and not timeout.permanent
    capped = classify(slack_error(503, "service_unavailable"), 30)
    assert capped.retry_after is not None and capped.retry_after <= 72
    tuned = classify(slack_error(500, "internal_error"), 9, backoff=0.05, max_backoff=1.0)
    assert tuned.retry_after is not None and 0.8 <= tuned.retry_after <= 1.2


def item(
    id: int,
    workload: str,
    kind: str = "transition",
    old: str = "A",
    new: str = "B",
    state: str = "pending",
    **payload: Any,
) -> OutboxItem:
    body: dict[str, Any] = dict(payload)
    if kind == "transition":
        body.setdefault(
            "transition",
            Transition(old_phase=old, new_phase=new, at=datetime.now(UTC)).to_json(),
        )
        body.setdefault("parent", {"name": f"n-{workload}", "phase": new})
    return OutboxItem(
        id=id,
        workload_id=workload,
        channel="C1",
        thread_ts="1.1",
        kind=kind,
        payload=body,
        state=state,
        attempts=0,
        next_attempt_at=0.0,
        claimed_by=None,
        reply_ts=None,
    )


def test_group_for_coalesces_one_workload_in_order() -> None:
    items = [
        item(1, "w1", old="Creating", new="Initializing"),
        item(2, "w2"),
        item(3, "w1", old="Initializing", new="Running"),
        item(4, "w1", kind="record", action="scale", user="U1", summary="x"),
        item(5, "w1", old="Running", new="Updating"),
    ]
    assert [i.id for i in group_for(items)] == [1, 3]
    assert [i.id for i in group_for(items[1:])] == [2]
    # an item that may already be in Slack is never merged with others
    assert [i.id for i in group_for([item(1, "w1", state="sending"), item(3, "w1")])] == [1]
    template, context, broadcast = reply_context(group_for(items))
    assert template == "watch_transition" and not broadcast
    assert context["path"] == ["Creating", "Initializing", "Running"]


def test_reply_context_of_a_failure_broadcasts() -> None:
    failed = item(1, "w1", old="Running", new="Failed")
    assert reply_context([failed])[2] is True


@pytest.fixture
async def served(
    fake_slack: RunningFakeSlack, tmp_path: Path
) -> AsyncIterator[tuple[Store, AsyncWebClient]]:
    store = Store(f"sqlite:///{tmp_path / 'n.db'}")
    await store.create_schema()
    await store.ensure_lease(LEASE)
    yield store, AsyncWebClient(token="xoxb-test", base_url=fake_slack.api_url)
    await store.close()


class Lease:
    def __init__(self, store: Store, holder: str) -> None:
        self.store, self.holder, self.name = store, holder, LEASE

    def is_leader(self) -> bool:
        return True

    async def take(self) -> None:
        await self.store.release_lease(LEASE, "A")
        assert await self.store.acquire_lease(LEASE, self.holder, 60.0, time.time())


async def queue_transitions(store: Store, workloads: int, parent_ts: str) -> None:
    for n in range(workloads):
        o = Observation(workload_id=f"w{n}", phase="Running", name=f"svc-{n}")
        w = await store.add_watch(
            o,
            channel="C0001",
            parent_ts=parent_ts,
            reason="watch",
            user=None,
            workload_created_at=None,
        )
        t = Transition(old_phase="Running", new_phase="Degraded", at=datetime.now(UTC))
        update = WatchUpdate("Degraded", t.at, False, None, None, t)
        assert await store.apply([Change(watch=w, update=update)]) == 1


def notifier(store: Store, slack: AsyncWebClient, lease: Lease, t: FakeTime, **kw: Any) -> Notifier:
    """A notifier on hand-driven time: Retry-After and pacing cost no real time."""
    kw.setdefault("render", thread_message)
    return Notifier(store, slack, lease, clock=t, sleep=t.sleep, **kw)


async def drain(notifier: Notifier, store: Store, t: FakeTime) -> None:
    for _ in range(200):
        if not await store.open_items():
            return
        await t.sleep(await notifier.drain_once())
    raise AssertionError("outbox did not drain")


async def dies_in(
    store: Store,
    slack: AsyncWebClient,
    t: FakeTime,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
) -> None:
    """Leader A drains once and "dies" in `store.<step>`: the crash is logged, and nothing
    after that step is recorded."""
    a = Lease(store, "A")
    await a.take()

    async def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"process died in {step}")

    monkeypatch.setattr(store, step, crash)
    await notifier(store, slack, a, t).drain_once()
    monkeypatch.undo()


async def takes_over(store: Store, slack: AsyncWebClient, t: FakeTime) -> None:
    """Leader B takes the lease and drains the outbox."""
    b = Lease(store, "B")
    await b.take()
    await drain(notifier(store, slack, b, t), store, t)


async def test_crash_after_slack_accepted_is_not_posted_twice(
    served: tuple[Store, AsyncWebClient],
    fake_slack: RunningFakeSlack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, slack = served
    t = FakeTime()
    fake = fake_slack.fake
    parent = await slack.chat_postMessage(channel="C0001", text="parent")
    await queue_transitions(store, 1, parent["ts"])
    await dies_in(store, slack, t, monkeypatch, "set_reply_ts")  # before recording the reply
    assert [i.state for i in await store.all_items()] == ["sending"]
    assert len(fake.thread_replies("C0001", parent["ts"])) == 1

    await takes_over(store, slack, t)
    assert len(fake.thread_replies("C0001", parent["ts"])) == 1
    [done] = await store.all_items()
    assert done.state == "delivered"
    assert done.reply_ts == fake.thread_replies("C0001", parent["ts"])[0].ts


async def test_crash_window_without_thread_history_posts_again(
    served: tuple[Store, AsyncWebClient],
    fake_slack: RunningFakeSlack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The documented residual: when Slack cannot be asked, a duplicate beats a loss."""
    store, slack = served
    t = FakeTime()
    fake = fake_slack.fake
    parent = await slack.chat_postMessage(channel="C0001", text="parent")
    await queue_transitions(store, 1, parent["ts"])
    await dies_in(store, slack, t, monkeypatch, "set_reply_ts")
    fake.fail_next("conversations.replies", error="missing_scope", count=5)
    await takes_over(store, slack, t)
    assert len(fake.thread_replies("C0001", parent["ts"])) == 2


async def test_one_post_per_second_per_channel_and_retry_after(
    served: tuple[Store, AsyncWebClient],
    fake_slack: RunningFakeSlack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, slack = served
    t = FakeTime()
    fake = fake_slack.fake
    parent = await slack.chat_postMessage(channel="C0001", text="parent")
    await queue_transitions(store, 3, parent["ts"])
    fake.fail_next("chat.postMessage", status=429, retry_after=1, count=1)
    post = slack.chat_postMessage
    at: list[float] = []  # when each post left, on the notifier's time

    async def timed_post(**kwargs: Any) -> Any:
        at.append(t.now)
        return await post(**kwargs)

    monkeypatch.setattr(slack, "chat_postMessage", timed_post)
    a = Lease(store, "A")
    await a.take()
    await drain(notifier(store, slack, a, t, channel_interval=0.3), store, t)
    posts = fake.calls_to("chat.postMessage")[1:]  # after the parent
    assert [c.status for c in posts] == [429, 200, 200, 200]
    gaps = [round(later - earlier, 6) for earlier, later in itertools.pairwise(at)]
    assert gaps[0] >= 1.0  # Retry-After honoured
    assert gaps[1] >= 0.3 and gaps[2] >= 0.3
    texts = [m.text for m in fake.thread_replies("C0001", parent["ts"])]
    assert texts == [f"svc-{n}: Running → Degraded" for n in range(3)]
    assert all(m.reply_broadcast for m in fake.thread_replies("C0001", parent["ts"]))


async def test_a_notification_that_cannot_render_does_not_block_the_channel(
    served: tuple[Store, AsyncWebClient], fake_slack: RunningFakeSlack
) -> None:

    store, slack = served
    t = FakeTime()
    parent = await slack.chat_postMessage(channel="C0001", text="parent")
    await store.add_watch(
        Observation(workload_id="w0", phase="Running", name="svc-0"),
        channel="C0001", parent_ts=parent["ts"], reason="watch", user=None,
        workload_created_at=None,
    )  # fmt: skip
    await store.record_action("w0", "scale", "U1", "broken")
    await store.record_action("w0", "scale", "U1", "fine")

    def render(template: str, /, **context: Any) -> dict[str, Any]:
        if context.get("summary") == "broken":
            raise RuntimeError("template bug")
        return thread_message(template, **context)

    a = Lease(store, "A")
    await a.take()
    await drain(notifier(store, slack, a, t, render=render, channel_interval=0.05), store, t)
    assert [i.state for i in await store.all_items()] == ["failed", "delivered"]
    [reply] = fake_slack.fake.thread_replies("C0001", parent["ts"])
    assert "fine" in reply.text


PARENT = observed_parent(Observation(workload_id="w0", phase="Creating", name="svc-0"))


async def test_a_parent_post_waits_out_retry_after_on_the_injected_time(
    served: tuple[Store, AsyncWebClient], fake_slack: RunningFakeSlack
) -> None:
    store, slack = served
    t = FakeTime()
    started = t.now
    fake_slack.fake.fail_next("chat.postMessage", status=429, retry_after=5, count=2)
    ts = await notifier(store, slack, Lease(store, "A"), t).post_parent("C0001", PARENT)
    assert t.slept == [5.0, 5.0] and t.now - started == 10.0
    assert fake_slack.fake.find_message("C0001", ts) is not None
    # past its patience the post gives up (and says why)
    fake_slack.fake.fail_next("chat.postMessage", status=429, retry_after=15, count=1)
    with pytest.raises(SlackApiError, match="ratelimited"):
        await notifier(store, slack, Lease(store, "A"), t).post_parent("C0001", PARENT, patience=10)


async def test_a_thread_post_posted_before_a_crash_is_delivered_not_stuck(
    served: tuple[Store, AsyncWebClient],
    fake_slack: RunningFakeSlack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A leader killed between recording a feature's reply and marking it delivered: the
    next one marks it delivered (it has no parent to edit) instead of failing the channel
    for ever."""
    store, slack = served
    t = FakeTime()
    fake = fake_slack.fake
    parent = await slack.chat_postMessage(channel="C0001", text="parent")
    post = ThreadPost(
        workload_id="w1",
        channel="C0001",
        thread_ts=parent["ts"],
        kind="care_idle_note",
        dedupe_key="note-1",
        payload={"template": "care_idle_note", "context": {"emoji": ":zzz:", "text": "hi"}},
    )
    assert await store.enqueue_thread_post(post)
    await dies_in(store, slack, t, monkeypatch, "mark_delivered")
    assert [i.state for i in await store.all_items()] == ["posted"]

    await takes_over(store, slack, t)
    assert [i.state for i in await store.all_items()] == ["delivered"]
    assert len(fake.thread_replies("C0001", parent["ts"])) == 1


async def test_quiet_changes_edit_only_the_parent_and_a_flap_summary_is_one_reply(
    served: tuple[Store, AsyncWebClient], fake_slack: RunningFakeSlack
) -> None:
    store, slack = served
    t = FakeTime()
    fake = fake_slack.fake
    parent = await slack.chat_postMessage(channel="C0001", text="parent")
    w = await store.add_watch(
        Observation(workload_id="w1", phase="Running", name="svc"),
        channel="C0001",
        parent_ts=parent["ts"],
        reason="watch",
        user=None,
        workload_created_at=None,
    )
    steps = [("Running", "Degraded", "parent"), ("Degraded", "Running", "summary")]
    steps += [("Running", "Failed", "post"), ("Failed", "Running", "parent")]
    for old, new, reply in steps:
        [w] = await store.active_watches(["w1"])
        at = datetime.now(UTC)
        tr = Transition(old_phase=old, new_phase=new, at=at)
        update = WatchUpdate(new, at, False, None, None, tr)
        summary = "flapping Running ↔ Degraded, 7 changes in 10 min"
        change = Change(watch=w, update=update, reply=reply, summary=summary)
        assert await store.apply([change]) == 1
    a = Lease(store, "A")
    await a.take()
    await drain(notifier(store, slack, a, t), store, t)
    texts = [m.text for m in fake.thread_replies("C0001", parent["ts"])]
    assert texts == [f"svc: {summary}", "svc: Running → Failed"]
    failed = fake.thread_replies("C0001", parent["ts"])[1]
    assert failed.reply_broadcast and "inference_why" in str(failed.blocks)
    shown = fake.find_message("C0001", parent["ts"])
    assert shown is not None and "is Running" in shown.text  # the last, quiet, change
    assert {i.state for i in await store.all_items()} == {"delivered"}


async def test_a_channel_post_accepted_before_a_crash_is_found_not_posted_again(
    served: tuple[Store, AsyncWebClient],
    fake_slack: RunningFakeSlack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A post in the channel itself (the daily digest): no thread, so the next leader looks
    for it in the channel's history (its outbox id in the metadata) before posting."""
    store, slack = served
    t = FakeTime()
    fake = fake_slack.fake
    await slack.chat_postMessage(channel="C0001", text="an earlier message")
    post = ThreadPost(
        workload_id="",
        channel="C0001",
        thread_ts=CHANNEL_MESSAGE,
        kind="care_idle_note",
        dedupe_key="digest:C0001:2026-12-02",
        payload={"template": "care_idle_note", "context": {"emoji": ":bar_chart:", "text": "hi"}},
    )
    assert await store.enqueue_thread_post(post)
    await dies_in(store, slack, t, monkeypatch, "set_reply_ts")  # before recording the post
    assert [i.state for i in await store.all_items()] == ["sending"]

    def posts() -> list[str]:
        return [m.ts for m in fake.messages if m.channel == "C0001" and m.text.endswith("hi")]

    [posted] = posts()
    assert next(m for m in fake.messages if m.ts == posted).thread_ts is None  # not a reply

    await takes_over(store, slack, t)
    assert posts() == [posted]
    [done] = await store.all_items()
    assert done.state == "delivered" and done.reply_ts == posted


async def _queue(store: Store, kind: str, payload: dict[str, Any], parent_ts: str) -> None:
    from bot.watch.db.schema import outbox
    from bot.watch.outbox import queued

    async with store.engine.begin() as conn:
        await conn.execute(outbox.insert().values(queued("w1", "C0001", parent_ts, kind, payload)))


def _flap_payload(n: int, spell: str, **extra: Any) -> dict[str, Any]:
    card = {
        "workload_id": "w1",
        "name": "svc",
        "summary": f"flapping Running ↔ Degraded, {n} changes in 10 min",
        "quiet_minutes": 10,
    }
    return {"template": "watch_flapping", "context": {"card": card}, "spell": spell, **extra}


async def test_a_rate_limited_summary_edit_waits_its_retry_after_and_lands_once(
    served: tuple[Store, AsyncWebClient], fake_slack: RunningFakeSlack
) -> None:
    store, slack = served
    t = FakeTime()
    fake = fake_slack.fake
    parent = await slack.chat_postMessage(channel="C0001", text="parent")
    await _queue(store, "flapping", _flap_payload(7, "S1"), parent["ts"])
    a = Lease(store, "A")
    await a.take()
    n = notifier(store, slack, a, t)
    await drain(n, store, t)
    [summary] = fake.thread_replies("C0001", parent["ts"])
    # An edit of another spell's summary (long gone) calls nothing.
    await _queue(store, "flap_edit", _flap_payload(3, "S0"), parent["ts"])
    await drain(n, store, t)
    assert fake.calls_to("chat.update") == []
    # Slack limits the first try of the real edit: it waits what Retry-After says.
    fake.fail_next("chat.update", retry_after=7)
    await _queue(store, "flap_edit", _flap_payload(8, "S1"), parent["ts"])
    before = t.now
    await drain(n, store, t)
    assert t.now - before >= 7
    edits = [c for c in fake.calls_to("chat.update") if c.args.get("ts") == summary.ts]
    assert [c.ok for c in edits] == [False, True]
    assert summary.text == "svc: flapping Running ↔ Degraded, 8 changes in 10 min"
    assert len(fake.thread_replies("C0001", parent["ts"])) == 1
    assert {i.state for i in await store.all_items()} == {"delivered"}
