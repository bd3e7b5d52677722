"""Properties of the validation core: the emulator never accepts what the schema refuses,
and whatever it answers is a schema-valid body."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.emulator import CLUSTER_ID, EmulatorState
from bot.emulator.errors import ApiError
from bot.emulator.phases import PHASES
from bot.emulator.views import inference_body, workload_body
from tests.contract import assert_error_body, assert_request_matches, assert_response_matches
from tests.emulator.conftest import INFERENCE, INFERENCES, WORKLOAD, WORKLOADS

small_ints = st.one_of(st.none(), st.integers(min_value=-1, max_value=5))
odd_values = st.one_of(
    st.none(),
    st.integers(-1, 3),
    st.sampled_from(["", "x", "--flag"]),
    st.booleans(),
    st.floats(-1, 2),
)
autoscaling = st.fixed_dictionaries(
    {},
    optional={
        "minReplicas": small_ints,
        "maxReplicas": small_ints,
        "metric": st.one_of(
            st.none(),
            st.sampled_from(["throughput", "concurrency", "latency", "my_metric", "9bad", ""]),
        ),
        "metricThreshold": st.one_of(small_ints, st.just("5")),
        "metricThresholdPercentage": st.one_of(st.none(), st.floats(0, 120)),
        "scaleToZeroRetentionSeconds": st.one_of(st.none(), st.integers(-1, 4000)),
        "initialReplicas": st.one_of(small_ints, st.just(1.5)),
    },
)
compute = st.fixed_dictionaries(
    {},
    optional={
        "gpuDevicesRequest": st.one_of(small_ints, st.just("1")),
        "gpuPortionRequest": st.one_of(st.none(), st.floats(-0.5, 1.5)),
        "gpuRequestType": st.one_of(st.none(), st.sampled_from(["portion", "memory", "whole"])),
        "gpuMemoryRequest": st.one_of(st.none(), st.sampled_from(["10G", "ten"])),
        "cpuCoreRequest": odd_values,
    },
)
environment = st.lists(
    st.fixed_dictionaries(
        {"name": st.sampled_from(["A", "B", "", None])},
        optional={"value": st.one_of(st.none(), st.text(max_size=3), st.integers())},
    ),
    max_size=2,
)
spec = st.fixed_dictionaries(
    {},
    optional={
        "image": st.sampled_from(["vllm/vllm-openai:latest", "x-fail", "", None]),
        "args": odd_values,
        "autoscaling": st.one_of(st.none(), autoscaling),
        "compute": st.one_of(st.none(), compute),
        "environmentVariables": st.one_of(st.none(), environment),
        "imagePullPolicy": st.sampled_from(["Always", "Never", "Sometimes", None]),
        "nodePools": st.sampled_from([["default"], "default", None]),
    },
)
# Top-level breakages, applied to an otherwise valid body (None: leave it valid).
BREAKAGES: list[dict[str, Any] | None] = [
    None,
    None,
    None,
    None,
    {"name": "LLM"},
    {"name": ""},
    {"name": 7},
    {"projectId": "3"},
    {"projectId": 1},
    {"clusterId": "nope"},
    {"useGivenNameAsPrefix": "yes"},
    {"useGivenNameAsPrefix": True},
]


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A creation body: valid top level (mostly), random spec details."""
    body_spec: dict[str, Any] = {
        "image": "vllm/vllm-openai:latest",
        "servingPort": {"container": 8000},
    }
    body_spec.update(draw(spec))
    port = draw(st.sampled_from([8000, 8000, 0, 70000, "80", None]))
    body_spec["servingPort"] = {"container": port}
    body: dict[str, Any] = {
        "name": "llm",
        "projectId": "1",
        "clusterId": CLUSTER_ID,
        "spec": body_spec,
    }
    body.update(draw(st.sampled_from(BREAKAGES)) or {})
    return body


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies())
def test_create_accepts_only_schema_valid_bodies(body: dict[str, Any]) -> None:
    state = EmulatorState(phase_seconds=0.0)
    try:
        record = state.create(body, "prop@test")
    except ApiError as error:
        assert error.code in (400, 409)
        assert_error_body(error.body(), error.code)
        assert state.workloads == {}
        return
    assert_request_matches("POST", INFERENCES, body)
    now = state.now()
    assert_response_matches("POST", INFERENCES, 202, inference_body(record, now))
    assert_response_matches("GET", WORKLOAD, 200, workload_body(record, now, detailed=True))


@settings(max_examples=300, deadline=None)
@given(patch=st.fixed_dictionaries({"spec": spec}))
def test_patch_keeps_a_valid_spec(patch: dict[str, Any]) -> None:
    state = EmulatorState(phase_seconds=0.0)
    body = {
        "name": "base",
        "projectId": "1",
        "clusterId": CLUSTER_ID,
        "spec": {"image": "vllm/vllm-openai:latest", "servingPort": {"container": 8000}},
    }
    record = state.create(body, "prop@test")
    before = record.spec
    try:
        state.update(record.id, patch)
    except ApiError as error:
        assert error.code == 400
        assert record.spec == before
        return
    assert_request_matches("PATCH", INFERENCE, patch)
    full = {**body, "spec": record.spec}
    assert_request_matches("POST", INFERENCES, full)
    assert_response_matches("PATCH", INFERENCE, 202, inference_body(record, state.now()))


def test_every_phase_renders_a_valid_workload() -> None:
    state = EmulatorState(phase_seconds=0.0)
    [workload_id] = state.seed_workloads(1)
    for phase in PHASES:
        state.force_phase(workload_id, phase, f"now {phase}")
        record = state.get(workload_id)
        body = workload_body(record, state.now(), detailed=True)
        assert body["phase"] == phase
        assert body["phaseMessage"] == f"now {phase}"
        assert_response_matches("GET", WORKLOAD, 200, body)
        assert_response_matches(
            "GET", WORKLOADS, 200, {"workloads": [workload_body(record, state.now())]}
        )
        assert_response_matches("GET", INFERENCE, 200, inference_body(record, state.now()))
