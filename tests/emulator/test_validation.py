"""Every create/PATCH validation rule answers 400 with the API's Error body."""

from __future__ import annotations

from typing import Any

import pytest

from bot.emulator import CLUSTER_ID
from tests.emulator.conftest import INFERENCE, INFERENCES, MODULE_LOOP, Api, creation

pytestmark = MODULE_LOOP


def without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    """A copy of `body` with the nested key at `path` removed."""
    copy: dict[str, Any] = {**body, "spec": {**body["spec"]}}
    node = copy
    for key in path[:-1]:
        node[key] = dict(node[key])
        node = node[key]
    del node[path[-1]]
    return copy


BASE = creation("valid")

CREATE_CASES: list[tuple[str, dict[str, Any], str, str | None]] = [
    (
        "missing name",
        without(BASE, "name"),
        "Bad request - Resource should have a name",
        "field: name",
    ),
    ("empty name", BASE | {"name": ""}, "Bad request - Resource should have a name", "field: name"),
    (
        "upper-case name",
        BASE | {"name": "MyModel"},
        "Bad request - invalid workload name 'MyModel': must be lower case",
        None,
    ),
    (
        "underscore in name",
        BASE | {"name": "my_model"},
        "Bad request - invalid workload name 'my_model': may contain only lower-case letters, "
        "digits and '-'",
        None,
    ),
    (
        "name ends with dash",
        BASE | {"name": "model-"},
        "Bad request - invalid workload name 'model-': must end with a letter or digit",
        None,
    ),
    (
        "name starts with dash",
        BASE | {"name": "-model"},
        "Bad request - invalid workload name '-model': must start with a letter or digit",
        None,
    ),
    (
        "name too long",
        BASE | {"name": "a" * 64},
        "Bad request - invalid workload name '" + "a" * 64 + "': must be no more than 63 "
        "characters (got 64)",
        None,
    ),
    (
        "prefix too long for suffix",
        BASE | {"name": "a" * 60, "useGivenNameAsPrefix": True},
        "Bad request - invalid workload name '" + "a" * 60 + "': must be no more than 57 "
        "characters (got 60)",
        None,
    ),
    (
        "missing projectId",
        without(BASE, "projectId"),
        "Bad request - projectId is required",
        "field: projectId",
    ),
    (
        "missing clusterId",
        without(BASE, "clusterId"),
        "Bad request - clusterId is required",
        "field: clusterId",
    ),
    (
        "unknown project",
        BASE | {"projectId": "99"},
        "Bad request - project 99 does not exist",
        "field: projectId",
    ),
    (
        "unknown cluster",
        BASE | {"clusterId": "11111111-2222-4333-8444-555555555555"},
        "Bad request - cluster 11111111-2222-4333-8444-555555555555 does not exist",
        "field: clusterId",
    ),
    (
        "missing image",
        without(BASE, "spec", "image"),
        "Bad request - The image name is mandatory for creating a workload",
        "field: spec.image",
    ),
    (
        "missing serving port",
        without(BASE, "spec", "servingPort"),
        "Bad request - spec.servingPort.container is mandatory for an inference workload",
        "field: spec.servingPort.container",
    ),
    (
        "serving port out of range",
        creation("p", servingPort={"container": 70000}),
        "Bad request - spec.servingPort.container must be an integer in 1..65535, got 70000",
        "field: spec.servingPort.container",
    ),
    (
        "env var without name",
        creation("e", environmentVariables=[{"value": "x"}]),
        "Bad request - spec.environmentVariables[0].name is mandatory",
        "field: spec.environmentVariables[0].name",
    ),
    (
        "gpu portion above 1",
        creation("g", compute={"gpuRequestType": "portion", "gpuPortionRequest": 1.5}),
        "Bad request - spec.compute.gpuPortionRequest must be in (0, 1], got 1.5",
        "field: spec.compute.gpuPortionRequest",
    ),
    (
        "gpu portion zero",
        creation("g", compute={"gpuPortionRequest": 0}),
        "Bad request - spec.compute.gpuPortionRequest must be in (0, 1], got 0",
        "field: spec.compute.gpuPortionRequest",
    ),
    (
        "portion type without portion",
        creation("g", compute={"gpuRequestType": "portion"}),
        "Bad request - gpuPortionRequest is required when gpuRequestType is portion",
        None,
    ),
    (
        "portion limit below request",
        creation("g", compute={"gpuPortionRequest": 0.5, "gpuPortionLimit": 0.25}),
        "Bad request - spec.compute.gpuPortionLimit must be no less than gpuPortionRequest",
        None,
    ),
    (
        "negative gpu devices",
        creation("g", compute={"gpuDevicesRequest": -1}),
        "Bad request - spec.compute.gpuDevicesRequest must be an integer >= 0",
        None,
    ),
    (
        "gpu memory with several devices",
        creation("g", compute={"gpuDevicesRequest": 2, "gpuMemoryRequest": "10G"}),
        "Bad request - gpuMemoryRequest cannot be used when gpuDevicesRequest is more than 1",
        None,
    ),
    (
        "bad memory quantity",
        creation("g", compute={"cpuMemoryRequest": "lots"}),
        "Bad request - spec.compute.cpuMemoryRequest must be a quantity like '20G', got 'lots'",
        None,
    ),
]

AUTOSCALING_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "metric required when min < max",
        {"minReplicas": 1, "maxReplicas": 3},
        "spec.autoscaling.metric is mandatory when minReplicas (1) < maxReplicas (3), except "
        "for minReplicas=0 and maxReplicas=1",
        "metric",
    ),
    (
        "max below min",
        {"minReplicas": 3, "maxReplicas": 2, "metric": "throughput", "metricThreshold": 5},
        "spec.autoscaling.maxReplicas (2) must be greater than or equal to minReplicas (3)",
        "maxReplicas",
    ),
    (
        "negative min",
        {"minReplicas": -1},
        "spec.autoscaling.minReplicas must be >= 0, got -1",
        "minReplicas",
    ),
    (
        "zero max",
        {"maxReplicas": 0},
        "spec.autoscaling.maxReplicas must be >= 1, got 0",
        "maxReplicas",
    ),
    (
        "threshold required with metric",
        {"minReplicas": 1, "maxReplicas": 2, "metric": "latency"},
        "spec.autoscaling.metricThreshold is mandatory when metric is specified",
        "metricThreshold",
    ),
    (
        "metric name pattern",
        {"minReplicas": 1, "maxReplicas": 2, "metric": "9-requests", "metricThreshold": 1},
        "spec.autoscaling.metric '9-requests' must match ^[a-zA-Z_:][a-zA-Z0-9_:]*$",
        "metric",
    ),
    (
        "scale to zero only with throughput or concurrency",
        {"minReplicas": 0, "maxReplicas": 2, "metric": "latency", "metricThreshold": 100},
        "spec.autoscaling.minReplicas=0 (scale-to-zero) is supported only with the 'throughput' "
        "or 'concurrency' metric, not 'latency'",
        "minReplicas",
    ),
    (
        "retention above 3600",
        {"minReplicas": 0, "maxReplicas": 1, "scaleToZeroRetentionSeconds": 3601},
        "spec.autoscaling.scaleToZeroRetentionSeconds must be <= 3600, got 3601",
        "scaleToZeroRetentionSeconds",
    ),
    (
        "retention only with min 0",
        {"minReplicas": 1, "maxReplicas": 1, "scaleToZeroRetentionSeconds": 60},
        "spec.autoscaling.scaleToZeroRetentionSeconds is available only when minReplicas is 0",
        "scaleToZeroRetentionSeconds",
    ),
    (
        "replicas must be integers",
        {"minReplicas": "2"},
        "spec.autoscaling.minReplicas must be an integer, got '2'",
        "minReplicas",
    ),
    (
        "threshold percentage range",
        {
            "minReplicas": 1,
            "maxReplicas": 2,
            "metric": "throughput",
            "metricThreshold": 5,
            "metricThresholdPercentage": 150,
        },
        "spec.autoscaling.metricThresholdPercentage must be in 1..100",
        "metricThresholdPercentage",
    ),
    (
        "threshold percentage only for throughput/concurrency",
        {
            "minReplicas": 1,
            "maxReplicas": 2,
            "metric": "latency",
            "metricThreshold": 5,
            "metricThresholdPercentage": 50,
        },
        "spec.autoscaling.metricThresholdPercentage applies only to the 'throughput' and "
        "'concurrency' metrics",
        "metricThresholdPercentage",
    ),
]

ACCEPTED_AUTOSCALING = [
    {"minReplicas": 0, "maxReplicas": 1},
    {"minReplicas": 0, "maxReplicas": 1, "scaleToZeroRetentionSeconds": 3600},
    {"minReplicas": 0, "maxReplicas": 4, "metric": "concurrency", "metricThreshold": 4},
    {"minReplicas": 2, "maxReplicas": 2},
    {"minReplicas": 1, "maxReplicas": 5, "metric": "http_requests_total", "metricThreshold": 9},
    {"minReplicas": 1, "maxReplicas": 1, "scaleToZeroRetentionSeconds": 0},
]


async def expect_400(
    api: Api, method: str, template: str, body: Any, **path: str
) -> dict[str, Any]:
    response = await api.call(method, template, json=body, path=path or None)
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()
    assert error["code"] == 400
    return error


@pytest.mark.parametrize(
    ("case", "body", "message", "details"), CREATE_CASES, ids=[c[0] for c in CREATE_CASES]
)
async def test_create_rule(
    api: Api, case: str, body: dict[str, Any], message: str, details: str | None
) -> None:
    error = await expect_400(api, "POST", INFERENCES, body)
    assert error["message"] == message
    if details is not None:
        assert error["details"] == details
    listed = api.emulator.state.workloads
    assert listed == {}, "a rejected request must not create anything"


@pytest.mark.parametrize(
    ("case", "scaling", "message", "field"),
    AUTOSCALING_CASES,
    ids=[c[0] for c in AUTOSCALING_CASES],
)
async def test_autoscaling_rule_on_create(
    api: Api, case: str, scaling: dict[str, Any], message: str, field: str
) -> None:
    error = await expect_400(api, "POST", INFERENCES, creation("scaled", autoscaling=scaling))
    assert error == {
        "code": 400,
        "message": "Bad request - " + message,
        "details": f"field: spec.autoscaling.{field}",
    }


@pytest.mark.parametrize(
    ("case", "scaling", "message", "field"),
    AUTOSCALING_CASES,
    ids=[c[0] for c in AUTOSCALING_CASES],
)
async def test_autoscaling_rule_on_patch(
    api: Api, case: str, scaling: dict[str, Any], message: str, field: str
) -> None:
    created = await api.create("patched")
    before = api.emulator.state.workloads[created["workloadId"]].spec
    error = await expect_400(
        api,
        "PATCH",
        INFERENCE,
        {"spec": {"autoscaling": scaling}},
        workloadId=created["workloadId"],
    )
    assert error["message"] == "Bad request - " + message
    assert api.emulator.state.workloads[created["workloadId"]].spec == before


async def test_patch_rule_uses_merged_spec(api: Api) -> None:
    created = await api.create("merged", autoscaling={"minReplicas": 1, "maxReplicas": 1})
    error = await expect_400(
        api,
        "PATCH",
        INFERENCE,
        {"spec": {"autoscaling": {"maxReplicas": 4}}},
        workloadId=created["workloadId"],
    )
    assert "metric is mandatory when minReplicas (1) < maxReplicas (4)" in error["message"]


@pytest.mark.parametrize("scaling", ACCEPTED_AUTOSCALING)
async def test_valid_autoscaling_is_accepted(api: Api, scaling: dict[str, Any]) -> None:
    response = await api.call("POST", INFERENCES, json=creation("ok", autoscaling=scaling))
    assert response.status_code == 202, response.text


async def test_body_must_be_an_object(api: Api) -> None:
    error = await expect_400(api, "POST", INFERENCES, ["x"])
    assert error["message"] == "Bad request - the body must be a JSON object"


async def test_cluster_must_be_a_string(api: Api) -> None:
    error = await expect_400(api, "POST", INFERENCES, BASE | {"clusterId": 7})
    assert error["message"] == "Bad request - clusterId must be a string"
    assert CLUSTER_ID


SCHEMA_CASES = [
    (
        creation("s", imagePullPolicy="Sometimes"),
        "Bad request - spec.imagePullPolicy: 'Sometimes' is not one of",
    ),
    (
        creation("s", environmentVariables=[{"name": "N", "value": 5}]),
        "Bad request - spec.environmentVariables.0.value: 5 is not of type 'string'",
    ),
    (BASE | {"clusterId": "not-a-uuid"}, "Bad request - clusterId: 'not-a-uuid' is not a 'uuid'"),
    (
        creation("s", nodePools="default"),
        "Bad request - spec.nodePools: 'default' is not of type 'array'",
    ),
]


@pytest.mark.parametrize(("body", "prefix"), SCHEMA_CASES)
async def test_schema_catches_other_shapes(api: Api, body: dict[str, Any], prefix: str) -> None:
    error = await expect_400(api, "POST", INFERENCES, body)
    assert error["message"].startswith(prefix), error["message"]
    assert error["details"] == "schema: InferenceCreationRequest"


async def test_schema_checks_patch_bodies(api: Api) -> None:
    created = await api.create("typed")
    error = await expect_400(
        api,
        "PATCH",
        INFERENCE,
        {"spec": {"imagePullPolicy": "Sometimes"}},
        workloadId=created["workloadId"],
    )
    assert error["message"].startswith("Bad request - spec.imagePullPolicy: 'Sometimes'")
    assert error["details"] == "schema: InferenceUpdateRequest"
