"""The care tables through the store, on SQLite and PostgreSQL: schedules and their fires,
idle episodes (one nudge, one automatic action, Keep), daily digests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import IntegrityError

from bot.audit import AuditLog, auto_scaled_row
from bot.watch.care.idle_check import AutoScaled
from bot.watch.care_store import ActionOutcome, FireOutcome, FireRecord, NudgeClaim
from bot.watch.claims import ID_ALPHABET, ThreadPost
from bot.watch.diff import Observation
from bot.watch.store import Store

T0 = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


def post(key: str, kind: str = "schedule", broadcast: bool = False) -> ThreadPost:
    return ThreadPost(
        "w1", "C1", "1.1", kind, key, {"template": kind, "context": {}}, broadcast=broadcast
    )


async def add(store: Store, channel: str = "C1", workload: str = "w1", **kw: object) -> str:
    values: dict[str, object] = {
        "workload_id": workload,
        "workload_name": "my-qwen",
        "channel": channel,
        "author": "U1",
        "cron": "0 19 * * 1-5",
        "tz": "Europe/Berlin",
        "min_replicas": 0,
        "max_replicas": None,
        "at": T0,
        **kw,
    }
    return (await store.add_schedule(**values)).id  # type: ignore[arg-type]


async def test_schedules_are_stored_listed_and_ended_once(store: Store) -> None:
    s = await store.add_schedule(
        workload_id="w1", workload_name="my-qwen", channel="C1", author="U1",
        cron="0 19 * * 1-5", tz="Europe/Berlin", min_replicas=0, max_replicas=2, at=T0,
    )  # fmt: skip
    assert s.id[0] == "s" and len(s.id) == 6 and set(s.id[1:]) <= set(ID_ALPHABET)
    assert (s.cron, s.tz, s.min_replicas, s.max_replicas, s.created_at) == (
        "0 19 * * 1-5", "Europe/Berlin", 0, 2, T0,
    )  # fmt: skip
    other = await add(store, channel="C2", workload="w2", at=T0 + timedelta(minutes=1))
    assert [x.id for x in await store.list_schedules()] == [s.id, other]
    assert [x.id for x in await store.list_schedules(channel="C2")] == [other]
    assert [x.id for x in await store.list_schedules(workload_id="w1")] == [s.id]
    assert [x.id for x in await store.list_schedules(author="U1")] == [s.id, other]
    assert await store.list_schedules(author="U9") == []
    assert await store.get_schedule("nope") is None

    assert await store.end_schedule(s.id, "removed", by="U2", posts=[post("end:" + s.id)])
    assert not await store.end_schedule(s.id, "workload-deleted", posts=[post("x")])
    ended = await store.get_schedule(s.id)
    assert ended is not None and not ended.active
    assert (ended.ended_reason, ended.ended_by) == ("removed", "U2")
    assert [x.id for x in await store.list_schedules()] == [other]
    assert [x.id for x in await store.list_schedules(include_ended=True)] == [s.id, other]
    # Only the call that ended it queued its thread post.
    assert [i.dedupe_key for i in await store.all_items()] == ["end:" + s.id]


async def test_a_fire_is_claimed_once_per_schedule_and_time(store: Store) -> None:
    sid = await add(store)
    at = datetime(2026, 12, 1, 19, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert await store.claim_fire(sid, at, "h:1")
    # The same instant written in UTC, or with a stray microsecond, is the same fire.
    assert not await store.claim_fire(sid, at.astimezone(UTC), "h:2")
    assert not await store.claim_fire(sid, at + timedelta(microseconds=7), "h:2")
    assert await store.claim_fire(sid, at + timedelta(days=1), "h:2")
    assert await store.finish_fire(sid, at, FireOutcome.APPLIED, posts=[post("fire:1")])
    assert not await store.finish_fire(sid, at, FireOutcome.FAILED, posts=[post("fire:2")])
    assert await store.finish_fire(
        sid, at + timedelta(days=1), FireOutcome.SKIPPED_MISFIRE, detail="7 min late"
    )
    fires = await store.schedule_fires_of(sid)
    assert [(f.fire_at, f.claimed_by, f.outcome) for f in fires] == [
        (at.astimezone(UTC), "h:1", FireOutcome.APPLIED),
        (at.astimezone(UTC) + timedelta(days=1), "h:2", FireOutcome.SKIPPED_MISFIRE),
    ]
    assert fires[1].detail == "7 min late" and fires[1].finished_at is not None
    assert await store.last_fires() == {sid: at.astimezone(UTC) + timedelta(days=1)}
    assert await store.last_fires(["other"]) == {}
    assert [i.dedupe_key for i in await store.all_items()] == ["fire:1"]


async def test_the_fires_of_a_second_are_recorded_together_once(store: Store) -> None:
    s1, s2, s3 = await add(store), await add(store, workload="w2"), await add(store, "C2")
    at = T0 + timedelta(hours=1)
    assert await store.claim_fires([(s1, at), (s2, at), (s3, at), (s1, at)], "h:1") == {
        (s1, at),
        (s2, at),
        (s3, at),
    }
    assert await store.claim_fires([(s1, at), (s2, at + timedelta(minutes=1))], "h:2") == {
        (s2, at + timedelta(minutes=1))
    }
    records = [
        FireRecord(s1, at, FireOutcome.APPLIED, posts=[post("f:1")]),
        FireRecord(s2, at, FireOutcome.ENDED, posts=[post("f:2")], end_reason="workload-deleted"),
        FireRecord(
            s3, at + timedelta(days=1), FireOutcome.APPLIED, posts=[post("f:3")]
        ),  # unclaimed
    ]
    assert await store.finish_fires(records) == {(s1, at), (s2, at)}
    assert await store.finish_fires(records) == set()
    assert sorted(i.dedupe_key or "" for i in await store.all_items()) == ["f:1", "f:2"]
    ended = await store.get_schedule(s2)
    assert ended is not None and ended.ended_reason == "workload-deleted"
    [fire] = await store.schedule_fires_of(s3)
    assert fire.outcome is None


async def test_a_schedule_thread_is_its_workloads_in_its_channel(store: Store) -> None:
    here, elsewhere = await add(store, "C1"), await add(store, "C2")
    await store.add_watch(
        Observation("w1", "Running", name="my-qwen"),
        channel="C1",
        parent_ts="9.9",
        reason="watch",
        user="U1",
        workload_created_at=None,
    )
    assert await store.schedule_threads([here, elsewhere, "s-none"]) == {here: "9.9"}


async def test_idle_episode_nudges_once_and_a_new_one_starts_after_traffic(store: Store) -> None:
    first = await store.open_idle_episode("w1", T0, workload_name="my-qwen", at=T0)
    again = await store.open_idle_episode("w1", T0 + timedelta(hours=1))
    assert again.id == first.id and again.idle_since == T0  # one open episode per workload
    assert [e.id for e in await store.open_idle_episodes()] == [first.id]

    nudge = post(f"idle:{first.id}:C1", "idle_nudge", broadcast=True)
    assert await store.claim_idle_nudge(first.id, at=T0 + timedelta(days=1), posts=[nudge])
    assert not await store.claim_idle_nudge(first.id, at=T0 + timedelta(days=2), posts=[nudge])
    episode = await store.idle_episode("w1")
    assert episode is not None and episode.nudged_at == T0 + timedelta(days=1)

    ended = await store.end_idle_episode("w1", at=T0 + timedelta(days=3))
    assert ended is not None and ended.ended_at == T0 + timedelta(days=3)
    assert ended.ended_reason == "traffic"
    assert await store.end_idle_episode("w1") is None
    assert await store.idle_episode("w1") is None
    second = await store.open_idle_episode("w1", T0 + timedelta(days=4))
    assert second.id != first.id and second.nudged_at is None
    assert await store.claim_idle_nudge(second.id, at=T0 + timedelta(days=5))
    got = await store.get_idle_episode(first.id)
    assert got is not None and got.ended_at is not None
    [item] = await store.all_items()
    assert (item.kind, item.broadcast, item.dedupe_key) == ("idle_nudge", True, nudge.dedupe_key)


async def test_keep_silences_the_workload_across_episodes_until_its_time(store: Store) -> None:
    assert not await store.keep_idle("w1", T0, "U1")  # never idle
    e1 = await store.open_idle_episode("w1", T0)
    assert await store.claim_idle_nudge(e1.id, at=T0)
    assert await store.keep_idle("w1", T0 + timedelta(days=7), "U2")
    assert await store.idle_kept_until("w1") == T0 + timedelta(days=7)
    await store.end_idle_episode("w1", at=T0 + timedelta(days=1))
    e2 = await store.open_idle_episode("w1", T0 + timedelta(days=2))
    assert not await store.claim_idle_nudge(e2.id, at=T0 + timedelta(days=3))
    assert await store.claim_idle_nudge(e2.id, at=T0 + timedelta(days=7, seconds=1))
    assert await store.idle_kept_until("w2") is None


async def test_the_automatic_action_runs_once_when_due_unless_kept(store: Store) -> None:
    due = T0 + timedelta(hours=1)
    e1 = await store.open_idle_episode("w1", T0)
    e2 = await store.open_idle_episode("w2", T0)
    for e in (e1, e2):
        assert await store.claim_idle_nudge(
            e.id, at=T0, auto_action="scale-to-zero", auto_action_due_at=due
        )
    assert await store.due_idle_actions(T0) == []
    assert not await store.start_idle_action(e1.id, at=T0)  # not due yet
    assert not await store.finish_idle_action(e1.id, ActionOutcome.DONE, at=T0)  # not started
    assert await store.keep_idle("w2", T0 + timedelta(days=7), "U3")
    assert [e.id for e in await store.due_idle_actions(due)] == [e1.id]
    assert not await store.start_idle_action(e2.id, at=due)  # kept

    # The intent is recorded before acting: started, not done, it is still due (a leader
    # that died there leaves it to the next one), and starting again keeps the first time.
    assert await store.start_idle_action(e1.id, at=due)
    assert await store.start_idle_action(e1.id, at=due + timedelta(minutes=1))
    [unfinished] = await store.due_idle_actions(due + timedelta(minutes=2))
    assert unfinished.id == e1.id and unfinished.action_unfinished
    assert unfinished.auto_action_started_at == due
    # Kept after its start: still listed (the next leader checks whether its PATCH landed).
    assert await store.keep_idle("w1", due + timedelta(days=7), "U4")
    assert [e.id for e in await store.due_idle_actions(due + timedelta(minutes=2))] == [e1.id]

    note = post("auto:1")
    assert await store.finish_idle_action(e1.id, ActionOutcome.DONE, at=due, posts=[note])
    assert not await store.finish_idle_action(e1.id, ActionOutcome.DONE, at=due, posts=[note])
    assert await store.due_idle_actions(due + timedelta(minutes=3)) == []
    done = await store.idle_episode("w1")
    assert done is not None and done.auto_action == "scale-to-zero"
    assert done.auto_action_done_at == due and done.auto_action_outcome == "done"
    assert not done.action_unfinished
    assert [i.dedupe_key for i in await store.all_items()] == ["auto:1"]


async def test_the_outcome_its_note_and_its_audit_line_are_written_together(
    store: Store,
) -> None:
    # One transaction: a leader killed around it leaves all three or none, so the next
    # leader finishing the action writes the audit line exactly once.
    due = T0 + timedelta(hours=1)
    e1 = await store.open_idle_episode("w1", T0)
    assert await store.claim_idle_nudge(
        e1.id, at=T0, auto_action="scale-to-zero", auto_action_due_at=due
    )
    assert await store.start_idle_action(e1.id, at=due)
    done = AutoScaled("w1", "llama", "ok", None, "idle: scale llama to zero (policy)")
    broken = {**auto_scaled_row(done), "summary": None}  # the audit table refuses it
    with pytest.raises(IntegrityError):
        await store.finish_idle_action(
            e1.id, ActionOutcome.DONE, at=due, posts=[post("auto:1")], audit=broken
        )
    [unfinished] = await store.due_idle_actions(due)
    assert unfinished.action_unfinished and await store.all_items() == []
    audit = AuditLog(store.engine)
    assert await audit.trail(workload_id="w1") == []

    assert await store.finish_idle_action(
        e1.id, ActionOutcome.DONE, at=due, posts=[post("auto:1")], audit=auto_scaled_row(done)
    )
    assert not await store.finish_idle_action(
        e1.id, ActionOutcome.DONE, at=due, posts=[post("auto:1")], audit=auto_scaled_row(done)
    )
    assert [(e.user_id, e.action, e.outcome) for e in await audit.trail(workload_id="w1")] == [
        ("policy", "scale", "ok")
    ]
    assert [i.dedupe_key for i in await store.all_items()] == ["auto:1"]


async def test_a_checks_episodes_are_opened_nudged_and_ended_together(store: Store) -> None:
    e1 = await store.open_idle_episode("w1", T0)
    opened = await store.open_idle_episodes_for(
        {"w1": ("one", T0 + timedelta(hours=1)), "w2": ("two", T0), "w3": ("three", T0)}, at=T0
    )
    assert opened["w1"].id == e1.id and opened["w1"].idle_since == T0  # had one already
    assert {k: e.workload_name for k, e in opened.items()} == {
        "w1": None,
        "w2": "two",
        "w3": "three",
    }
    assert await store.keep_idle("w3", T0 + timedelta(days=7), "U1")
    due = T0 + timedelta(hours=2)
    claims = [
        NudgeClaim(opened["w1"].id, posts=[post("n:1", "idle_nudge", True)]),
        NudgeClaim(opened["w2"].id, "scale-to-zero", due, [post("n:2", "idle_nudge", True)]),
        NudgeClaim(opened["w3"].id, posts=[post("n:3", "idle_nudge", True)]),  # kept
    ]
    won = await store.claim_idle_nudges(claims, at=T0 + timedelta(hours=1))
    assert won == {opened["w1"].id, opened["w2"].id}
    assert await store.claim_idle_nudges(claims, at=T0 + timedelta(hours=1)) == set()
    assert sorted(i.dedupe_key or "" for i in await store.all_items()) == ["n:1", "n:2"]
    w2 = await store.idle_episode("w2")
    assert w2 is not None and w2.auto_action == "scale-to-zero" and w2.auto_action_due_at == due

    assert sorted(await store.end_idle_episodes(["w1", "w2", "w9"], reason="busy")) == [
        "w1",
        "w2",
    ]
    assert await store.end_idle_episodes(["w1"], reason="busy") == []
    assert [e.workload_id for e in await store.open_idle_episodes()] == ["w3"]


async def test_a_digest_is_set_changed_turned_off_and_posted_once_a_day(store: Store) -> None:
    d = await store.set_digest("C1", "09:00", "Europe/Paris", "U1", at=T0)
    assert (d.at_time, d.tz, d.author, d.enabled) == ("09:00", "Europe/Paris", "U1", True)
    d = await store.set_digest("C1", "17:30", "UTC", "U2", at=T0 + timedelta(hours=1))
    assert (d.at_time, d.tz, d.author, d.updated_at) == (
        "17:30",
        "UTC",
        "U2",
        T0 + timedelta(hours=1),
    )
    await store.set_digest("C2", "08:00", "UTC", "U1")
    assert [x.channel for x in await store.enabled_digests()] == ["C1", "C2"]
    assert await store.disable_digest("C2")
    assert not await store.disable_digest("C2")
    assert not await store.disable_digest("C9")
    off = await store.get_digest("C2")
    assert off is not None and not off.enabled
    assert [x.channel for x in await store.enabled_digests()] == ["C1"]

    assert await store.claim_digest_post("C1", date(2026, 12, 1), "h:1")
    assert not await store.claim_digest_post("C1", date(2026, 12, 1), "h:2")
    assert await store.claim_digest_post("C1", date(2026, 12, 2), "h:2")
    assert await store.claim_digest_post("C2", date(2026, 12, 1), "h:2")
