"""Idle endpoints: the verdict, one nudge per episode, Keep, the automatic action, words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bot.policy.model import IdleAction, IdleRule
from bot.runai import models
from bot.watch.care import idle
from bot.watch.care.idle import (
    Activity,
    IdleEpisode,
    IdleObservation,
    Step,
    decide,
    keep,
    nudge,
    scale_to_zero,
)
from bot.watch.care.usage import Sample

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
DAY = timedelta(hours=24)
AUTO = IdleRule(after=timedelta(hours=48), action=IdleAction.SCALE_TO_ZERO)


def _obs(
    gpus: float = 2,
    held: timedelta = timedelta(days=3),
    rps: list[float] | None = None,
    at: datetime = NOW,
) -> IdleObservation:
    values = [0.0] * 24 if rps is None else rps
    samples = [Sample(at - DAY + i * timedelta(hours=1), v) for i, v in enumerate(values)]
    return IdleObservation("w-1", "my-qwen", gpus, at - held, samples)


def test_activity() -> None:
    assert idle.activity(_obs(), NOW, DAY) is Activity.IDLE
    assert idle.activity(_obs(rps=[]), NOW, DAY) is Activity.IDLE  # no samples: no traffic
    assert idle.activity(_obs(rps=[0.0] * 23 + [0.5]), NOW, DAY) is Activity.SERVING
    assert idle.activity(_obs(gpus=0), NOW, DAY) is Activity.NOT_HOLDING
    assert idle.activity(_obs(held=timedelta(hours=2)), NOW, DAY) is Activity.WARMING
    # Traffic older than the window does not count.
    old = IdleObservation("w-1", "x", 1, None, [Sample(NOW - 2 * DAY, 9.0)])
    assert idle.activity(old, NOW, DAY) is Activity.IDLE


def test_one_nudge_per_episode_and_a_new_one_only_after_traffic() -> None:
    first = decide(_obs(), IdleEpisode(), NOW, DAY)
    assert first.step is Step.NUDGE and first.episode.nudged_at == NOW
    later = NOW + timedelta(minutes=15)
    again = decide(_obs(at=later), first.episode, later, DAY)
    assert again.step is Step.NONE and again.episode == first.episode
    served = decide(_obs(rps=[1.0] * 24, at=later), first.episode, later, DAY)
    assert served.step is Step.END and served.episode == IdleEpisode()
    next_day = later + DAY
    new = decide(_obs(at=next_day), served.episode, next_day, DAY)
    assert new.step is Step.NUDGE and new.episode.nudged_at == next_day


def test_too_soon_to_say_and_nothing_held_are_quiet() -> None:
    assert decide(_obs(held=timedelta(hours=1)), IdleEpisode(), NOW, DAY).step is Step.NONE
    assert decide(_obs(gpus=0), IdleEpisode(), NOW, DAY).step is Step.NONE
    # Releasing the GPUs ends a nudged episode.
    nudged = IdleEpisode(nudged_at=NOW - timedelta(hours=1))
    assert decide(_obs(gpus=0), nudged, NOW, DAY).step is Step.END


def test_keep_silences_until_its_date_then_a_still_idle_workload_is_nudged_again() -> None:
    nudged = decide(_obs(), IdleEpisode(), NOW, DAY).episode
    kept = keep(nudged, NOW, "U1")
    assert kept.kept_until == NOW + timedelta(days=7) and kept.kept_by == "U1"
    inside = NOW + timedelta(days=6)
    assert decide(_obs(at=inside), kept, inside, DAY).step is Step.NONE
    after = NOW + timedelta(days=7, minutes=1)
    again = decide(_obs(at=after), kept, after, DAY)
    assert again.step is Step.NUDGE and again.episode.kept_until is None


def test_keep_outlives_the_episode_it_was_pressed_in() -> None:
    kept = keep(IdleEpisode(nudged_at=NOW), NOW, "U1")
    ended = decide(_obs(rps=[3.0] * 24), kept, NOW + timedelta(hours=1), DAY)
    assert ended.step is Step.END and ended.episode.kept_until == kept.kept_until
    idle_again = NOW + timedelta(days=3)
    assert decide(_obs(at=idle_again), ended.episode, idle_again, DAY).step is Step.NONE


def test_the_policy_window_and_the_automatic_scale_to_zero() -> None:
    # 30 hours idle: over IDLE_AFTER (24 h), under the binding's 48 h.
    young = _obs(held=timedelta(hours=30))
    assert decide(young, IdleEpisode(), NOW, DAY, AUTO).step is Step.NONE
    first = decide(_obs(), IdleEpisode(), NOW, DAY, AUTO)
    assert first.step is Step.NUDGE and first.window == timedelta(hours=48)
    assert first.episode.act_at == NOW + timedelta(hours=1)
    soon = NOW + timedelta(minutes=30)
    assert decide(_obs(at=soon), first.episode, soon, DAY, AUTO).step is Step.NONE
    due = NOW + timedelta(hours=1)
    act = decide(_obs(at=due), first.episode, due, DAY, AUTO)
    assert act.step is Step.ACT and act.episode.acted_at == due
    later = due + timedelta(minutes=15)
    assert decide(_obs(at=later), act.episode, later, DAY, AUTO).step is Step.NONE  # once


def test_keep_cancels_the_automatic_action() -> None:
    first = decide(_obs(), IdleEpisode(), NOW, DAY, AUTO).episode
    kept = keep(first, NOW + timedelta(minutes=5), "U2")
    due = NOW + timedelta(hours=2)
    assert decide(_obs(at=due), kept, due, DAY, AUTO).step is Step.NONE


def test_a_nudge_only_rule_never_acts() -> None:
    rule = IdleRule(action=IdleAction.NUDGE)
    first = decide(_obs(), IdleEpisode(), NOW, DAY, rule)
    assert first.episode.act_at is None and first.window == DAY


def test_episodes_survive_json() -> None:
    episode = keep(IdleEpisode(nudged_at=NOW, act_at=NOW), NOW, "U1")
    assert IdleEpisode.from_json(episode.to_json()) == episode
    assert IdleEpisode.from_json(None) == IdleEpisode() == IdleEpisode.from_json({})


def test_the_nudge_words_with_and_without_money() -> None:
    plain = nudge(_obs(), DAY, None, "USD")
    assert plain.sentence == (
        "my-qwen served no requests in the last 24 h while holding 2 GPUs: 48 GPU-hours."
    )
    assert plain.auto_note is None and plain.money is None
    priced = nudge(_obs(), DAY, Decimal("2.50"), "USD", AUTO)
    assert priced.sentence.endswith("48 GPU-hours (120.00 USD).")
    assert priced.auto_note == "Scaling to zero in 1 h unless someone presses Keep."
    assert priced.keep_label == "Keep for 7 days"


def test_scale_to_zero_keeps_max_and_a_metric_that_can_reach_zero() -> None:
    thr = models.AutoScaling(
        min_replicas=1, max_replicas=4, metric="throughput", metric_threshold=5
    )
    assert scale_to_zero(thr) == models.AutoScaling(
        min_replicas=0, max_replicas=4, metric="throughput", metric_threshold=5
    )
    conc = models.AutoScaling(
        min_replicas=2, max_replicas=3, metric="concurrency", metric_threshold=8
    )
    assert scale_to_zero(conc).metric == "concurrency"
    latency = models.AutoScaling(
        min_replicas=1, max_replicas=3, metric="latency", metric_threshold=300
    )
    swapped = scale_to_zero(latency)
    assert (swapped.metric, swapped.metric_threshold) == (
        "throughput",
        idle.DEFAULT_THROUGHPUT_THRESHOLD,
    )
    fixed = scale_to_zero(models.AutoScaling(min_replicas=2))  # 2-2: max stays 2
    assert (fixed.min_replicas, fixed.max_replicas, fixed.metric) == (0, 2, "throughput")
    single = scale_to_zero(None)  # 1-1 by default → 0-1 follows network activity
    assert (single.min_replicas, single.max_replicas, single.metric) == (0, 1, None)
    kept = scale_to_zero(models.AutoScaling(min_replicas=1, scale_to_zero_retention_seconds=600))
    assert kept.scale_to_zero_retention_seconds == 600


@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(min_value=1, max_value=120)), min_size=1, max_size=40
    )
)
def test_never_two_nudges_without_traffic_between(steps: list[tuple[bool, int]]) -> None:
    """Whatever the sequence of checks, two nudges in a row need traffic (or a Keep that ran
    out, which this run never presses) between them."""
    episode = IdleEpisode()
    when = NOW
    nudged_since_traffic = False
    for served, minutes in steps:
        when += timedelta(minutes=minutes)
        obs = _obs(rps=[1.0] * 24 if served else [0.0] * 24, at=when)
        decision = decide(obs, episode, when, DAY)
        if decision.step is Step.NUDGE:
            assert not nudged_since_traffic
            nudged_since_traffic = True
        if served:
            nudged_since_traffic = False
        episode = decision.episode
