"""Schedule fires: apply within the grace, skip beyond it, latest wins, said in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cron import CronRule
from bot.watch.care.schedule_rules import (
    Fire,
    Misfire,
    ScheduleState,
    ended_note,
    fired_note,
    fires_to_claim,
    listing,
    misfire,
    next_wakeup,
    plan_fires,
    refused_note,
    skipped_note,
    summarize,
)

T = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)  # Wed 19:00 in Berlin
GRACE = timedelta(seconds=300)
EVENINGS = CronRule.of("0 19 * * 1-5", "Europe/Berlin")
MINUTELY = CronRule.of("* * * * *")


def _state(rule: CronRule, since: datetime, sid: int = 1, wid: str = "w1") -> ScheduleState:
    return ScheduleState(sid, wid, rule, since)


def test_misfire_decision() -> None:
    assert misfire(T, T, GRACE) is Misfire.APPLY
    assert misfire(T, T + GRACE, GRACE) is Misfire.APPLY
    assert misfire(T, T + GRACE + timedelta(seconds=1), GRACE) is Misfire.SKIP
    assert misfire(T, T - timedelta(seconds=1), GRACE) is Misfire.EARLY
    assert misfire(T, T + timedelta(seconds=1), timedelta(0)) is Misfire.SKIP


def test_a_fire_on_time_is_applied_once() -> None:
    plan = plan_fires(
        [_state(EVENINGS, T - timedelta(minutes=15))], T + timedelta(seconds=1), GRACE
    )
    assert plan.apply == (Fire(1, "w1", T),) and not plan.skipped and not plan.superseded
    # The next check starts where this one ended: nothing again.
    again = plan_fires([_state(EVENINGS, plan.checked_until)], T + timedelta(seconds=30), GRACE)
    assert again.apply == () and again.skipped == ()


def test_a_takeover_within_the_grace_applies_beyond_it_skips() -> None:
    within = plan_fires([_state(EVENINGS, T - timedelta(hours=1))], T + timedelta(minutes=4), GRACE)
    assert within.apply == (Fire(1, "w1", T),)
    beyond = plan_fires([_state(EVENINGS, T - timedelta(hours=1))], T + timedelta(minutes=6), GRACE)
    assert beyond.apply == ()
    (skip,) = beyond.skipped
    assert (skip.first, skip.last, skip.count, skip.more) == (T, T, 1, False)
    assert skipped_note(skip, "Europe/Berlin") == (
        "Skipped the scheduled scale of Wed 2 Dec 2026, 07:00 PM CET: the bot was not running then."
    )


def test_several_due_fires_of_one_workload_apply_the_latest_only() -> None:
    now = T + timedelta(minutes=3, seconds=10)
    plan = plan_fires([_state(MINUTELY, T - timedelta(seconds=1))], now, GRACE)
    assert plan.apply == (Fire(1, "w1", T + timedelta(minutes=3)),)
    assert [f.scheduled_at for f in plan.superseded] == [T + timedelta(minutes=m) for m in range(3)]
    assert len(fires_to_claim(plan)) == 4


def test_across_schedules_the_latest_fire_of_a_workload_wins_other_workloads_apart() -> None:
    down = CronRule.of("0 18 * * *")  # 18:00 UTC
    up = CronRule.of("2 18 * * *")  # 18:02 UTC
    now = T + timedelta(minutes=3)
    plan = plan_fires(
        [
            _state(down, T - timedelta(hours=1), 1, "w1"),
            _state(up, T - timedelta(hours=1), 2, "w1"),
            _state(down, T - timedelta(hours=1), 3, "w2"),
        ],
        now,
        timedelta(minutes=10),
    )
    assert plan.apply == (Fire(3, "w2", T), Fire(2, "w1", T + timedelta(minutes=2)))
    assert plan.superseded == (Fire(1, "w1", T),)


def test_a_long_gap_of_a_busy_rule_is_one_bounded_line() -> None:
    start = T - timedelta(days=2)
    plan = plan_fires([_state(MINUTELY, start)], T, GRACE)
    (skip,) = plan.skipped
    assert skip.more and skip.count == 1000 and skip.first == start + timedelta(minutes=1)
    assert "Skipped more than 1000 scheduled scales between" in skipped_note(skip, "UTC")
    assert plan.apply == (Fire(1, "w1", T),)


def test_words_and_next_times() -> None:
    summary = summarize(7, "my-qwen", EVENINGS, 0, 1, T - timedelta(hours=1), author="U1")
    assert summary.sentence == (
        "At 07:00 PM, Monday through Friday (Europe/Berlin): scale my-qwen to 0\u20131."
    )
    assert summary.next_times == (
        "Wed 2 Dec 2026, 07:00 PM CET",
        "Thu 3 Dec 2026, 07:00 PM CET",
        "Fri 4 Dec 2026, 07:00 PM CET",
    )
    shown, more = listing([summary] * 45)
    assert len(shown) == 40 and more == 5


def test_next_wakeup_is_the_earliest_fire() -> None:
    states = [
        _state(EVENINGS, T - timedelta(days=1)),
        _state(CronRule.of("30 17 * * *"), T - timedelta(hours=3)),
    ]
    assert next_wakeup(states, T - timedelta(hours=2)) == T - timedelta(minutes=30)
    assert next_wakeup([], T) is None


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=12),
    st.integers(min_value=0, max_value=600),
)
def test_checks_in_any_rhythm_apply_each_fire_at_most_once(gaps: list[int], grace_s: int) -> None:
    """However the checks are spaced, every fire is applied, superseded or skipped at most
    once, and every fire that happened is accounted for (the exactly-once keys)."""
    grace = timedelta(seconds=grace_s)
    rule = CronRule.of("*/2 * * * *")
    start = T
    checked = start
    now = start
    seen: list[datetime] = []
    for gap in gaps:
        now = now + timedelta(seconds=gap * 7)
        plan = plan_fires([_state(rule, checked)], now, grace)
        claimed = [f.scheduled_at for f in fires_to_claim(plan)]
        for skip in plan.skipped:
            skipped = rule.fires_between(skip.first - timedelta(microseconds=1), skip.last)
            claimed += skipped
        assert not set(claimed) & set(seen)
        seen += claimed
        checked = plan.checked_until
    assert sorted(seen) == rule.fires_between(start, now)


def test_thread_notes() -> None:
    assert fired_note(0, 1) == "Scheduled: scaled to 0\u20131"
    assert refused_note(12, "you may not scale workloads in team-a.") == (
        "Schedule 12 did not run: you may not scale workloads in team-a. "
        "It stays until removed (`/inference unschedule 12`)."
    )
    assert ended_note(12) == "Schedule 12 ended: its workload is gone."
