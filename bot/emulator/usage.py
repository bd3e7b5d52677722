"""What a workload asks for and serves: GPUs, CPUs, memory per pod, and traffic settings.

Metrics are a function of (workload, time): a `TrafficSetting` from the test control
changes only what comes after its `since`, so samples drawn before it keep their values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.emulator.errors import bad_request

# The emulated cluster's GPUs are 80 GiB cards (H100 80GB).
GPU_MEMORY_BYTES = 80 * 2**30
# vLLM reserves this share of the GPU memory it is given, busy or idle.
VLLM_MEMORY_SHARE = 0.9
TRAFFIC_FIELDS = ("requestsPerSecond", "latencyMs", "gpuUtilization")
SHAPE = '{"requestsPerSecond"?: number, "latencyMs"?: number, "gpuUtilization"?: percent}'
# Upper bounds that keep a mistyped value (ms for s, a fraction x100...) from passing.
TRAFFIC_LIMITS = {
    "requestsPerSecond": 1_000_000.0,
    "latencyMs": 3_600_000.0,
    "gpuUtilization": 100.0,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_SUFFIXES = {
    "": 1.0,
    "m": 1e-3,
    "k": 1e3,
    "K": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
}


@dataclass(frozen=True, slots=True)
class TrafficSetting:
    """Values set by `POST /emulator/workloads/{id}/traffic` at `since`.

    `values` holds only the fields given; a None value hands that series back to the
    emulator's own curve.
    """

    since: float
    values: Mapping[str, float | None]


def traffic_at(settings: Sequence[TrafficSetting], moment: float) -> dict[str, float | None]:
    """The controlled values in force at `moment` (later settings override earlier ones)."""
    merged: dict[str, float | None] = {}
    for setting in settings:
        if setting.since > moment:
            break
        merged.update(setting.values)
    return merged


def parse_traffic(body: Any) -> dict[str, float | None]:
    """Validate a traffic control body (any subset of TRAFFIC_FIELDS); 400 on nonsense."""
    shape = SHAPE
    if not isinstance(body, Mapping):
        raise bad_request("Bad request - the body must be a JSON object", details=shape)
    unknown = sorted(set(body) - set(TRAFFIC_FIELDS))
    if unknown:
        raise bad_request(
            "Bad request - unknown traffic field(s): " + ", ".join(unknown), details=shape
        )
    if not body:
        raise bad_request("Bad request - give at least one traffic field", details=shape)
    values: dict[str, float | None] = {}
    for name in TRAFFIC_FIELDS:
        if name not in body:
            continue
        value = body[name]
        if value is None:
            values[name] = None
            continue
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            raise bad_request(f"Bad request - {name} must be a number, got {value!r}", shape)
        limit = TRAFFIC_LIMITS[name]
        if not 0 <= value <= limit:
            unit = (
                " (a percentage, like the GPU_UTILIZATION metric)"
                if name == "gpuUtilization"
                else ""
            )
            raise bad_request(
                f"Bad request - {name} must be between 0 and {limit:g}{unit}, got {value!r}",
                details=shape,
            )
        values[name] = float(value)
    return values


def quantity(text: Any) -> float:
    """A Kubernetes quantity ('20G', '200Mi', '1.5') as a number; 0 when absent or odd."""
    if not isinstance(text, str):
        return 0.0
    match = _QUANTITY.match(text)
    if match is None:
        return 0.0
    number, suffix = match.groups()
    try:
        if suffix in _SUFFIXES:
            return float(number) * _SUFFIXES[suffix]
        return float(number + suffix)  # an exponent, e.g. 2e9
    except ValueError:
        return 0.0


def _compute(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    compute = spec.get("compute")
    return compute if isinstance(compute, Mapping) else {}


def gpus_per_pod(spec: Mapping[str, Any]) -> float:
    """GPUs one replica holds: devices, times the portion when a portion is asked."""
    compute = _compute(spec)
    devices = compute.get("gpuDevicesRequest")
    portion = compute.get("gpuPortionRequest")
    memory = quantity(compute.get("gpuMemoryRequest"))
    if devices is None:
        devices = 1 if portion is not None or memory > 0 else 0
    if portion is not None:
        return float(devices) * float(portion)
    if memory > 0:
        return float(devices) * min(1.0, memory / GPU_MEMORY_BYTES)
    return float(devices)


def gpu_memory_per_pod(spec: Mapping[str, Any]) -> float:
    """GPU memory one replica is given, in bytes."""
    memory = quantity(_compute(spec).get("gpuMemoryRequest"))
    if memory > 0:
        devices = _compute(spec).get("gpuDevicesRequest") or 1
        return float(devices) * memory
    return gpus_per_pod(spec) * GPU_MEMORY_BYTES


def compute_value(spec: Mapping[str, Any], field: str) -> float:
    """A number or quantity of the spec's `compute` (cpuCoreRequest, cpuMemoryLimit...)."""
    value = _compute(spec).get(field)
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    return quantity(value)
