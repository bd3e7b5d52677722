"""Create, get, PATCH and DELETE of inference workloads."""

from __future__ import annotations

import re

from bot.emulator import CLUSTER_ID
from tests.contract import assert_request_matches
from tests.emulator.conftest import (
    INFERENCE,
    INFERENCES,
    MODULE_LOOP,
    WORKLOAD,
    WORKLOADS,
    Api,
    creation,
    eventually,
)

pytestmark = MODULE_LOOP

UNKNOWN = "00000000-0000-4000-8000-000000000000"


async def test_create_returns_202_inference(api: Api) -> None:
    body = creation("qwen", environmentVariables=[{"name": "HF_TOKEN", "value": "hf_x"}])
    assert_request_matches("POST", INFERENCES, body)
    response = await api.call("POST", INFERENCES, json=body)
    assert response.status_code == 202
    created = response.json()
    assert created["name"] == created["requestedName"] == "qwen"
    assert created["projectId"] == "1"
    assert created["clusterId"] == CLUSTER_ID
    assert created["createdBy"] == api.emulator.client_id
    assert created["desiredPhase"] == "Running"
    assert created["actualPhase"] == "Creating"
    assert created["spec"]["image"] == body["spec"]["image"]


async def test_get_inference_and_workload(api: Api) -> None:
    created = await api.create("getme")
    workload_id = created["workloadId"]
    got = await api.call("GET", INFERENCE, path={"workloadId": workload_id})
    assert got.status_code == 200
    assert got.json()["workloadId"] == workload_id
    detailed = await api.workload(workload_id)
    assert detailed.status_code == 200
    body = detailed.json()
    assert body["id"] == workload_id
    assert body["type"] == "inference"
    assert body["projectName"] == "team-a"
    assert body["images"] == [created["spec"]["image"]]


async def test_unknown_ids_are_404(api: Api) -> None:
    for method, template in (
        ("GET", INFERENCE),
        ("DELETE", INFERENCE),
        ("GET", WORKLOAD),
    ):
        response = await api.call(method, template, path={"workloadId": UNKNOWN})
        assert response.status_code == 404
        assert response.json() == {"code": 404, "message": f"Workload {UNKNOWN} not found."}
    response = await api.call(
        "PATCH", INFERENCE, path={"workloadId": UNKNOWN}, json={"spec": {"image": "x"}}
    )
    assert response.status_code == 404


async def test_duplicate_name_in_project_is_409(api: Api) -> None:
    await api.create("twin")
    response = await api.call("POST", INFERENCES, json=creation("twin"))
    assert response.status_code == 409
    assert response.json()["message"] == "A workload named 'twin' already exists in project team-a."
    other_project = creation("twin") | {"projectId": "2"}
    assert (await api.call("POST", INFERENCES, json=other_project)).status_code == 202


async def test_name_as_prefix_gets_a_suffix(api: Api) -> None:
    body = creation("batch") | {"useGivenNameAsPrefix": True}
    first = (await api.call("POST", INFERENCES, json=body)).json()
    second = (await api.call("POST", INFERENCES, json=body)).json()
    for created in (first, second):
        assert re.fullmatch(r"batch-[a-z0-9]{5}", created["name"])
        assert created["requestedName"] == "batch"
    assert first["name"] != second["name"]


async def test_patch_merges_spec_and_adds_revision(api: Api) -> None:
    created = await api.create(
        "scale-me",
        args="--model Qwen/Qwen2.5-7B-Instruct",
        autoscaling={"minReplicas": 1, "maxReplicas": 1},
        compute={"gpuDevicesRequest": 1, "cpuMemoryRequest": "16G"},
    )
    workload_id = created["workloadId"]
    patch = {
        "spec": {
            "autoscaling": {"maxReplicas": 3, "metric": "concurrency", "metricThreshold": 8},
            "compute": {"cpuMemoryRequest": "32G"},
            "environmentVariables": [{"name": "LOG_LEVEL", "value": "debug"}],
        }
    }
    assert_request_matches("PATCH", INFERENCE, patch)
    response = await api.call("PATCH", INFERENCE, path={"workloadId": workload_id}, json=patch)
    assert response.status_code == 202
    spec = response.json()["spec"]
    assert spec["autoscaling"] == {
        "minReplicas": 1,
        "maxReplicas": 3,
        "metric": "concurrency",
        "metricThreshold": 8,
    }
    assert spec["compute"] == {"gpuDevicesRequest": 1, "cpuMemoryRequest": "32G"}
    assert spec["args"] == "--model Qwen/Qwen2.5-7B-Instruct"
    assert spec["environmentVariables"] == [{"name": "LOG_LEVEL", "value": "debug"}]
    assert response.json()["actualPhase"] == "Updating"
    workload = (await api.workload(workload_id)).json()
    assert workload["additionalFields"]["revision"] == 2
    assert workload["requestedPods"] == {"number": 1, "min": 1, "max": 3}


async def test_patch_null_removes_a_field(api: Api) -> None:
    created = await api.create("unset", args="--verbose")
    response = await api.call(
        "PATCH",
        INFERENCE,
        path={"workloadId": created["workloadId"]},
        json={"spec": {"args": None}},
    )
    assert response.status_code == 202
    assert "args" not in response.json()["spec"]


async def test_patch_rejects_fields_that_cannot_change(api: Api) -> None:
    created = await api.create("fixed")
    response = await api.call(
        "PATCH",
        INFERENCE,
        path={"workloadId": created["workloadId"]},
        json={"spec": {"servingPort": {"container": 9000}}},
    )
    assert response.status_code == 400
    assert response.json()["message"] == (
        "Bad request - these spec fields cannot be updated: servingPort"
    )


async def test_delete_then_gone(api: Api) -> None:
    created = await api.create("short-lived")
    workload_id = created["workloadId"]
    response = await api.call("DELETE", INFERENCE, path={"workloadId": workload_id})
    assert response.status_code == 202
    assert response.json() == {"code": 202, "message": "Request has been accepted."}

    async def status() -> int:
        return (await api.workload(workload_id)).status_code

    await eventually(status, lambda code: code == 404)
    got = await api.call("GET", INFERENCE, path={"workloadId": workload_id})
    assert got.status_code == 404
    live = (await api.call("GET", WORKLOADS)).json()["workloads"]
    assert workload_id not in [w["id"] for w in live]
    deleted = (await api.call("GET", WORKLOADS, params={"deleted": "true"})).json()["workloads"]
    [gone] = [w for w in deleted if w["id"] == workload_id]
    assert gone["deletedAt"] is not None
    assert gone["runningPods"] == 0
    again = await api.call("POST", INFERENCES, json=creation("short-lived"))
    assert again.status_code == 202


async def test_deleting_phase_is_visible_before_gone(api: Api) -> None:
    api.emulator.state.phase_seconds = 60
    created = await api.create("slow-delete")
    workload_id = created["workloadId"]
    await api.call("DELETE", INFERENCE, path={"workloadId": workload_id})
    workload = (await api.workload(workload_id)).json()
    assert workload["phase"] == "Deleting"
    inference = (await api.call("GET", INFERENCE, path={"workloadId": workload_id})).json()
    assert inference["desiredPhase"] == "Deleted"
    patch = await api.call(
        "PATCH", INFERENCE, path={"workloadId": workload_id}, json={"spec": {"image": "x"}}
    )
    assert patch.status_code == 409
    repeat = await api.call("DELETE", INFERENCE, path={"workloadId": workload_id})
    assert repeat.status_code == 202


async def test_projects_and_clusters(api: Api) -> None:
    projects = (await api.call("GET", "/api/v1/org-unit/projects")).json()["projects"]
    assert [(p["id"], p["name"], p["clusterId"]) for p in projects] == [
        ("1", "team-a", CLUSTER_ID),
        ("2", "team-b", CLUSTER_ID),
    ]
    filtered = await api.call(
        "GET", "/api/v1/org-unit/projects", params={"filterBy": "name==team-b"}
    )
    assert [p["id"] for p in filtered.json()["projects"]] == ["2"]
    clusters = (await api.call("GET", "/api/v1/clusters")).json()
    assert [c["uuid"] for c in clusters] == [CLUSTER_ID]


async def test_unknown_routes_answer_error_body(api: Api) -> None:
    response = await api.client.get(
        "/api/v1/nothing-here", headers={"Authorization": f"Bearer {api.token}"}
    )
    assert response.status_code == 404
    assert response.json() == {"code": 404, "message": "Route not found: GET /api/v1/nothing-here"}
    response = await api.client.put(
        "/api/v1/workloads", headers={"Authorization": f"Bearer {api.token}"}
    )
    assert response.status_code == 405
    assert response.json()["code"] == 405


async def test_project_list_sort_and_bad_filter(api: Api) -> None:
    projects = "/api/v1/org-unit/projects"
    listed = await api.call("GET", projects, params={"sortBy": "name", "sortOrder": "desc"})
    assert [p["name"] for p in listed.json()["projects"]] == ["team-b", "team-a"]
    paged = await api.call("GET", projects, params={"limit": 1})
    assert paged.json()["next"] == 1
    bad = await api.call("GET", projects, params={"filterBy": "colour==red"})
    assert bad.status_code == 400
    assert bad.json()["message"] == "Bad request - invalid filterBy 'colour==red'"
