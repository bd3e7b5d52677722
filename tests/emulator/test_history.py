"""What happened to a workload: events, history, revisions and pods."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.routing import Route

from bot.emulator import pod_id
from tests.contract import spec
from tests.emulator.conftest import (
    EVENTS,
    HISTORY,
    INFERENCE,
    MODULE_LOOP,
    PODS,
    REVISION,
    REVISIONS,
    Api,
)

pytestmark = MODULE_LOOP

UNKNOWN = "00000000-0000-4000-8000-000000000000"
STEP = 10.0  # seconds per automatic phase step in these tests


async def walked(api: Api, name: str = "storied", replicas: int = 2, **spec: Any) -> str:
    """A workload that walked Creating → Initializing → Running (10 s steps, aged 1 min)."""
    api.emulator.state.phase_seconds = STEP
    created = await api.create(
        name, autoscaling={"minReplicas": replicas, "maxReplicas": replicas}, **spec
    )
    await api.age(60)
    workload_id: str = created["workloadId"]
    return workload_id


async def get(api: Api, template: str, workload_id: str, **params: Any) -> dict[str, Any]:
    response = await api.call("GET", template, path={"workloadId": workload_id}, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def patch(api: Api, workload_id: str, spec: dict[str, Any]) -> None:
    response = await api.call(
        "PATCH", INFERENCE, path={"workloadId": workload_id}, json={"spec": spec}
    )
    assert response.status_code == 202, response.text


def workload_events(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(type, reason, message) of the workload's own events (pods' left out)."""
    return [
        (e["type"], e["reason"], e["message"])
        for e in body["events"]
        if e["involvedObject"]["kind"] == "InferenceWorkload"
    ]


# ----- events -------------------------------------------------------------------------


async def test_events_tell_the_creation_newest_first(api: Api) -> None:
    workload_id = await walked(api)
    body = await get(api, EVENTS, workload_id)
    assert workload_events(body) == [
        ("Normal", "Running", "All 2 replica(s) are ready"),
        ("Normal", "Initializing", "Pulling the image and starting the replicas"),
        ("Normal", "Submitted", "Inference workload storied was submitted"),
    ]
    stamps = [e["createdAt"] for e in body["events"]]
    assert stamps == sorted(stamps, reverse=True)
    pods = {(e["reason"], e["involvedObject"]["name"]) for e in body["events"]}
    for index in range(2):
        name = f"storied-{index:05d}-deployment"
        assert {("Scheduled", name), ("Pulling", name), ("Started", name)} <= pods
    scheduled = next(e for e in body["events"] if e["reason"] == "Scheduled")
    assert scheduled["source"] == "runai-scheduler"
    assert scheduled["involvedObject"]["namespace"] == "runai-team-a"
    assert scheduled["message"].startswith("Successfully assigned runai-team-a/storied-")
    again = await get(api, EVENTS, workload_id)
    assert again == body, "events are stable: same ids, same times"
    assert len({e["id"] for e in body["events"]}) == len(body["events"])


async def test_events_paging_and_order(api: Api) -> None:
    workload_id = await walked(api)
    everything = (await get(api, EVENTS, workload_id, limit=500))["events"]
    oldest_first = (await get(api, EVENTS, workload_id, sortOrder="asc", limit=500))["events"]
    assert oldest_first == everything[::-1]
    first = await get(api, EVENTS, workload_id, limit=3)
    assert first["events"] == everything[:3]
    assert first["next"] == 3
    rest = await get(api, EVENTS, workload_id, offset=3, limit=500)
    assert rest["events"] == everything[3:]
    assert "next" not in rest
    for params, needle in (
        ({"sortOrder": "newest"}, "sortOrder must be asc or desc"),
        ({"limit": 0}, "limit must be between 1 and 500"),
        ({"offset": -1}, "offset must be >= 0"),
    ):
        response = await api.call("GET", EVENTS, path={"workloadId": workload_id}, params=params)
        assert response.status_code == 400
        assert needle in response.json()["message"]


async def test_forced_failure_with_a_message_is_a_warning_event(api: Api) -> None:
    workload_id = await walked(api)
    response = await api.client.post(
        f"/emulator/workloads/{workload_id}/phase",
        json={"phase": "Failed", "message": "CUDA error: out of memory"},
    )
    assert response.status_code == 200
    newest = workload_events(await get(api, EVENTS, workload_id))[0]
    assert newest == ("Warning", "Failed", "CUDA error: out of memory")
    api.emulator.state.force_phase(workload_id, "Degraded", "1 of 2 replicas is not ready")
    body = await get(api, EVENTS, workload_id)
    assert workload_events(body)[0] == ("Warning", "Degraded", "1 of 2 replicas is not ready")
    backoffs = [e for e in body["events"] if e["reason"] == "BackOff"]
    assert len(backoffs) == 2 and {e["type"] for e in backoffs} == {"Warning"}
    assert "Back-off restarting failed container" in backoffs[0]["message"]


async def test_image_pull_failure_events(api: Api) -> None:
    workload_id = await walked(api, "puller", replicas=1, image="registry.local/will-fail:1")
    body = await get(api, EVENTS, workload_id)
    kind, reason, message = workload_events(body)[0]
    assert (kind, reason) == ("Warning", "BackOff")
    assert "ImagePullBackOff" in message and "will-fail" in message
    assert any(
        e["message"] == 'Error: ImagePullBackOff "registry.local/will-fail:1"'
        for e in body["events"]
    )


async def test_patch_and_delete_add_events(api: Api) -> None:
    workload_id = await walked(api, replicas=1)
    await patch(api, workload_id, {"image": "vllm/vllm-openai:v0.6.6"})
    await api.age(30)
    api.emulator.state.phase_seconds = 600
    await api.call("DELETE", INFERENCE, path={"workloadId": workload_id})
    reasons = [reason for _, reason, _ in workload_events(await get(api, EVENTS, workload_id))]
    assert reasons == ["Deleting", "Running", "Updating", "Running", "Initializing", "Submitted"]
    updating = workload_events(await get(api, EVENTS, workload_id))[2]
    assert updating[2] == "Rolling out revision storied-00002"


async def test_events_of_an_unknown_workload_are_404(api: Api) -> None:
    for template in (EVENTS, HISTORY, PODS, REVISIONS):
        response = await api.call("GET", template, path={"workloadId": UNKNOWN})
        assert response.status_code == 404, template


# ----- history ------------------------------------------------------------------------


async def test_history_has_phase_updates_and_events(api: Api) -> None:
    workload_id = await walked(api)
    api.emulator.state.force_phase(workload_id, "Failed", "node lost")
    body = await get(api, HISTORY, workload_id, limit=500)
    records = body["records"]
    updates = [r["spec"]["phaseUpdate"] for r in records if r["meta"]["type"] == "PhaseUpdate"]
    assert updates == [
        {"phase": "Failed", "phaseMessage": "node lost"},
        {"phase": "Running", "phaseMessage": ""},
        {"phase": "Initializing", "phaseMessage": ""},
        {"phase": "Creating", "phaseMessage": ""},
    ]
    events = [r["spec"]["event"] for r in records if r["meta"]["type"] == "Event"]
    assert events == (await get(api, EVENTS, workload_id, limit=500))["events"]
    stamps = [r["meta"]["creationTimestamp"] for r in records]
    assert stamps == sorted(stamps, reverse=True)
    page = await get(api, HISTORY, workload_id, limit=2)
    assert page["records"] == records[:2] and page["next"] == 2


async def test_history_follows_the_clock(api: Api) -> None:
    api.emulator.state.phase_seconds = STEP
    created = await api.create("timely")
    workload_id = created["workloadId"]
    phases = [
        r["spec"]["phaseUpdate"]["phase"]
        for r in (await get(api, HISTORY, workload_id))["records"]
        if r["meta"]["type"] == "PhaseUpdate"
    ]
    assert phases == ["Creating"]
    await api.age(STEP * 1.5)
    phases = [
        r["spec"]["phaseUpdate"]["phase"]
        for r in (await get(api, HISTORY, workload_id))["records"]
        if r["meta"]["type"] == "PhaseUpdate"
    ]
    assert phases == ["Initializing", "Creating"]


# ----- revisions ----------------------------------------------------------------------


async def revisions(api: Api, workload_id: str, **params: Any) -> list[dict[str, Any]]:
    body = await get(api, REVISIONS, workload_id, **params)
    found: list[dict[str, Any]] = body["revisions"]
    return found


async def test_every_patch_is_a_revision_with_its_values(api: Api) -> None:
    workload_id = await walked(
        api,
        replicas=1,
        environmentVariables=[{"name": "MODEL", "value": "Qwen/Qwen2.5-0.5B-Instruct"}],
        command="vllm",
        args="serve Qwen/Qwen2.5-0.5B-Instruct",
        compute={"gpuDevicesRequest": 1},
    )
    [first] = await revisions(api, workload_id)
    assert first["name"] == "storied-00001"
    assert first["workloadId"] == workload_id
    assert first["phase"] == "Running"
    assert first["images"] == ["vllm/vllm-openai:v0.6.4"]
    assert first["environmentVariables"] == {"MODEL": "Qwen/Qwen2.5-0.5B-Instruct"}
    assert (first["command"], first["arguments"]) == ("vllm", "serve Qwen/Qwen2.5-0.5B-Instruct")
    assert first["requestedPods"] == {"number": 1, "min": 1, "max": 1}
    assert first["revisionRequestedResources"]["gpu"] == {"request": 1.0}
    assert first["runningPods"] == 1
    assert first["deletedAt"] is None

    await patch(api, workload_id, {"autoscaling": {"minReplicas": 3, "maxReplicas": 3}})
    await api.age(30)
    await patch(
        api,
        workload_id,
        {"image": "vllm/vllm-openai:v0.6.6", "environmentVariables": [{"name": "A", "value": "1"}]},
    )
    listed = await revisions(api, workload_id)
    assert [r["name"] for r in listed] == ["storied-00001", "storied-00002", "storied-00003"]
    assert [r["phase"] for r in listed] == ["Stopped", "Stopped", "Updating"]
    assert [r["requestedPods"]["max"] for r in listed] == [1, 3, 3]
    assert [r["images"] for r in listed][1:] == [
        ["vllm/vllm-openai:v0.6.4"],
        ["vllm/vllm-openai:v0.6.6"],
    ]
    assert listed[2]["environmentVariables"] == {"A": "1"}
    assert [r["runningPods"] for r in listed] == [0, 0, 3]
    stamps = [r["createdAt"] for r in listed]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
    # An earlier revision read by id: its values, for a rollback by PATCH.
    response = await api.call("GET", REVISION, path={"revisionId": listed[1]["id"]})
    assert response.status_code == 200
    assert response.json() == listed[1]
    workload = (await api.workload(workload_id)).json()
    assert workload["additionalFields"]["revision"] == 3


async def test_revision_lookups_that_fail(api: Api) -> None:
    response = await api.call("GET", REVISION, path={"revisionId": UNKNOWN})
    assert response.status_code == 404
    assert response.json()["message"] == f"Revision {UNKNOWN} not found."
    workload_id = await walked(api, replicas=1)
    assert await revisions(api, workload_id, deleted="true") == []
    response = await api.call(
        "GET", REVISIONS, path={"workloadId": workload_id}, params={"deleted": "maybe"}
    )
    assert response.status_code == 400


async def test_revisions_of_a_deleted_workload(api: Api) -> None:
    workload_id = await walked(api, replicas=1)
    [revision] = await revisions(api, workload_id)
    await api.call("DELETE", INFERENCE, path={"workloadId": workload_id})
    await api.age(60)
    response = await api.call("GET", REVISIONS, path={"workloadId": workload_id})
    assert response.status_code == 404
    [gone] = await revisions(api, workload_id, deleted="true")
    assert gone["id"] == revision["id"]
    assert gone["deletedAt"] is not None and gone["runningPods"] == 0
    by_id = await api.call("GET", REVISION, path={"revisionId": revision["id"]})
    assert by_id.json()["deletedAt"] == gone["deletedAt"]


# ----- pods ---------------------------------------------------------------------------


async def pods(api: Api, workload_id: str, **params: Any) -> list[dict[str, Any]]:
    body = await get(api, PODS, workload_id, **params)
    found: list[dict[str, Any]] = body["pods"]
    return found


async def test_pods_follow_the_replicas(api: Api) -> None:
    state = api.emulator.state
    state.phase_seconds = STEP
    created = await api.create(
        "podded",
        compute={"gpuDevicesRequest": 1},
        autoscaling={"minReplicas": 2, "maxReplicas": 2},
    )
    workload_id = created["workloadId"]
    creating = await pods(api, workload_id)
    assert [p["k8sPhase"] for p in creating] == ["Pending", "Pending"]
    assert [p["nodeName"] for p in creating] == [None, None]
    assert [p["containers"][0]["startedAt"] for p in creating] == [None, None]

    await api.age(60)
    running = await pods(api, workload_id)
    assert [p["id"] for p in running] == [pod_id(workload_id, 0), pod_id(workload_id, 1)]
    assert [p["name"] for p in running] == ["podded-00000-deployment", "podded-00001-deployment"]
    assert [p["k8sPhase"] for p in running] == ["Running", "Running"]
    assert all(p["nodeName"].startswith("gpu-node-") for p in running)
    assert all(p["ip"].startswith("10.244.") for p in running)
    assert {p["createdAt"] for p in running} == {created["createdAt"]}
    started = running[0]["containers"][0]["startedAt"]
    assert started > created["createdAt"], "containers start when the pod is Running"
    assert all(p["allocatedResources"] == {"gpu": 1.0} for p in running)
    revision_id = (await revisions(api, workload_id))[0]["id"]
    assert {p["revisionId"] for p in running} == {revision_id}
    await api.age(600)
    assert await pods(api, workload_id) == running, "nodes, ips and start times are stable"
    assert [p["name"] for p in await pods(api, workload_id, search="00001")] == [
        "podded-00001-deployment"
    ]
    assert await pods(api, workload_id, deleted="true") == []
    page = await get(api, PODS, workload_id, limit=1)
    assert len(page["pods"]) == 1 and page["next"] == 1


async def test_pods_scale_restart_and_stop(api: Api) -> None:
    state = api.emulator.state
    workload_id = await walked(api, "scaled", replicas=1)
    await patch(api, workload_id, {"autoscaling": {"minReplicas": 3, "maxReplicas": 3}})
    await api.age(60)
    scaled = await pods(api, workload_id)
    assert len(scaled) == 3 and {p["k8sPhase"] for p in scaled} == {"Running"}
    before = scaled[0]["containers"][0]["startedAt"]
    await api.age(60)
    state.force_phase(workload_id, "Degraded", "crash loop")
    degraded = await pods(api, workload_id)
    restarted = degraded[0]["containers"][0]["startedAt"]
    assert restarted > before, "a crash-looping container restarted when Degraded began"
    assert degraded[0]["createdAt"] == scaled[0]["createdAt"], "the pod itself stayed"
    state.force_phase(workload_id, "Failed", "OOMKilled")
    assert {p["k8sPhase"] for p in await pods(api, workload_id)} == {"Failed"}
    state.force_phase(workload_id, "Stopped")
    assert await pods(api, workload_id) == []


# ----- lone surrogates ------------------------------------------------------------------


@pytest.mark.parametrize("message", ["\ud800", "ok \udfff then"])
async def test_phase_control_refuses_a_lone_surrogate(api: Api, message: str) -> None:
    workload_id = (await api.create("surrogate"))["workloadId"]
    raw = json.dumps({"phase": "Failed", "message": message})  # escapes it: "\\ud800"
    assert "\\ud" in raw
    response = await api.client.post(f"/emulator/workloads/{workload_id}/phase", content=raw)
    assert response.status_code == 400
    assert "lone UTF-16 surrogate" in response.json()["message"]
    # The workload was left alone and still reads.
    read = await api.workload(workload_id)
    assert read.status_code == 200 and read.json()["phase"] != "Failed"
    with pytest.raises(Exception) as caught:
        api.emulator.state.force_phase(workload_id, "Failed", message)
    assert "Unicode" in str(caught.value)
    assert (await api.workload(workload_id)).status_code == 200


async def test_create_refuses_a_lone_surrogate_and_keeps_escaped_text(api: Api) -> None:
    body = (
        '{"name": "sur", "projectId": "1", "clusterId": "71f69d83-ba66-4822-adf5-55ce55efd210",'
        ' "spec": {"image": "img:\\ud800", "servingPort": {"container": 8000}}}'
    )
    response = await api.client.post(
        "/api/v1/workloads/inferences",
        content=body,
        headers={"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    # A proper pair (an emoji written as escapes) is Unicode text and is accepted.
    response = await api.client.post(
        f"/emulator/workloads/{(await api.create('pair'))['workloadId']}/phase",
        content='{"phase": "Failed", "message": "\\ud83d\\ude80 lost"}',
    )
    assert response.status_code == 200
    assert response.json()["phaseMessage"] == "\U0001f680 lost"


# ----- the new operations, like every other -------------------------------------------


async def test_new_operations_need_a_token_and_are_counted(api: Api) -> None:
    workload_id = await walked(api, "counted", replicas=1)
    revision_id = (await revisions(api, workload_id))[0]["id"]
    api.emulator.state.stats.clear()
    calls = [
        (EVENTS, {"workloadId": workload_id}),
        (HISTORY, {"workloadId": workload_id}),
        (PODS, {"workloadId": workload_id}),
        (REVISIONS, {"workloadId": workload_id}),
        (REVISION, {"revisionId": revision_id}),
    ]
    for template, path in calls:
        response = await api.call("GET", template, path=path, headers={"Authorization": ""})
        assert response.status_code == 401, template
        assert (await api.call("GET", template, path=path)).status_code == 200, template
        assert api.emulator.state.stats.count("GET", template) == 2, template


async def test_an_image_with_braces_reads_back_in_events(api: Api) -> None:
    workload_id = await walked(api, "braces", replicas=1, image="registry.local/{odd}:1")
    body = await get(api, EVENTS, workload_id)
    assert any(e["message"] == 'Pulling image "registry.local/{odd}:1"' for e in body["events"])


async def test_every_operation_of_the_subset_is_served_but_telemetry(api: Api) -> None:
    served = {
        (method, route.path)
        for route in api.emulator.app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
    }
    documented = {
        (method.upper(), path)
        for path, item in spec()["paths"].items()
        for method in item
        if method in ("get", "post", "patch", "delete", "put")
    }
    assert documented - served == {("GET", "/api/v1/workloads/telemetry")}
