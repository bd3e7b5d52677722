"""Quieter threads: `watch --only`, mute and flapping decide what a phase change posts
(pure `quiet.decide`), and the store writes it with the change, once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.slack.threads import thread_message
from bot.watch.alert_store import WatchQuiet
from bot.watch.alerts.flapping import Flap
from bot.watch.diff import Observation, Transition, diff
from bot.watch.poller import Poller, _quieted
from bot.watch.quiet import Reply, decide
from bot.watch.store import Store
from bot.watch.watches import Change
from tests.watch.conftest import pg_available, pg_store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NO_FLAP = Flap()


def quiet(
    only: set[str] | None = None,
    muted_until: datetime | None = None,
    flap: Flap = NO_FLAP,
    summary_at: datetime | None = None,
) -> WatchQuiet:
    return WatchQuiet(
        "w1",
        "C1",
        frozenset(only) if only is not None else None,
        muted_until,
        tuple(at for at, _ in flap.changes),
        flap.changes[0][0] if flap.flapping and flap.changes else None,
        summary_at,
        tuple(p for _, p in flap.changes),
    )


def step(old: str, new: str, at: datetime) -> Transition:
    return Transition(old_phase=old, new_phase=new, at=at)


def test_only_and_mute_keep_replies_out_of_the_thread() -> None:
    failed, running = step("Running", "Failed", T0), step("Failed", "Running", T0)
    assert decide(None, running, T0).reply is Reply.POST
    assert decide(quiet({"Failed"}), running, T0).reply is Reply.PARENT
    assert decide(quiet({"Failed"}), failed, T0).reply is Reply.POST
    muted = quiet(muted_until=T0 + timedelta(hours=1))
    assert decide(muted, failed, T0).reply is Reply.PARENT
    assert decide(muted, failed, T0 + timedelta(hours=2)).reply is Reply.POST  # mute ended
    gone = step("Running", "Deleted", T0)
    assert decide(quiet({"Deleting", "Deleted"}), gone, T0).reply is Reply.POST
    assert decide(quiet({"Failed"}), gone, T0).reply is Reply.PARENT


def run(q: WatchQuiet, phases: list[str], start: datetime) -> tuple[WatchQuiet, list[Reply]]:
    replies = []
    previous = "Running"
    for n, phase in enumerate(phases):
        decision = decide(q, step(previous, phase, start + timedelta(seconds=30 * n)), start)
        replies.append(decision.reply)
        q = quiet(q.only_phases, q.muted_until, decision.flap)
        if decision.summary:
            assert decision.summary == "flapping Degraded ↔ Running, 7 changes in 10 min"
        previous = phase
    return q, replies


def test_flapping_one_summary_then_quiet_then_normal_after_ten_minutes() -> None:
    q, replies = run(quiet(), ["Degraded", "Running"] * 5, T0)
    assert replies == [Reply.POST] * 6 + [Reply.SUMMARY] + [Reply.PARENT] * 3
    assert q.flap().flapping
    later = T0 + timedelta(minutes=16)  # the last change was at 4.5 min
    decision = decide(q, step("Running", "Degraded", later), later)
    assert decision.reply is Reply.POST and not decision.flap.flapping


def test_a_muted_or_unfollowed_spell_posts_no_summary() -> None:
    _, replies = run(quiet(muted_until=T0 + timedelta(hours=1)), ["Degraded", "Running"] * 4, T0)
    assert Reply.SUMMARY not in replies and set(replies) == {Reply.PARENT}
    _, replies = run(quiet({"Failed"}), ["Degraded", "Running"] * 4, T0)
    assert Reply.SUMMARY not in replies
    _, replies = run(quiet({"Degraded"}), ["Degraded", "Running"] * 4, T0)
    assert replies.count(Reply.SUMMARY) == 1 and replies.count(Reply.POST) == 3


def test_deletion_ends_a_spell_whose_summary_was_posted() -> None:
    q, _ = run(quiet(), ["Degraded", "Running"] * 4, T0)
    posted = quiet(flap=q.flap(), summary_at=T0 + timedelta(minutes=3))
    gone = step("Running", "Deleted", T0 + timedelta(minutes=5))
    decision = decide(posted, gone, gone.at)
    assert decision.reply is Reply.POST
    assert decision.ended == "flapping Degraded ↔ Running, 8 changes in 10 min"
    # No summary was posted (muted or not followed): nothing to end.
    assert decide(q, gone, gone.at).ended is None


async def _watch(store: Store) -> None:
    obs = Observation("w1", "Running", phase_updated_at=T0, name="llama")
    await store.add_watch(
        obs, channel="C1", parent_ts="1.1", reason="watch", user="U1", workload_created_at=T0
    )


async def _change(store: Store, phase: str, n: int) -> Change:
    [w] = await store.active_watches(["w1"])
    at = T0 + timedelta(seconds=20 * (n + 1))
    update = diff(w.state(), Observation("w1", phase, phase_updated_at=at, name="llama"), at)
    assert update is not None
    return _quieted(Change(w, update, observation=None), at)


async def test_the_store_writes_the_flapping_state_with_each_change(store: Store) -> None:
    await _watch(store)
    for n, phase in enumerate(["Degraded", "Running"] * 5):
        await store.apply([await _change(store, phase, n)])
    items = await store.all_items()
    # The later changes of the spell edit the summary (and the parent): no new reply.
    assert [i.kind for i in items] == ["transition"] * 6 + ["flapping"] + ["flap_edit"] * 3
    summary = items[6]
    card = summary.payload["context"]["card"]
    assert card["summary"] == "flapping Degraded ↔ Running, 7 changes in 10 min"
    assert summary.payload["parent"]["phase"] == "Degraded"
    edits = [i.payload["context"]["card"]["summary"] for i in items[7:]]
    assert edits == [f"flapping Degraded ↔ Running, {n} changes in 10 min" for n in (8, 9, 10)]
    assert {i.payload["spell"] for i in items[6:]} == {summary.payload["spell"]}
    assert items[-1].payload["parent"]["phase"] == "Running"
    q = await store.watch_quiet("w1", "C1")
    assert q is not None and q.flapping_since is not None and len(q.recent_changes) == 10
    assert q.recent_phases[-1] == "Running"
    # A mute is read with the row: the next change posts nothing, and the summary
    # already posted is still kept true (an edit makes no noise).
    await store.mute_watch("w1", "C1")
    await store.apply([await _change(store, "Failed", 20)])
    last = (await store.all_items())[-1]
    assert last.kind == "flap_edit" and "11 changes" in last.payload["context"]["card"]["summary"]
    # After 10 quiet minutes, the next change ends the spell: the summary's last edit says
    # so, and the change itself only edits the parent (muted).
    await store.apply([await _change(store, "Running", 60)])
    *_, ended, parent = await store.all_items()
    assert ended.kind == "flap_edit" and ended.payload["context"]["card"]["ended"] is True
    assert ended.payload["spell"] == summary.payload["spell"]
    assert "Failed" in ended.payload["context"]["card"]["summary"]
    assert parent.kind == "parent"
    # Watching again starts afresh.
    await store.reset_quiet("w1", "C1")
    q = await store.watch_quiet("w1", "C1")
    assert q is not None and q.flapping_since is None and q.recent_changes == ()


async def test_a_summary_outlives_the_outbox_retention_while_its_spell_goes_on(
    store: Store,
) -> None:
    # Later edits find the summary's message through its outbox row: the purge of old
    # delivered rows keeps it until the spell ends.
    await _watch(store)
    for n, phase in enumerate(["Degraded", "Running"] * 4):
        await store.apply([await _change(store, phase, n)])
    await store.mark_delivered([i.id for i in await store.open_items()])
    later = datetime.now(UTC) + timedelta(days=30)
    assert await store.purge_delivered(later) == 7  # six replies and an edit
    assert [i.kind for i in await store.all_items()] == ["flapping"]
    assert await store.end_flapping("w1", "C1")
    assert await store.purge_delivered(later) == 1


async def test_two_pollers_write_one_summary() -> None:
    if not pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (the tests need it)")
    async with pg_store() as first:
        second = Store(first.url, schema=first.schema)
        try:
            await _watch(first)
            for n, phase in enumerate(["Degraded", "Running"] * 3):
                await first.apply([await _change(first, phase, n)])
            # Both read the watch before either writes the seventh change.
            a, b = await _change(first, "Degraded", 6), await _change(second, "Degraded", 6)
            assert a.reply == b.reply == "summary"
            await asyncio.gather(first.apply([a]), second.apply([b]))
            kinds = [i.kind for i in await first.all_items()]
            assert kinds.count("flapping") == 1 and len(kinds) == 7
        finally:
            await second.close()


async def test_a_spell_quiet_for_ten_minutes_ends_once_with_one_reply(store: Store) -> None:
    await _watch(store)
    for n, phase in enumerate(["Degraded", "Running"] * 4):
        await store.apply([await _change(store, phase, n)])
    last = T0 + timedelta(seconds=20 * 8)  # the eighth change
    at = {"now": last + timedelta(minutes=5)}
    poller = Poller(store, None, clock=lambda: at["now"].timestamp())  # type: ignore[arg-type]
    assert await poller._settle_flapping() == 0  # five quiet minutes: still flapping
    at["now"] = last + timedelta(minutes=11)
    assert await poller._settle_flapping() == 1
    assert await poller._settle_flapping() == 0
    items = await store.all_items()
    assert [i.kind for i in items].count("flap_settled") == 1
    settled = items[-1]
    assert settled.kind == "flap_settled" and settled.payload["context"]["phase"] == "Running"
    shown = thread_message(settled.payload["template"], **settled.payload["context"])
    assert shown["text"] == "llama is steady again (Running): phase replies resume"
    q = await store.watch_quiet("w1", "C1")
    assert q is not None and q.flapping_since is None
    # The next change is told as usual.
    change = await _change(store, "Degraded", 60)
    assert change.reply == "post"
