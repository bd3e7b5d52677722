"""Request checks that answer 400 the way the control plane does (FACTS.md §2, §5)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.emulator.errors import ApiError, bad_request

# Kubernetes DNS-1123 label: what Run:ai accepts as a workload name.
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
NAME_MAX = 63
_METRIC = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_QUANTITY = re.compile(r"^([+]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
SCALE_TO_ZERO_METRICS = frozenset({"throughput", "concurrency"})
PREFIX_SUFFIX_LENGTH = 5


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_name(name: Any, *, as_prefix: bool = False) -> str:
    """A workload name must be a DNS-1123 label; say exactly what is wrong."""
    if name is None or name == "":
        raise bad_request("Bad request - Resource should have a name", details="field: name")
    if not isinstance(name, str):
        raise bad_request("Bad request - name must be a string", details="field: name")
    limit = NAME_MAX - (PREFIX_SUFFIX_LENGTH + 1 if as_prefix else 0)
    problems = []
    if len(name) > limit:
        problems.append(f"must be no more than {limit} characters (got {len(name)})")
    if name != name.lower():
        problems.append("must be lower case")
    if re.search(r"[^a-zA-Z0-9-]", name):
        problems.append("may contain only lower-case letters, digits and '-'")
    if not name[0].isalnum():
        problems.append("must start with a letter or digit")
    if not name[-1].isalnum():
        problems.append("must end with a letter or digit")
    if problems or not _NAME.match(name):
        if not problems:
            problems.append("must be a valid DNS-1123 label")
        raise bad_request(
            f"Bad request - invalid workload name {name!r}: " + "; ".join(problems),
            details="a DNS-1123 label: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters",
        )
    return name


def _object(value: Any, field: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise bad_request(f"Bad request - {field} must be an object", details=f"field: {field}")
    return value


def check_creation(body: Any) -> None:
    """Validate an `InferenceCreationRequest`'s fields other than project/cluster lookup."""
    if not isinstance(body, Mapping):
        raise bad_request("Bad request - the body must be a JSON object")
    check_name(body.get("name"), as_prefix=bool(body.get("useGivenNameAsPrefix")))
    if "useGivenNameAsPrefix" in body and not isinstance(body["useGivenNameAsPrefix"], bool):
        raise bad_request("Bad request - useGivenNameAsPrefix must be a boolean")
    for field in ("projectId", "clusterId"):
        value = body.get(field)
        if value is None or value == "":
            raise bad_request(f"Bad request - {field} is required", details=f"field: {field}")
        if not isinstance(value, str):
            raise bad_request(f"Bad request - {field} must be a string", details=f"field: {field}")
    spec = _object(body.get("spec"), "spec")
    image = spec.get("image")
    if image is None or image == "":
        raise bad_request(
            "Bad request - The image name is mandatory for creating a workload",
            details="field: spec.image",
        )
    port = _object(spec.get("servingPort"), "spec.servingPort").get("container")
    if port is None:
        raise bad_request(
            "Bad request - spec.servingPort.container is mandatory for an inference workload",
            details="field: spec.servingPort.container",
        )
    check_spec(spec)


def check_spec(spec: Mapping[str, Any]) -> None:
    """Checks shared by create and PATCH on the (merged) spec."""
    image = spec.get("image")
    if image is not None and (not isinstance(image, str) or not image.strip()):
        raise bad_request("Bad request - spec.image must be a non-empty string")
    serving_port = _object(spec.get("servingPort"), "spec.servingPort")
    port = serving_port.get("container")
    if port is not None and (not _is_int(port) or not 1 <= port <= 65535):
        raise bad_request(
            "Bad request - spec.servingPort.container must be an integer in 1..65535, "
            f"got {port!r}",
            details="field: spec.servingPort.container",
        )
    for field in ("args", "command"):
        value = spec.get(field)
        if value is not None and (not isinstance(value, str) or not value):
            raise bad_request(f"Bad request - spec.{field} must be a non-empty string")
    _check_environment(spec.get("environmentVariables"))
    check_compute(_object(spec.get("compute"), "spec.compute"))
    check_autoscaling(spec.get("autoscaling"))
    serving = _object(spec.get("servingConfiguration"), "spec.servingConfiguration")
    for field in ("initializationTimeoutSeconds", "requestTimeoutSeconds"):
        value = serving.get(field)
        if value is not None and (not _is_int(value) or value < 1):
            raise bad_request(f"Bad request - spec.servingConfiguration.{field} must be >= 1")


def _check_environment(env: Any) -> None:
    if env is None:
        return
    if not isinstance(env, list):
        raise bad_request("Bad request - spec.environmentVariables must be an array")
    for index, item in enumerate(env):
        if item is None:
            continue
        if not isinstance(item, Mapping):
            raise bad_request(f"Bad request - spec.environmentVariables[{index}] must be an object")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise bad_request(
                f"Bad request - spec.environmentVariables[{index}].name is mandatory",
                details=f"field: spec.environmentVariables[{index}].name",
            )


def check_compute(compute: Mapping[str, Any]) -> None:
    """GPU and CPU request sanity (portion in (0,1], limits not below requests...)."""
    devices = compute.get("gpuDevicesRequest")
    if devices is not None and (not _is_int(devices) or devices < 0):
        raise bad_request("Bad request - spec.compute.gpuDevicesRequest must be an integer >= 0")
    portion = compute.get("gpuPortionRequest")
    if portion is not None and (not _is_number(portion) or not 0 < portion <= 1):
        raise bad_request(
            f"Bad request - spec.compute.gpuPortionRequest must be in (0, 1], got {portion!r}",
            details="field: spec.compute.gpuPortionRequest",
        )
    portion_limit = compute.get("gpuPortionLimit")
    if portion_limit is not None:
        if not _is_number(portion_limit) or not 0 < portion_limit <= 1:
            raise bad_request("Bad request - spec.compute.gpuPortionLimit must be in (0, 1]")
        if portion is not None and portion_limit < portion:
            raise bad_request(
                "Bad request - spec.compute.gpuPortionLimit must be no less than gpuPortionRequest"
            )
    request_type = compute.get("gpuRequestType")
    if request_type is not None and request_type not in ("portion", "memory"):
        raise bad_request("Bad request - spec.compute.gpuRequestType must be 'portion' or 'memory'")
    for field in ("gpuMemoryRequest", "gpuMemoryLimit", "cpuMemoryRequest", "cpuMemoryLimit"):
        value = compute.get(field)
        if value is not None and (not isinstance(value, str) or not _QUANTITY.match(value)):
            raise bad_request(
                f"Bad request - spec.compute.{field} must be a quantity like '20G', got {value!r}"
            )
    if request_type == "portion" and portion is None:
        raise bad_request(
            "Bad request - gpuPortionRequest is required when gpuRequestType is portion"
        )
    if request_type == "memory" and compute.get("gpuMemoryRequest") is None:
        raise bad_request(
            "Bad request - gpuMemoryRequest is required when gpuRequestType is memory"
        )
    if isinstance(devices, int) and devices > 1 and compute.get("gpuMemoryRequest") is not None:
        raise bad_request(
            "Bad request - gpuMemoryRequest cannot be used when gpuDevicesRequest is more than 1"
        )
    for field in ("cpuCoreRequest", "cpuCoreLimit"):
        value = compute.get(field)
        if value is not None and (not _is_number(value) or value < 0):
            raise bad_request(f"Bad request - spec.compute.{field} must be a number >= 0")


def effective_replicas(autoscaling: Mapping[str, Any] | None) -> tuple[int, int]:
    """(min, max) with the API's defaults: min 1; max = min, or 1 when min is 0."""
    scaling = autoscaling or {}
    minimum = scaling.get("minReplicas")
    minimum = 1 if minimum is None else int(minimum)
    maximum = scaling.get("maxReplicas")
    maximum = (minimum if minimum > 0 else 1) if maximum is None else int(maximum)
    return minimum, maximum


def check_autoscaling(value: Any) -> None:
    """The AutoScaling rules of FACTS.md §5."""
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise bad_request("Bad request - spec.autoscaling must be an object")
    field = "spec.autoscaling."
    bounds = {
        "minReplicas": (0, None),
        "maxReplicas": (1, None),
        "initialReplicas": (0, None),
        "activationReplicas": (1, None),
        "concurrencyHardLimit": (0, None),
        "scaleToZeroRetentionSeconds": (0, 3600),
        "scaleDownDelaySeconds": (0, 3600),
        "initializationTimeoutSeconds": (1, None),
        "metricThreshold": (None, None),
    }
    for name, (low, high) in bounds.items():
        number = value.get(name)
        if number is None:
            continue
        if not _is_int(number):
            raise _scaling(f"{field}{name} must be an integer, got {number!r}", name)
        if low is not None and number < low:
            raise _scaling(f"{field}{name} must be >= {low}, got {number}", name)
        if high is not None and number > high:
            raise _scaling(f"{field}{name} must be <= {high}, got {number}", name)
    minimum, maximum = effective_replicas(value)
    if maximum < minimum:
        raise _scaling(
            f"{field}maxReplicas ({maximum}) must be greater than or equal to "
            f"minReplicas ({minimum})",
            "maxReplicas",
        )
    metric = value.get("metric")
    if metric is not None:
        if not isinstance(metric, str) or not _METRIC.match(metric):
            raise _scaling(
                f"{field}metric {metric!r} must match ^[a-zA-Z_:][a-zA-Z0-9_:]*$", "metric"
            )
        if value.get("metricThreshold") is None:
            raise _scaling(
                f"{field}metricThreshold is mandatory when metric is specified", "metricThreshold"
            )
    elif minimum < maximum and not (minimum == 0 and maximum == 1):
        raise _scaling(
            f"{field}metric is mandatory when minReplicas ({minimum}) < maxReplicas ({maximum}), "
            "except for minReplicas=0 and maxReplicas=1",
            "metric",
        )
    if minimum == 0 and metric is not None and metric not in SCALE_TO_ZERO_METRICS:
        raise _scaling(
            f"{field}minReplicas=0 (scale-to-zero) is supported only with the 'throughput' or "
            f"'concurrency' metric, not {metric!r}",
            "minReplicas",
        )
    retention = value.get("scaleToZeroRetentionSeconds")
    if retention is not None and retention > 0 and minimum != 0:
        raise _scaling(
            f"{field}scaleToZeroRetentionSeconds is available only when minReplicas is 0",
            "scaleToZeroRetentionSeconds",
        )
    percentage = value.get("metricThresholdPercentage")
    if percentage is not None:
        if not _is_number(percentage) or not 1 <= percentage <= 100:
            raise _scaling(
                f"{field}metricThresholdPercentage must be in 1..100", "metricThresholdPercentage"
            )
        if metric not in SCALE_TO_ZERO_METRICS:
            raise _scaling(
                f"{field}metricThresholdPercentage applies only to the 'throughput' and "
                "'concurrency' metrics",
                "metricThresholdPercentage",
            )


def _scaling(message: str, name: str) -> ApiError:
    return bad_request("Bad request - " + message, details=f"field: spec.autoscaling.{name}")


def merge_patch(current: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """JSON merge patch (RFC 7386): objects merge, null removes, anything else replaces."""
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_patch(merged[key], value)
        elif isinstance(value, Mapping):
            merged[key] = merge_patch({}, value)
        else:
            merged[key] = value
    return merged


PATCHABLE = frozenset(
    {
        "args",
        "category",
        "command",
        "compute",
        "createHomeDir",
        "environmentVariables",
        "image",
        "imagePullPolicy",
        "imagePullSecrets",
        "nodeAffinityRequired",
        "nodePools",
        "nodeType",
        "podAffinity",
        "preemptibility",
        "priorityClass",
        "probes",
        "workingDir",
        "autoscaling",
        "servingConfiguration",
    }
)


def check_update(body: Any) -> Mapping[str, Any]:
    """Validate an `InferenceUpdateRequest` shape; return its `spec` patch."""
    if not isinstance(body, Mapping):
        raise bad_request("Bad request - the body must be a JSON object")
    spec = _object(body.get("spec"), "spec")
    unknown = sorted(set(spec) - PATCHABLE)
    if unknown:
        raise bad_request(
            "Bad request - these spec fields cannot be updated: " + ", ".join(unknown),
            details="updatable: " + ", ".join(sorted(PATCHABLE)),
        )
    return spec
