"""Inference, pod and workload metrics: query parsing and deterministic, plausible series.

A value depends only on (workload, pod, metric type, timestamp) and on what the workload
was doing at that timestamp (its phase, its revision's replicas and GPUs, the traffic
control in force), so the same window asked twice gives the same numbers, overlapping
windows agree, and a change now leaves earlier samples as they were. No sample predates
the workload: the window starts at its creation at the earliest.
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
from bot.emulator.state import WorkloadRecord, pod_id
from bot.emulator.usage import (
    VLLM_MEMORY_SHARE,
    compute_value,
    gpu_memory_per_pod,
    gpus_per_pod,
)

INFERENCE_METRIC_TYPES = ("THROUGHPUT", "LATENCY")
# WorkloadMetricType, in the schema's order.
WORKLOAD_METRIC_TYPES = (
    "GPU_UTILIZATION", "GPU_MEMORY_USAGE_BYTES", "GPU_MEMORY_REQUEST_BYTES", "CPU_USAGE_CORES",
    "CPU_REQUEST_CORES", "CPU_LIMIT_CORES", "CPU_MEMORY_USAGE_BYTES", "CPU_MEMORY_REQUEST_BYTES",
    "CPU_MEMORY_LIMIT_BYTES", "POD_COUNT", "RUNNING_POD_COUNT", "GPU_ALLOCATION",
    "NIM_NUM_REQUESTS_RUNNING", "NIM_NUM_REQUESTS_WAITING", "NIM_NUM_REQUEST_MAX",
    "NIM_REQUEST_SUCCESS_TOTAL", "NIM_REQUEST_FAILURE_TOTAL", "NIM_GPU_CACHE_USAGE_PERC",
    "NIM_TIME_TO_FIRST_TOKEN_SECONDS", "NIM_E2E_REQUEST_LATENCY_SECONDS",
    "NIM_TIME_TO_FIRST_TOKEN_SECONDS_PERCENTILES", "NIM_E2E_REQUEST_LATENCY_SECONDS_PERCENTILES",
    "NVLINK_BANDWIDTH_TOTAL",
)  # fmt: skip
# Series the emulated workloads never have data for: they are no NIM services and their
# GPUs have no NVLink. Asked for, they come back with no values.
NO_DATA_TYPES = frozenset(t for t in WORKLOAD_METRIC_TYPES if t.startswith(("NIM_", "NVLINK")))
# Written as whole numbers.
WHOLE_TYPES = frozenset(
    {
        "POD_COUNT",
        "RUNNING_POD_COUNT",
        "GPU_MEMORY_USAGE_BYTES",
        "GPU_MEMORY_REQUEST_BYTES",
        "CPU_MEMORY_USAGE_BYTES",
        "CPU_MEMORY_REQUEST_BYTES",
        "CPU_MEMORY_LIMIT_BYTES",
    }
)
DEFAULT_SAMPLES = 20
MAX_SAMPLES = 1000
# A serving replica's own CPU and host memory use (vLLM's engine and tokenizer).
CPU_CORES_PER_POD = 0.6
CPU_MEMORY_PER_POD = 6 * 2**30


@dataclass(frozen=True)
class MetricsQuery:
    """A validated metrics query."""

    types: tuple[str, ...]
    start: float
    end: float
    samples: int


def parse_query(
    metric_types: Sequence[str],
    params: dict[str, str],
    allowed: Sequence[str] = INFERENCE_METRIC_TYPES,
    family: str = "inference metrics",
) -> MetricsQuery:
    """Validate metricType/start/end/numberOfSamples; 400 with the reason otherwise."""
    types = split_params(metric_types)
    if not types:
        raise bad_request("Bad request - metricType is required", details=", ".join(allowed))
    for metric_type in types:
        if metric_type not in allowed:
            raise bad_request(
                f"Bad request - unsupported metricType {metric_type!r}",
                details=f"{family} support " + ", ".join(allowed),
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


def timestamps(query: MetricsQuery, not_before: float = -math.inf) -> list[float]:
    """`samples` instants spread evenly over the window (inclusive), cut to `not_before`.

    The window starts at `not_before` (the workload's creation) when that is later; a
    window that ends before it has no samples.
    """
    start = max(query.start, not_before)
    if query.samples == 0 or query.end < start:
        return []
    if query.samples == 1 or query.end == start:
        return [query.end]
    step = (query.end - start) / (query.samples - 1)
    return [start + index * step for index in range(query.samples)]


def _seed(*parts: str) -> float:
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _wave(seed: float, moment: float) -> float:
    """A slow swell and a faster ripple, within about ±0.33."""
    return math.sin(moment / 900.0 + seed * 6.283) * 0.25 + math.sin(moment / 97.0 + seed) * 0.08


def _jitter(seed: float, moment: float) -> float:
    """A little noise (within ±3%) around a value the traffic control set."""
    return 1.0 + 0.03 * math.sin(moment / 13.0 + seed * 6.283) * math.cos(moment / 41.0 + seed)


def value_at(key: str, metric_type: str, moment: float, replicas: int) -> float:
    """The built-in curves: THROUGHPUT in requests/s (scales with replicas), LATENCY in ms."""
    seed = _seed(key, metric_type)
    wave = _wave(seed, moment)
    if metric_type == "THROUGHPUT":
        base = (4.0 + 16.0 * seed) * max(replicas, 0)
        return max(0.0, base * (1.0 + wave))
    base = 80.0 + 220.0 * seed
    return max(1.0, base * (1.0 + wave))


def _controlled(value: float, key: str, metric_type: str, moment: float) -> float:
    if value == 0:
        return 0.0
    return value * _jitter(_seed(key, metric_type, "traffic"), moment)


def serving_value(
    record: WorkloadRecord, metric_type: str, moment: float, pod: int | None = None
) -> float:
    """THROUGHPUT or LATENCY of the workload (or of its replica `pod`) at `moment`."""
    key = record.id if pod is None else f"{record.id}/{pod_id(record.id, pod)}"
    running = record.running_at(moment)
    traffic = record.traffic_at(moment)
    if metric_type == "THROUGHPUT":
        if pod is not None and pod >= running:
            return 0.0
        rate = traffic.get("requestsPerSecond")
        if rate is None:
            return value_at(key, metric_type, moment, 1 if pod is not None else running)
        if running == 0:
            return 0.0
        share = rate / running if pod is not None else rate
        return _controlled(share, key, metric_type, moment)
    latency = traffic.get("latencyMs")
    if latency is None:
        return value_at(key, metric_type, moment, running)
    return _controlled(latency, key, metric_type, moment)


def gpu_utilization(record: WorkloadRecord, moment: float) -> float:
    """GPU_UTILIZATION (percent) at `moment`: 0 without GPUs, else the control or a curve."""
    running = record.running_at(moment)
    if running == 0 or gpus_per_pod(record.revision_at(moment).spec) == 0:
        return 0.0
    controlled = record.traffic_at(moment).get("gpuUtilization")
    if controlled is not None:
        return min(100.0, _controlled(controlled, record.id, "GPU_UTILIZATION", moment))
    seed = _seed(record.id, "GPU_UTILIZATION")
    return min(100.0, max(1.0, (40.0 + 30.0 * seed) * (1.0 + _wave(seed, moment))))


def gpu_allocation(record: WorkloadRecord, moment: float) -> float:
    """GPUs the workload holds at `moment` (its serving replicas' GPUs)."""
    running = record.running_at(moment)
    if running == 0:
        return 0.0
    return gpus_per_pod(record.revision_at(moment).spec) * running


def idle_gpus(record: WorkloadRecord, moment: float) -> float:
    """GPUs held but idle at `moment`: all of them while the GPU utilisation is 0."""
    allocated = gpu_allocation(record, moment)
    if allocated == 0 or gpu_utilization(record, moment) > 0:
        return 0.0
    return allocated


def workload_value(record: WorkloadRecord, metric_type: str, moment: float) -> float:
    """One sample of a `WorkloadMetricType` series (NO_DATA_TYPES excluded)."""
    if metric_type == "GPU_UTILIZATION":
        return gpu_utilization(record, moment)
    if metric_type == "GPU_ALLOCATION":
        return gpu_allocation(record, moment)
    if metric_type == "POD_COUNT":
        return float(record.pods_at(moment))
    running = record.running_at(moment)
    if metric_type == "RUNNING_POD_COUNT":
        return float(running)
    spec = record.revision_at(moment).spec
    seed = _seed(record.id, metric_type)
    if metric_type == "GPU_MEMORY_REQUEST_BYTES":
        return gpu_memory_per_pod(spec) * running
    if metric_type == "GPU_MEMORY_USAGE_BYTES":
        return (
            gpu_memory_per_pod(spec)
            * running
            * VLLM_MEMORY_SHARE
            * (1 + 0.01 * _wave(seed, moment))
        )
    if metric_type == "CPU_USAGE_CORES":
        cores = CPU_CORES_PER_POD * (1.0 + _wave(seed, moment)) * running
        limit = compute_value(spec, "cpuCoreLimit")
        return min(cores, limit * running) if limit > 0 else cores
    if metric_type == "CPU_MEMORY_USAGE_BYTES":
        return CPU_MEMORY_PER_POD * (1.0 + 0.2 * _wave(seed, moment)) * running
    fields = {
        "CPU_REQUEST_CORES": "cpuCoreRequest",
        "CPU_LIMIT_CORES": "cpuCoreLimit",
        "CPU_MEMORY_REQUEST_BYTES": "cpuMemoryRequest",
        "CPU_MEMORY_LIMIT_BYTES": "cpuMemoryLimit",
    }
    return compute_value(spec, fields[metric_type]) * running


def _written(metric_type: str, value: float) -> str:
    if metric_type in WHOLE_TYPES:
        return str(round(value))
    return f"{value:.3f}"


def measurements(
    record: WorkloadRecord,
    query: MetricsQuery,
    *,
    pod: int | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A `MetricsResponse` (or `MetricsCompositeResponse`) body for one workload or pod."""
    instants = timestamps(query, record.created_at)
    series = []
    for metric_type in query.types:
        values: list[dict[str, Any]] = []
        if metric_type not in NO_DATA_TYPES:
            for moment in instants:
                if metric_type in INFERENCE_METRIC_TYPES:
                    value = serving_value(record, metric_type, moment, pod)
                else:
                    value = workload_value(record, metric_type, moment)
                values.append({"value": _written(metric_type, value), "timestamp": iso(moment)})
        series.append({"type": metric_type, "labels": labels, "values": values})
    return {"measurements": series}
