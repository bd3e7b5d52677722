"""The alert tables and the quiet-thread columns through the store, on SQLite and
PostgreSQL: rules, one fire and one resolve per episode, snooze, stuck replies, followed
phases, mute and flapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.watch.alert_store import MUTED_FOREVER, AlertStatus, WatchQuiet
from bot.watch.claims import ThreadPost
from bot.watch.diff import Observation
from bot.watch.store import Store

T0 = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


def post(key: str, broadcast: bool = False) -> ThreadPost:
    return ThreadPost("w1", "C1", "1.1", "alert", key, {"template": "x"}, broadcast=broadcast)


async def rule(store: Store, channel: str = "C1", workload: str = "w1", at: datetime = T0) -> str:
    r = await store.add_alert_rule(
        workload_id=workload, workload_name="my-qwen", channel=channel, author="U1",
        metric="latency", op=">", value=500, for_seconds=300, at=at,
    )  # fmt: skip
    return r.id


async def watch(store: Store, workload: str = "w1", channel: str = "C1") -> None:
    await store.add_watch(
        Observation(workload_id=workload, phase="Running", name="my-qwen"),
        channel=channel, parent_ts="1.1", reason="watch", user="U1", workload_created_at=None,
    )  # fmt: skip


async def test_rules_are_stored_with_their_state_and_removed_once(store: Store) -> None:
    rid = await rule(store)
    r = await store.get_alert_rule(rid)
    assert r is not None and rid.startswith("a")
    assert (r.metric, r.op, r.value, r.for_seconds, r.created_at) == (
        "latency",
        ">",
        500.0,
        300,
        T0,
    )
    other = await rule(store, channel="C2", workload="w2", at=T0 + timedelta(minutes=1))
    [(got, state)] = await store.list_alert_rules(channel="C1")
    assert got == r and (state.status, state.episode) == (AlertStatus.OK, 0)
    assert [x.id for x, _ in await store.list_alert_rules(workload_id="w2")] == [other]
    assert [x.id for x, _ in await store.list_alert_rules(author="U1")] == [rid, other]
    assert await store.list_alert_rules(author="U9") == []
    assert await store.remove_alert_rule(rid, "U2", posts=[post("rm")])
    assert not await store.remove_alert_rule(rid, "U3", posts=[post("rm2")])
    assert [x.id for x, _ in await store.list_alert_rules()] == [other]
    [(removed, _), _] = await store.list_alert_rules(include_removed=True)
    assert removed.removed_by == "U2" and removed.removed_at is not None
    assert [i.dedupe_key for i in await store.all_items()] == ["rm"]


async def test_one_fire_and_one_resolve_per_episode(store: Store) -> None:
    rid = await rule(store)
    fired = post(f"fire:{rid}:1", broadcast=True)
    assert not await store.resolve_alert(rid, 1)  # nothing is firing
    assert await store.fire_alert(rid, 1, value=812.5, since=T0, at=T0, posts=[fired])
    assert not await store.fire_alert(rid, 1, value=900, since=T0, posts=[fired])
    assert not await store.fire_alert(rid, 2, value=900, since=T0)  # still firing
    state = await store.alert_state_of(rid)
    assert state is not None
    assert (state.status, state.episode, state.since, state.fired_at, state.last_value) == (
        AlertStatus.FIRING, 1, T0, T0, 812.5,
    )  # fmt: skip
    done = T0 + timedelta(minutes=20)
    assert await store.resolve_alert(rid, 1, value=120.0, at=done, posts=[post(f"ok:{rid}:1")])
    assert not await store.resolve_alert(rid, 1, at=done)
    assert not await store.fire_alert(rid, 1, value=900, since=done)  # that episode is over
    assert await store.fire_alert(rid, 2, value=900, since=done, at=done)
    state = await store.alert_state_of(rid)
    assert state is not None and (state.episode, state.resolved_at) == (2, None)
    items = await store.all_items()
    assert [(i.dedupe_key, i.broadcast) for i in items] == [
        (f"fire:{rid}:1", True),
        (f"ok:{rid}:1", False),
    ]


async def test_a_removed_rule_neither_fires_nor_snoozes(store: Store) -> None:
    rid = await rule(store)
    assert await store.snooze_alert(rid, T0 + timedelta(hours=1), "U2")
    state = await store.alert_state_of(rid)
    assert state is not None and state.snoozed(T0) and not state.snoozed(T0 + timedelta(hours=2))
    assert state.snoozed_by == "U2"
    await store.note_alert_values({rid: 42.0}, at=T0)
    state = await store.alert_state_of(rid)
    assert state is not None and (state.last_value, state.evaluated_at) == (42.0, T0)
    assert await store.remove_alert_rule(rid, "U1")
    assert not await store.fire_alert(rid, 1, value=900, since=T0)
    assert not await store.snooze_alert(rid, T0 + timedelta(hours=24), "U2")
    assert not await store.snooze_alert("nope", T0, "U2")


async def test_a_stuck_phase_is_told_once_per_phase_start(store: Store) -> None:
    stuck = post("stuck:w1:Pending")
    assert await store.claim_stuck("w1", "Pending", T0, "h:1", posts=[stuck])
    assert not await store.claim_stuck("w1", "Pending", T0, "h:2", posts=[stuck])
    assert await store.claim_stuck("w1", "Pending", T0 + timedelta(hours=1), "h:2")
    assert await store.claim_stuck("w1", "Creating", T0, "h:2")
    assert [i.dedupe_key for i in await store.all_items()] == ["stuck:w1:Pending"]


async def test_followed_phases_and_mute_leave_the_watch_version_alone(store: Store) -> None:
    await watch(store)
    before = await store.get_watch("w1", "C1")
    assert before is not None
    quiet = await store.watch_quiet("w1", "C1")
    assert quiet is not None and quiet.only_phases is None and not quiet.muted(T0)
    assert await store.set_only_phases("w1", "C1", ["Failed", "Degraded", "Failed"])
    assert await store.mute_watch("w1", "C1", T0 + timedelta(hours=1))
    quiet = await store.watch_quiet("w1", "C1")
    assert quiet is not None and quiet.only_phases == {"Failed", "Degraded"}
    assert quiet.muted(T0) and not quiet.muted(T0 + timedelta(hours=2))
    assert await store.mute_watch("w1", "C1")
    quiet = await store.watch_quiet("w1", "C1")
    assert quiet is not None and quiet.muted_until == MUTED_FOREVER
    after = await store.get_watch("w1", "C1")
    assert after is not None and after.version == before.version
    assert await store.unmute_watch("w1", "C1")
    assert await store.set_only_phases("w1", "C1", None)
    quiet = await store.watch_quiet("w1", "C1")
    assert quiet is not None and quiet.only_phases is None and quiet.muted_until is None
    # Unwatched and watched again: the old row comes back; reset_quiet starts it afresh.
    await store.set_only_phases("w1", "C1", ["Failed"])
    await store.mute_watch("w1", "C1")
    await store.claim_flap_summary("w1", "C1", since=T0)
    assert await store.end_watch("w1", "C1", "U1")
    assert not await store.mute_watch("w1", "C1")  # no active watch
    await watch(store)
    quiet = await store.watch_quiet("w1", "C1")
    assert quiet is not None and quiet.only_phases == {"Failed"} and quiet.muted(T0)
    assert await store.reset_quiet("w1", "C1")
    assert await store.watch_quiet("w1", "C1") == WatchQuiet("w1", "C1", None, None, (), None, None)
    assert not await store.mute_watch("w1", "C9")  # not watched there
    await watch(store, channel="C2")
    await store.mute_watch("w1", "C2")
    assert set(await store.quiet_watches(["w1"])) == {("w1", "C1"), ("w1", "C2")}
    assert await store.quiet_watches(["w9"]) == {}


async def test_flapping_keeps_recent_changes_and_summarises_once_per_spell(store: Store) -> None:
    await watch(store)
    for n in range(7):
        recent = await store.record_phase_change(
            "w1", "C1", T0 + timedelta(minutes=n), keep_after=T0 + timedelta(minutes=n - 10)
        )
    assert len(recent) == 7 and recent[0] == T0
    recent = await store.record_phase_change(
        "w1", "C1", T0 + timedelta(minutes=12), keep_after=T0 + timedelta(minutes=2)
    )
    assert recent == tuple(T0 + timedelta(minutes=m) for m in (3, 4, 5, 6, 12))
    assert await store.record_phase_change("w9", "C1", T0, keep_after=T0) == ()

    summary = post("flap:w1:C1:1")
    assert await store.claim_flap_summary("w1", "C1", since=T0, at=T0, posts=[summary])
    assert not await store.claim_flap_summary("w1", "C1", since=T0, posts=[summary])
    quiet = await store.watch_quiet("w1", "C1")
    assert quiet is not None and (quiet.flapping_since, quiet.flap_summary_at) == (T0, T0)
    assert await store.end_flapping("w1", "C1")
    assert not await store.end_flapping("w1", "C1")
    later = T0 + timedelta(hours=1)
    assert await store.claim_flap_summary("w1", "C1", since=later, posts=[post("flap:2")])
    assert [i.dedupe_key for i in await store.all_items()] == ["flap:w1:C1:1", "flap:2"]
