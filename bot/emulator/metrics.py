"""Inference metrics: query parsing and deterministic, plausible series.

A value depends only on (workload, pod, metric type, timestamp), so the same
window asked twice gives the same numbers, and overlapping windows agree.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.emulator.clock import iso, parse_timestamp
from bot.emulator.errors import bad_request
from bot.emulator.filtering import split_params

METRIC_TYPES = ("THROUGHPUT", "LATENCY")
DEFAULT_SAMPLES = 20
MAX_SAMPLES = 1000


@dataclass(frozen=True)
class MetricsQuery:
    """A validated metrics query."""

    types: tuple[str, ...]
    start: float
    end: float
    samples: int


def parse_query(metric_types: Sequence[str], params: dict[str, str]) -> MetricsQuery:
    """Validate metricType/start/end/numberOfSamples; 400 with the reason otherwise."""
    types = split_params(metric_types)
    if not types:
        raise bad_request("Bad request - metricType is required", details="THROUGHPUT, LATENCY")
    for metric_type in types:
        if metric_type not in METRIC_TYPES:
            raise bad_request(
                f"Bad request - unsupported metricType {metric_type!r}",
                details="inference metrics support " + ", ".join(METRIC_TYPES),
            )
    start = _time(params, "start")
    end = _time(params, "end")
    if end <= start:
        raise bad_request("Bad request - end must be after start")
    raw = params.get("numberOfSamples")
    samples = DEFAULT_SAMPLES
    if raw not in (None, ""):
        try:
            samples = int(str(raw))
        except ValueError:
            raise bad_request(
                f"Bad request - numberOfSamples must be an integer, got {raw!r}"
            ) from None
    if not 0 <= samples <= MAX_SAMPLES:
        raise bad_request(
            f"Bad request - numberOfSamples must be in 0..{MAX_SAMPLES}, got {samples}"
        )
    return MetricsQuery(tuple(dict.fromkeys(types)), start, end, samples)


def _time(params: dict[str, str], name: str) -> float:
    raw = params.get(name)
    if raw is None or raw == "":
        raise bad_request(f"Bad request - {name} is required (ISO 8601 date-time)")
    try:
        return parse_timestamp(raw)
    except ValueError:
        raise bad_request(f"Bad request - {name} {raw!r} is not an ISO 8601 date-time") from None


def timestamps(query: MetricsQuery) -> list[float]:
    """`samples` instants spread evenly from start to end (inclusive)."""
    if query.samples == 0:
        return []
    if query.samples == 1:
        return [query.end]
    step = (query.end - query.start) / (query.samples - 1)
    return [query.start + index * step for index in range(query.samples)]


def _seed(*parts: str) -> float:
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def value_at(key: str, metric_type: str, moment: float, replicas: int) -> float:
    """THROUGHPUT in requests/s (scales with replicas), LATENCY in milliseconds."""
    seed = _seed(key, metric_type)
    wave = math.sin(moment / 900.0 + seed * 6.283) * 0.25 + math.sin(moment / 97.0 + seed) * 0.08
    if metric_type == "THROUGHPUT":
        base = (4.0 + 16.0 * seed) * max(replicas, 0)
        return max(0.0, base * (1.0 + wave))
    base = 80.0 + 220.0 * seed
    return max(1.0, base * (1.0 + wave))


def measurements(
    key: str, query: MetricsQuery, replicas: int, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """A `MetricsResponse` body for one workload (or one pod)."""
    instants = timestamps(query)
    return {
        "measurements": [
            {
                "type": metric_type,
                "labels": labels,
                "values": [
                    {
                        "value": f"{value_at(key, metric_type, moment, replicas):.3f}",
                        "timestamp": iso(moment),
                    }
                    for moment in instants
                ],
            }
            for metric_type in query.types
        ]
    }
