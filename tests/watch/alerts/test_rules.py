"""Alert rules: words, the metrics plan, and the verdict over a window (Hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.durations import DurationError, format_duration, parse_duration
from bot.runai import models
from bot.watch.alerts.rules import (
    MAX_SAMPLES,
    Metric,
    Op,
    Rule,
    Source,
    evaluate,
    find_series,
    next_route,
    plan_metrics,
    samples_of,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def series(
    values: list[float | None], step: timedelta = MINUTE
) -> list[tuple[datetime, float | None]]:
    """Samples ending at NOW, one `step` apart, oldest first."""
    n = len(values)
    return [(NOW - step * (n - 1 - i), v) for i, v in enumerate(values)]


@pytest.mark.parametrize(
    ("rule", "words", "typed"),
    [
        (
            Rule(Metric.LATENCY, Op.GT, 500),
            "latency above 500 ms for 5 min",
            "latency > 500 for 5m",
        ),
        (
            Rule(Metric.THROUGHPUT, Op.LT, 1, timedelta(minutes=30)),
            "throughput below 1 req/s for 30 min",
            "throughput < 1 for 30m",
        ),
        (
            Rule(Metric.GPU, Op.LE, 10.5, timedelta(hours=1)),
            "GPU utilisation at or below 10.5 % for 1 h",
            "gpu <= 10.5 for 1h",
        ),
        (
            Rule(Metric.REPLICAS, Op.GE, 2, timedelta(seconds=90)),
            "running pods at or above 2 for 90 s",
            "replicas >= 2 for 90s",
        ),
    ],
)
def test_rule_words(rule: Rule, words: str, typed: str) -> None:
    assert rule.words() == words
    assert rule.command() == typed
    assert Rule.from_json(rule.to_json()) == rule


@pytest.mark.parametrize(
    "bad",
    [
        dict(metric=Metric.GPU, op=Op.GT, threshold=101),
        dict(metric=Metric.LATENCY, op=Op.GT, threshold=-1),
        dict(metric=Metric.LATENCY, op=Op.GT, threshold=float("nan")),
        dict(metric=Metric.REPLICAS, op=Op.LT, threshold=1.5),
        dict(metric=Metric.LATENCY, op=Op.GT, threshold=1, for_=timedelta(seconds=30)),
        dict(metric=Metric.LATENCY, op=Op.GT, threshold=1, for_=timedelta(days=2)),
    ],
)
def test_rules_out_of_range_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Rule(**bad)  # type: ignore[arg-type]


def test_durations_read_and_print() -> None:
    assert parse_duration(" 15M ") == timedelta(minutes=15)
    assert parse_duration("7d") == timedelta(days=7)
    assert format_duration(timedelta(hours=36)) == "36h"
    for bad in ("", "5", "m", "1.5h", "-5m", "5w", "1234567s"):
        with pytest.raises(DurationError) as caught:
            parse_duration(bad)
        assert "30s, 15m, 24h or 7d" in caught.value.message


@given(st.integers(min_value=0, max_value=999_999), st.sampled_from("smhd"))
def test_any_duration_prints_back(number: int, unit: str) -> None:
    value = parse_duration(f"{number}{unit}")
    assert parse_duration(format_duration(value)) == value


def test_plan_asks_each_route_once_for_every_rule() -> None:
    rules = [
        Rule(Metric.LATENCY, Op.GT, 500, timedelta(minutes=5)),
        Rule(Metric.THROUGHPUT, Op.LT, 1, timedelta(minutes=30)),
        Rule(Metric.LATENCY, Op.GT, 900, timedelta(minutes=1)),
    ]
    plan = plan_metrics(rules, NOW, MINUTE)
    assert plan.inference_types == ("LATENCY", "THROUGHPUT")
    assert plan.workload_types == ()
    assert plan.calls == 1
    assert plan.end == NOW and plan.start == NOW - timedelta(minutes=31)
    assert plan.samples == 32  # one a minute, both ends included
    both = [*rules, Rule(Metric.GPU, Op.LT, 10), Rule(Metric.REPLICAS, Op.LT, 2)]
    # Rules on both routes: one call, one route (inference first when nothing was read).
    assert plan_metrics(both, NOW, MINUTE) == plan
    gpu = plan_metrics(both, NOW, MINUTE, "workload")
    assert gpu.workload_types == ("GPU_UTILIZATION", "RUNNING_POD_COUNT")
    assert gpu.inference_types == () and gpu.calls == 1 and gpu.source == "workload"
    # The window is the longest `for` of the rules read (5 min here), plus one interval.
    assert gpu.start == NOW - timedelta(minutes=6) and gpu.samples == 7
    assert plan_metrics([], NOW, MINUTE).calls == 0
    day = plan_metrics([Rule(Metric.GPU, Op.LT, 10, timedelta(days=1))], NOW, timedelta(seconds=10))
    assert day.samples == MAX_SAMPLES
    with pytest.raises(ValueError):
        plan_metrics(rules, NOW, timedelta(0))


def test_verdicts() -> None:
    rule = Rule(Metric.LATENCY, Op.GT, 500, timedelta(minutes=5))
    # every sample of the last 5 minutes above: fires; since = first of the run
    fired = evaluate(rule, series([100, 600, 610, 620, 630, 640, 650]), NOW)
    assert fired.state == "breaching"
    assert fired.value == 650 and fired.since == NOW - timedelta(minutes=5)
    # one sample inside the 5 minutes at the threshold: not yet
    assert evaluate(rule, series([600, 600, 500, 600, 600, 600, 600]), NOW).state == "pending"
    # latest below: clear (resolves), whatever came before
    assert evaluate(rule, series([900] * 10 + [499]), NOW).state == "clear"
    # data younger than `for` never fires (a new workload)
    assert evaluate(rule, series([900, 900, 900]), NOW).state == "pending"
    # no data: unknown; missing samples are left out, never fire
    assert evaluate(rule, [], NOW).state == "unknown"
    assert evaluate(rule, series([None, None]), NOW).state == "unknown"
    gap = evaluate(rule, series([900, 900, 900, None, 900, 900, 900]), NOW)
    assert gap.state == "breaching"
    # samples after `now` are ignored
    assert evaluate(rule, [(NOW + MINUTE, 900.0)], NOW).state == "unknown"


def test_samples_come_from_the_right_series() -> None:
    answer = models.MetricsResponse.model_validate(
        {
            "measurements": [
                {
                    "type": "THROUGHPUT",
                    "values": [{"value": "3", "timestamp": "2026-03-01T12:00:00Z"}],
                },
                {"type": "LATENCY", "values": [{"value": "", "timestamp": "2026-03-01T12:00:00Z"}]},
            ]
        }
    )
    latency = find_series(answer.measurements, Metric.LATENCY)
    assert samples_of(latency) == [(NOW, None)]
    assert samples_of(find_series(answer.measurements, Metric.THROUGHPUT)) == [(NOW, 3.0)]
    assert find_series(answer.measurements, Metric.GPU) is None
    assert samples_of(None) == []


values = st.lists(st.one_of(st.none(), st.floats(0, 1000)), max_size=40)


@given(values, st.integers(1, 30), st.floats(0, 1000), st.sampled_from(list(Op)))
def test_verdict_matches_its_definition(
    raw: list[float | None], minutes: int, threshold: float, op: Op
) -> None:
    rule = Rule(Metric.LATENCY, op, threshold, timedelta(minutes=minutes))
    samples = series(raw)
    verdict = evaluate(rule, list(reversed(samples)), NOW)  # any order
    known = [(at, v) for at, v in samples if v is not None]
    if not known:
        assert verdict.state == "unknown"
        return
    latest = known[-1][1]
    assert latest is not None and verdict.value == latest
    if not op.holds(latest, threshold):
        assert verdict.state == "clear"
        return
    recent = [v for at, v in known if at >= NOW - rule.for_]
    assert (
        all(v is not None and op.holds(v, threshold) for v in recent) or verdict.state == "pending"
    )
    covered = any(at <= NOW - rule.for_ for at, _ in known)
    all_breach = all(
        v is not None and op.holds(v, threshold) for at, v in known if at >= NOW - rule.for_
    )
    # the run reaching back past now - for means the last `for` all breach, and coverage
    expect = "breaching" if covered and all_breach and _run_reaches(known, rule, NOW) else "pending"
    assert verdict.state == expect


def _run_reaches(known: list[tuple[datetime, float | None]], rule: Rule, now: datetime) -> bool:
    for at, v in reversed(known):
        assert v is not None
        if not rule.breached_by(v):
            return False
        if at <= now - rule.for_:
            return True
    return False


def test_next_route_alternates_and_breaks_ties_towards_a_state_change() -> None:
    both: set[Source] = {"inference", "workload"}
    assert next_route(both, {}) == "inference"
    assert next_route(both, {}, urgent={"workload"}) == "workload"
    assert next_route({"workload"}, {}) == "workload"
    assert next_route(set(), {}) is None
    read: dict[Source, datetime] = {}
    picked = []
    for n in range(4):
        route = next_route(both, read, urgent={"inference"})
        assert route is not None
        read[route] = NOW + n * MINUTE
        picked.append(route)
    # Least recently read first: urgency never starves the other route.
    assert picked == ["inference", "workload", "inference", "workload"]
