"""The pure phase logic: durations, diffs, coalescing, scheduling decisions."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.watch.diff import (
    DELETED,
    Observation,
    Transition,
    WatchState,
    coalesce,
    deleted,
    diff,
    format_duration,
    poll_due,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def state(**kw: object) -> WatchState:
    values: dict[str, object] = {
        "workload_id": "w1",
        "channel": "C1",
        "last_phase": "Creating",
        "phase_updated_at": T0,
        "reason": "create",
        "created_at": T0,
        "workload_created_at": T0,
        "pending_action": "create",
        "pending_user": "U1",
    }
    values.update(kw)
    return WatchState(**values)  # type: ignore[arg-type]


def obs(phase: str, after: float, **kw: object) -> Observation:
    return Observation(
        workload_id="w1", phase=phase, phase_updated_at=T0 + timedelta(seconds=after), **kw
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (45.9, "45s"),
        (133, "2m 13s"),
        (120, "2m"),
        (3720, "1h 2m"),
        (7200, "2h"),
        (27 * 3600 + 59, "1d 3h"),
        (86400, "1d"),
        (None, None),
        (-1, None),
    ],
)
def test_format_duration(seconds: float | None, text: str | None) -> None:
    assert format_duration(seconds) == text


def test_same_phase_same_stamp_is_nothing() -> None:
    assert diff(state(), obs("Creating", 0), T0) is None


def test_same_phase_newer_stamp_updates_silently() -> None:
    update = diff(state(last_phase="Running", pending_action=None), obs("Running", 30), T0)
    assert update is not None and update.transition is None
    assert update.phase_updated_at == T0 + timedelta(seconds=30)


def test_transition_while_creating_keeps_the_actor() -> None:
    update = diff(state(), obs("Initializing", 12, phase_message="pulling"), T0)
    assert update is not None and update.transition is not None
    t = update.transition
    assert (t.old_phase, t.new_phase, t.previous_seconds) == ("Creating", "Initializing", 12)
    assert (t.actor_user, t.actor_action, t.phase_message) == ("U1", "create", "pulling")
    assert t.ready_seconds is None and not t.broadcast and not t.final
    # still transitional: later steps are attributed to the same user
    assert update.pending_user == "U1"


def test_running_after_create_is_ready_once_with_url() -> None:
    update = diff(
        state(last_phase="Initializing", phase_updated_at=T0 + timedelta(seconds=20)),
        obs("Running", 133, urls=("https://llama.example",)),
        T0,
    )
    assert update is not None and update.transition is not None
    assert update.transition.ready_seconds == 133
    assert update.transition.url == "https://llama.example"
    assert update.ready_announced and update.pending_user is None
    again = diff(
        state(last_phase="Failed", ready_announced=True, pending_user=None, pending_action=None),
        obs("Running", 500),
        T0,
    )
    assert again is not None and again.transition is not None
    assert again.transition.ready_seconds is None


def test_watch_reason_is_never_ready() -> None:
    update = diff(state(reason="watch", last_phase="Initializing"), obs("Running", 5), T0)
    assert update is not None and update.transition is not None
    assert update.transition.ready_seconds is None


@pytest.mark.parametrize(
    ("phase", "broadcast"),
    [("Failed", True), ("Degraded", True), ("Running", False), ("Updating", False)],
)
def test_alert_phases_broadcast(phase: str, broadcast: bool) -> None:
    update = diff(state(last_phase="Initializing"), obs(phase, 1), T0)
    assert update is not None and update.transition is not None
    assert update.transition.broadcast is broadcast


def test_deleted_is_final() -> None:
    update = deleted(state(last_phase="Deleting", pending_action="delete"), T0 + timedelta(60))
    assert update.transition is not None
    assert update.transition.final and update.transition.new_phase == DELETED
    assert update.transition.actor_action == "delete"


def test_coalesce_walks_the_path() -> None:
    a = Transition(old_phase="Creating", new_phase="Initializing", at=T0)
    b = Transition(old_phase="Initializing", new_phase="Running", at=T0, ready_seconds=9)
    c = Transition(old_phase="Running", new_phase="Degraded", at=T0)
    reply = coalesce([a, b, c])
    assert reply.path == ("Creating", "Initializing", "Running", "Degraded")
    assert reply.broadcast and not reply.final and reply.last is c
    with pytest.raises(ValueError):
        coalesce([])


PHASES = st.sampled_from(["Creating", "Initializing", "Running", "Degraded", "Failed", "Updating"])


@given(
    st.lists(PHASES, min_size=2, max_size=8).filter(
        lambda p: all(x != y for x, y in itertools.pairwise(p))
    )
)
def test_coalesce_of_any_chain_is_the_chain(phases: list[str]) -> None:
    steps = [Transition(old_phase=a, new_phase=b, at=T0) for a, b in itertools.pairwise(phases)]
    assert list(coalesce(steps).path) == phases


def test_transition_json_round_trip() -> None:
    t = Transition(
        old_phase="Running",
        new_phase="Failed",
        at=T0,
        phase_message="OOM",
        conditions=("Ready: no",),
        previous_seconds=3.5,
        actor_user="U1",
        actor_action="scale",
    )
    assert Transition.from_json(t.to_json()) == t


def test_poll_due_is_faster_while_transitional() -> None:
    assert poll_due(100.0, None, 5.0, 1.0, fast=False)
    assert not poll_due(102.0, 100.0, 5.0, 1.0, fast=False)
    assert poll_due(102.0, 100.0, 5.0, 1.0, fast=True)
    assert poll_due(105.0, 100.0, 5.0, 1.0, fast=False)
