"""Stuck workloads, flapping summaries and the `--only` filter (Hypothesis)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.watch.alerts.flapping import Flap, Reply, on_change, settle, summary
from bot.watch.alerts.phases import ONLY_CHOICES, only_phases, wants
from bot.watch.alerts.stuck import DEFAULT_STUCK_AFTER, check_stuck

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def test_stuck_once_per_stretch() -> None:
    began = T0 - 16 * MIN
    first = check_stuck("Pending", began, T0, DEFAULT_STUCK_AFTER, None)
    assert first.stuck and first.report and first.for_ == 16 * MIN
    again = check_stuck("Pending", began, T0 + MIN, DEFAULT_STUCK_AFTER, first.key)
    assert again.stuck and not again.report
    # back in Pending later: a new stretch, told again
    later = check_stuck("Pending", T0, T0 + 20 * MIN, DEFAULT_STUCK_AFTER, first.key)
    assert later.report and later.key != first.key
    assert not check_stuck("Pending", T0 - 15 * MIN, T0, DEFAULT_STUCK_AFTER, None).stuck
    assert not check_stuck("Running", began, T0, DEFAULT_STUCK_AFTER, None).stuck
    assert not check_stuck("Creating", None, T0, DEFAULT_STUCK_AFTER, None).stuck
    for phase in ("Creating", "Initializing"):
        assert check_stuck(phase, began, T0, DEFAULT_STUCK_AFTER, None).report


def _flap(
    phases: list[str], every: timedelta = MIN, flap: Flap | None = None
) -> tuple[Flap, list[Reply]]:
    flap = flap or Flap()
    replies = []
    for i, phase in enumerate(phases):
        flap, reply = on_change(flap, phase, T0 + i * every)
        replies.append(reply)
    return flap, replies


def test_seven_changes_in_ten_minutes_become_one_summary() -> None:
    phases = ["Running", "Degraded"] * 5  # 10 changes, one a minute
    flap, replies = _flap(phases)
    assert replies == [Reply.POST] * 6 + [Reply.SUMMARY] + [Reply.FOLD] * 3
    said = summary(flap)
    assert said.words() == "flapping Running ↔ Degraded, 10 changes in 10 min"


def test_slow_changes_never_flap() -> None:
    _, replies = _flap(["Running", "Degraded"] * 10, every=2 * MIN)
    assert set(replies) == {Reply.POST}


def test_replies_resume_after_ten_quiet_minutes() -> None:
    flap, _ = _flap(["Running", "Degraded"] * 4)
    last = flap.changes[-1][0]
    assert settle(flap, last + 9 * MIN) == (flap, False)
    settled, ended = settle(flap, last + 10 * MIN)
    assert ended and not settled.flapping
    # or, without a tick, the next change after the quiet minutes is posted as usual
    after, reply = on_change(flap, "Failed", last + 11 * MIN)
    assert reply is Reply.POST and not after.flapping and len(after.changes) == 1
    assert settle(Flap(), T0) == (Flap(), False)


@given(
    st.lists(
        st.tuples(st.integers(0, 300), st.sampled_from(["Running", "Degraded", "Failed"])),
        max_size=60,
    )
)
def test_flapping_posts_at_most_six_changes_per_window_and_one_summary(
    steps: list[tuple[int, str]],
) -> None:
    flap, at = Flap(), T0
    posted: list[datetime] = []
    summaries = spell = 0
    for seconds, phase in steps:
        at += timedelta(seconds=seconds)
        flap, reply = on_change(flap, phase, at)
        assert Flap.from_json(json.loads(json.dumps(flap.to_json()))) == flap
        if reply is Reply.POST:
            posted.append(at)
            assert sum(1 for p in posted if at - p < timedelta(minutes=10)) <= 6
        summaries += reply is Reply.SUMMARY
        spell = len(flap.changes) if reply is Reply.SUMMARY else spell + 1
        if flap.flapping:
            # The summary counts every change of the spell, in bounded state.
            assert summary(flap).changes == spell
            assert len(flap.earlier) <= 3
        assert len(flap.changes) <= 60
    assert summaries <= max(1, len(steps) // 7)


def test_a_long_spell_is_counted_whole() -> None:
    flap, replies = _flap(["Running", "Degraded"] * 20 + ["Failed"])  # one a minute
    assert replies.count(Reply.SUMMARY) == 1 and replies.count(Reply.FOLD) == 34
    # 41 changes over 40 minutes, though only the last 10 minutes are kept one by one.
    assert len(flap.changes) == 10 and sum(n for _, _, n in flap.earlier) == 31
    said = summary(flap).words()
    assert said == "flapping Running ↔ Degraded ↔ Failed, 41 changes in 40 min"
    assert settle(flap, T0 + 50 * MIN) == (Flap(), True)


def test_only_filter() -> None:
    assert wants(None, "Creating") and wants([], "Creating")
    assert wants(["failed"], "Failed") and not wants(["failed"], "Running")
    assert wants(["deleted"], "Deleted") and wants(["deleted"], "Deleting")
    assert only_phases(["running", "degraded"]) == {"Running", "Degraded"}
    assert set(ONLY_CHOICES) == {"failed", "degraded", "running", "deleted"}
    with pytest.raises(ValueError):
        only_phases(["pending"])
