"""An alert rule, its words, the metrics it needs, and its verdict over a window of samples.

A rule is `<metric> <op> <threshold> for <duration>`: `latency > 500 for 5m`.

Evaluation, precisely (`evaluate`):
- The samples are the rule's series over the window `plan_metrics` asks for, up to `now`.
  A sample without a value (no data) is left out: missing data never fires a rule.
- **clear** when the latest sample does not breach: an episode resolves on it.
- **breaching** when the latest sample breaches *and* every sample of the last `for`
  breaches: the unbroken run of breaching samples that ends with the latest one began at
  or before `now - for` (one second of slack for timestamps rounded to milliseconds).
  The run's first sample is the episode's "since".
- **pending** when the latest sample breaches but the run is younger than `for`.
- **unknown** when there is no sample with a value (a 207 without the series, a workload
  not serving yet): nothing changes.
Since the window reaches one evaluation interval further back than the longest `for`,
a breach that lasts is seen whole at the latest one interval after `for` has passed.

Which calls: latency and throughput are series of the inference metrics route
(`InferenceWorkloadMetricType`), GPU utilisation and running pods of the workload metrics
route (`WorkloadMetricType`); no route serves both. An evaluation makes at most one
metrics call per endpoint (issue 12): `plan_metrics` asks one route for every series its
rules need. An endpoint with rules on both routes reads one route per evaluation,
`next_route` says which: the one read least recently, so the two alternate and each is
read at least every other evaluation (a tie, as after a takeover, goes to the route
closest to a state change: a firing or pending rule first, then the inference route).

The trade-off: each read still covers the whole window of its rules (longest `for` plus
one interval), so a verdict is as right as with a call per route; a rule whose route is
not read this time gets no verdict and nothing changes for it (like missing data). Only
the time to notice a breach or its end grows, by at most one interval, and only for
endpoints with rules on both routes. One call per endpoint keeps the evaluation's Run:ai
load at the number of endpoints (1,000 calls, not 1,500, for `bench/alert_scale.py`).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from bot.durations import format_duration, parse_duration, say_duration
from bot.runai import models
from bot.runai import observability as obs

DEFAULT_FOR = timedelta(minutes=5)
MIN_FOR = timedelta(minutes=1)
MAX_FOR = timedelta(days=1)
MAX_SAMPLES = 1000  # `numberOfSamples` 0..1000
_SLACK = timedelta(seconds=1)


class Metric(StrEnum):
    """What a rule watches (the words users type)."""

    LATENCY = "latency"
    THROUGHPUT = "throughput"
    GPU = "gpu"
    REPLICAS = "replicas"


Source = Literal["inference", "workload"]


@dataclass(frozen=True)
class MetricInfo:
    """How a metric is read and said."""

    label: str
    unit: str  # spoken after the number; "" for a count
    source: Source
    api_type: str  # the series' `type` in the answer
    maximum: float  # the largest threshold that makes sense
    whole: bool = False  # thresholds are whole numbers


METRICS: dict[Metric, MetricInfo] = {
    Metric.LATENCY: MetricInfo(
        "latency", "ms", "inference", str(models.MetricType.LATENCY), 3_600_000
    ),
    Metric.THROUGHPUT: MetricInfo(
        "throughput", "req/s", "inference", str(models.MetricType.THROUGHPUT), 1_000_000
    ),
    Metric.GPU: MetricInfo(
        "GPU utilisation", "%", "workload", str(obs.WorkloadMetricType.GPU_UTILIZATION), 100
    ),
    Metric.REPLICAS: MetricInfo(
        "running pods",
        "",
        "workload",
        str(obs.WorkloadMetricType.RUNNING_POD_COUNT),
        1000,
        whole=True,
    ),
}


class Op(StrEnum):
    """A comparison: the rule breaches when `value <op> threshold`."""

    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="

    @property
    def words(self) -> str:
        """The comparison in words."""
        return _OP_WORDS[self]

    def holds(self, value: float, threshold: float) -> bool:
        """Whether `value <op> threshold`."""
        if self is Op.GT:
            return value > threshold
        if self is Op.GE:
            return value >= threshold
        if self is Op.LT:
            return value < threshold
        return value <= threshold


_COMPARE: dict[Op, Callable[[float, float], bool]] = {
    Op.GT: operator.gt,
    Op.GE: operator.ge,
    Op.LT: operator.lt,
    Op.LE: operator.le,
}
_OP_WORDS = {Op.GT: "above", Op.GE: "at or above", Op.LT: "below", Op.LE: "at or below"}


def number_text(value: float) -> str:
    """A threshold or value as people write it: `500`, `0.5`, `1000000`, `12.35`."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def value_text(metric: Metric, value: float) -> str:
    """A value with its unit: `512 ms`, `0.5 req/s`, `7 %`, `2`."""
    unit = METRICS[metric].unit
    return f"{number_text(value)} {unit}" if unit else number_text(value)


@dataclass(frozen=True)
class Rule:
    """`<metric> <op> <threshold> for <duration>`."""

    metric: Metric
    op: Op
    threshold: float
    for_: timedelta = DEFAULT_FOR

    def __post_init__(self) -> None:
        info = METRICS[self.metric]
        if not (math.isfinite(self.threshold) and 0 <= self.threshold <= info.maximum):
            raise ValueError(f"threshold of {info.label} must be within 0..{info.maximum:g}")
        if info.whole and self.threshold != int(self.threshold):
            raise ValueError(f"threshold of {info.label} must be a whole number")
        if not MIN_FOR <= self.for_ <= MAX_FOR:
            raise ValueError("for must be between 1m and 1d")

    @property
    def info(self) -> MetricInfo:
        """How its metric is read and said."""
        return METRICS[self.metric]

    def words(self) -> str:
        """The rule in words: `latency above 500 ms for 5 min`."""
        return (
            f"{self.info.label} {self.op.words} {value_text(self.metric, self.threshold)} "
            f"for {say_duration(self.for_)}"
        )

    def command(self) -> str:
        """The rule as typed: `latency > 500 for 5m`."""
        return (
            f"{self.metric} {self.op} {number_text(self.threshold)} "
            f"for {format_duration(self.for_)}"
        )

    def breached_by(self, value: float) -> bool:
        """Whether one sample breaches the rule."""
        return self.op.holds(value, self.threshold)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (for the database)."""
        return {
            "metric": str(self.metric),
            "op": str(self.op),
            "threshold": self.threshold,
            "for": format_duration(self.for_),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rule:
        """The rule `to_json` wrote."""
        return cls(
            Metric(data["metric"]),
            Op(data["op"]),
            float(data["threshold"]),
            parse_duration(str(data["for"])),
        )


# --- what to ask Run:ai ------------------------------------------------------------------


SOURCES: tuple[Source, ...] = ("inference", "workload")
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class MetricsPlan:
    """The one metrics call of an endpoint's evaluation: a route and every series of it
    that the rules read this time (no call when no rule needs one)."""

    inference_types: tuple[str, ...]
    workload_types: tuple[str, ...]
    start: datetime
    end: datetime
    samples: int

    @property
    def calls(self) -> int:
        """How many metrics calls the plan makes (0 or 1)."""
        return bool(self.inference_types) + bool(self.workload_types)

    @property
    def source(self) -> Source | None:
        """The route the plan reads (None: nothing to read)."""
        return "inference" if self.inference_types else "workload" if self.workload_types else None


def routes_of(rules: Iterable[Rule]) -> set[Source]:
    """The metrics routes the rules read."""
    return {r.info.source for r in rules}


def next_route(
    needed: Iterable[Source],
    last_read: Mapping[Source, datetime],
    urgent: Iterable[Source] = (),
) -> Source | None:
    """The route to read this evaluation: the one read least recently (never read first),
    so that an endpoint with rules on both routes alternates; a tie goes to an `urgent`
    route (a rule firing or pending there), then to the inference route."""
    hot = set(urgent)

    def order(source: Source) -> tuple[datetime, bool, int]:
        return (last_read.get(source, _NEVER), source not in hot, SOURCES.index(source))

    return min(needed, key=order, default=None)


def plan_metrics(
    rules: Iterable[Rule], now: datetime, interval: timedelta, source: Source | None = None
) -> MetricsPlan:
    """The one call for `rules` on `source` (default: the route `next_route` picks first,
    with no history): the window (the longest `for` of the rules read, plus one
    `interval`) and every series they need.

    Samples are spaced about `interval` apart (fewer when the window would need more than
    the API's 1000).
    """
    rules = list(rules)
    if interval <= timedelta(0):
        raise ValueError("interval must be positive")
    if source is None:
        source = next_route(routes_of(rules), {})
    read = [r for r in rules if r.info.source == source]
    longest = max((r.for_ for r in read), default=DEFAULT_FOR)
    window = longest + interval
    samples = min(MAX_SAMPLES, math.ceil(window / interval) + 1)

    def wanted(route: Source) -> tuple[str, ...]:
        return tuple(sorted({r.info.api_type for r in read})) if route == source else ()

    return MetricsPlan(wanted("inference"), wanted("workload"), now - window, now, samples)


# --- the verdict -------------------------------------------------------------------------

Sample = tuple[datetime, float | None]
VerdictState = Literal["breaching", "pending", "clear", "unknown"]


@dataclass(frozen=True)
class Verdict:
    """What the samples say about a rule now."""

    state: VerdictState
    value: float | None = None  # the latest sample's value
    at: datetime | None = None  # the latest sample's time
    since: datetime | None = None  # first sample of the breaching run that ends now


def samples_of(series: models.Measurement | None) -> list[Sample]:
    """The (time, value) pairs of a series; samples without a time are left out."""
    if series is None:
        return []
    return [(v.timestamp, v.value) for v in series.values if v.timestamp is not None]


def find_series(
    measurements: Sequence[models.Measurement], metric: Metric
) -> models.Measurement | None:
    """The series of `metric` among the measurements of one or two answers."""
    wanted = METRICS[metric].api_type.upper()
    return next((m for m in measurements if m.type.upper() == wanted), None)


def evaluate(rule: Rule, samples: Sequence[Sample], now: datetime) -> Verdict:
    """The rule's verdict over `samples` (any order); see the module docstring."""
    known = sorted((at, value) for at, value in samples if value is not None and at <= now)
    return _verdict(rule, known, now)


def _known(series: models.Measurement | None, now: datetime) -> list[tuple[datetime, float]]:
    """The samples with a time and a value up to `now`, oldest first (one pass)."""
    if series is None:
        return []
    known = [
        (v.timestamp, v.value)
        for v in series.values
        if v.value is not None and v.timestamp is not None and v.timestamp <= now
    ]
    known.sort()  # Run:ai answers in time order already: one pass to check it
    return known


def _verdict(rule: Rule, known: Sequence[tuple[datetime, float]], now: datetime) -> Verdict:
    if not known:
        return Verdict("unknown")
    at, value = known[-1]
    # One comparison per sample, without a method call each (the lease holder runs this
    # for every sample of every rule, every interval).
    breached, threshold = _COMPARE[rule.op], rule.threshold
    if not breached(value, threshold):
        return Verdict("clear", value, at)
    since = at
    for moment, earlier in reversed(known):
        if not breached(earlier, threshold):
            break
        since = moment
    state: VerdictState = "breaching" if since <= now - rule.for_ + _SLACK else "pending"
    return Verdict(state, value, at, since)


def evaluate_all(
    rules: Mapping[str, Rule], measurements: Sequence[models.Measurement], now: datetime
) -> dict[str, Verdict]:
    """Every rule of one endpoint (by id) over the series of its plan's answers."""
    series: dict[Metric, list[tuple[datetime, float]]] = {}  # read once per metric
    verdicts: dict[str, Verdict] = {}
    for rule_id, rule in rules.items():
        if rule.metric not in series:
            series[rule.metric] = _known(find_series(measurements, rule.metric), now)
        verdicts[rule_id] = _verdict(rule, series[rule.metric], now)
    return verdicts
