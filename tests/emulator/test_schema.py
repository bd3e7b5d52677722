"""The emulator's two schema validators: the compiled one never accepts what the reference
OpenAPI 3.0 validator refuses (else the emulator would take bodies the real API refuses).

The bodies are a valid creation (or update) request with values swapped in at paths
taken from the schema itself: nulls, booleans, integral floats, out-of-range integers,
near-miss UUIDs, wrong containers. Every single swap is tried, then random combinations.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.emulator import CLUSTER_ID
from bot.emulator.errors import ApiError
from bot.emulator.schema import check_against, inlined, passes_compiled, reference_errors

Path = tuple[str | int, ...]

CREATE = "InferenceCreationRequest"
UPDATE = "InferenceUpdateRequest"
VALID: dict[str, dict[str, Any]] = {
    CREATE: {
        "name": "llama",
        "projectId": "1",
        "clusterId": CLUSTER_ID,
        "spec": {
            "image": "vllm/vllm-openai:v0.6.4",
            "servingPort": {"container": 8000, "protocol": "http"},
            "compute": {"gpuDevicesRequest": 1, "cpuCoreRequest": 0.5},
            "autoscaling": {"minReplicas": 1, "maxReplicas": 3, "metric": "concurrency"},
            "environmentVariables": [{"name": "HF_TOKEN", "value": "x"}],
            "nodePools": ["default"],
        },
    },
    UPDATE: {"spec": {"image": "vllm/vllm-openai:v0.6.5", "autoscaling": {"maxReplicas": 2}}},
}
SWAPS: list[Any] = [
    None,
    True,
    0,
    -1,
    1.0,
    2.5,
    2**31,
    -(2**31) - 1,
    2**63,
    "",
    "x" * 300,
    "not-a-uuid",
    "{" + CLUSTER_ID + "}",
    CLUSTER_ID.upper(),
    CLUSTER_ID.replace("-", ""),
    {},
    [],
    [None],
    {"unexpected": 1},
]


def schema_paths(schema: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every property path the schema names (arrays stepped into at index 0)."""
    if not isinstance(schema, dict):
        return
    for part in schema.get("allOf", []):
        yield from schema_paths(part, prefix)
    if "items" in schema:
        yield from schema_paths(schema["items"], (*prefix, 0))
    for name, sub in schema.get("properties", {}).items():
        yield (*prefix, name)
        yield from schema_paths(sub, (*prefix, name))


def swapped(body: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    """A copy of `body` with `value` at `path`, building containers on the way."""
    out = copy.deepcopy(body)
    node: Any = out
    for here, after in itertools.pairwise(path):
        fresh: Any = [] if isinstance(after, int) else {}
        if isinstance(here, int):
            if not isinstance(node, list):
                return out  # the path crosses a swapped-in scalar; nothing to do
            if not node:
                node.append(fresh)
            node = node[here]
        else:
            if not isinstance(node, dict):
                return out
            node = node.setdefault(here, fresh)
    last = path[-1]
    if isinstance(last, int):
        if isinstance(node, list):
            node[:] = [value]
    elif isinstance(node, dict):
        node[last] = copy.deepcopy(value)
    return out


def assert_sound(name: str, body: Any) -> None:
    if passes_compiled(name, body):
        assert reference_errors(name, body) == [], body


PATHS = {name: sorted(set(schema_paths(inlined(name))), key=str) for name in VALID}


def test_schema_paths_cover_the_spec() -> None:
    assert len(PATHS[CREATE]) > 150  # the spec's fields, nested ones included
    assert ("spec", "autoscaling", "minReplicas") in PATHS[CREATE]
    assert ("spec", "environmentVariables", 0, "name") in PATHS[CREATE]


@pytest.mark.parametrize("name", [CREATE, UPDATE])
def test_valid_bodies_pass_both_validators(name: str) -> None:
    body = VALID[name]
    assert reference_errors(name, body) == []
    assert passes_compiled(name, body)  # the fast path serves the usual request


@pytest.mark.parametrize("name", [CREATE, UPDATE])
def test_compiled_never_accepts_a_single_swap_the_reference_refuses(name: str) -> None:
    accepted = refused = 0
    for path in PATHS[name]:
        for value in SWAPS:
            body = swapped(VALID[name], path, value)
            assert_sound(name, body)
            if passes_compiled(name, body):
                accepted += 1
            else:
                refused += 1
    assert accepted and refused  # the swaps exercised both answers


@pytest.mark.parametrize("name", [CREATE, UPDATE])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compiled_never_accepts_swaps_the_reference_refuses(name: str, data: st.DataObject) -> None:
    swaps = data.draw(
        st.lists(st.tuples(st.sampled_from(PATHS[name]), st.sampled_from(SWAPS)), max_size=5)
    )
    body = VALID[name]
    for path, value in swaps:
        body = swapped(body, path, value)
    assert_sound(name, body)


def test_nullable_fields_take_null_on_the_fast_path() -> None:
    body = swapped(VALID[CREATE], ("spec", "command"), None)
    assert reference_errors(CREATE, body) == []
    assert passes_compiled(CREATE, body)


def test_int32_bounds_hold_on_both_paths() -> None:
    body = swapped(VALID[CREATE], ("spec", "servingPort", "container"), 2**31)
    assert not passes_compiled(CREATE, body)
    with pytest.raises(ApiError) as raised:
        check_against(CREATE, body)
    assert "spec.servingPort.container" in raised.value.message


def test_checking_never_writes_defaults_into_the_body() -> None:
    body = copy.deepcopy(VALID[CREATE])
    check_against(CREATE, body)
    assert body == VALID[CREATE]
