"""Phases that move on their own, forced phases, and what follows the phase."""

from __future__ import annotations

from typing import Any

from bot.emulator import pod_id
from tests.emulator.conftest import INFERENCE, MODULE_LOOP, Api, eventually

pytestmark = MODULE_LOOP


async def phase_of(api: Api, workload_id: str) -> dict[str, Any]:
    response = await api.workload(workload_id)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_creating_initializing_running(api: Api) -> None:
    api.emulator.state.phase_seconds = 0.2
    created = await api.create("walker")
    workload_id = created["workloadId"]
    seen: list[str] = []

    async def probe() -> dict[str, Any]:
        body = await phase_of(api, workload_id)
        if not seen or seen[-1] != body["phase"]:
            seen.append(body["phase"])
        return body

    running = await eventually(probe, lambda body: body["phase"] == "Running")
    assert seen[0] == "Creating"
    order = ["Creating", "Initializing", "Running"]
    assert seen == [phase for phase in order if phase in seen], "phases went out of order"
    assert running["runningPods"] == 1
    assert running["urls"] == ["https://walker-team-a.emulated-cluster.runai.local"]
    assert running["k8sPhase"] == "Running"
    assert {c["type"]: c["status"] for c in running["conditions"]}["Ready"] == "True"
    assert running["additionalFields"]["pods"] == [
        {"id": pod_id(workload_id, 0), "name": "walker-00000-deployment"}
    ]
    assert running["phaseUpdatedAt"] >= running["createdAt"]


async def test_not_running_has_no_pods_or_urls(api: Api) -> None:
    api.emulator.state.phase_seconds = 60
    created = await api.create("pending")
    body = await phase_of(api, created["workloadId"])
    assert body["phase"] == "Creating"
    assert body["runningPods"] == 0
    assert body["urls"] == []
    assert body["additionalFields"]["pods"] == []
    assert {c["type"]: c["status"] for c in body["conditions"]}["Ready"] == "False"


async def test_image_with_fail_ends_failed(api: Api) -> None:
    created = await api.create("doomed", image="registry.local/will-fail:1")
    body = await eventually(
        lambda: phase_of(api, created["workloadId"]), lambda b: b["phase"] == "Failed"
    )
    assert "will-fail" in body["phaseMessage"]
    assert body["runningPods"] == 0
    failed = {c["type"]: c for c in body["conditions"]}["Failed"]
    assert failed["status"] == "True"
    assert failed["reason"] == "ImagePullBackOff"
    inference = await api.call("GET", INFERENCE, path={"workloadId": created["workloadId"]})
    assert inference.json()["actualPhase"] == "Failed"


async def test_patch_moves_updating_then_running(api: Api) -> None:
    created = await api.create("upd", autoscaling={"minReplicas": 1, "maxReplicas": 1})
    workload_id = created["workloadId"]
    await eventually(lambda: phase_of(api, workload_id), lambda b: b["phase"] == "Running")
    api.emulator.state.phase_seconds = 0.3
    response = await api.call(
        "PATCH",
        INFERENCE,
        path={"workloadId": workload_id},
        json={"spec": {"autoscaling": {"minReplicas": 3, "maxReplicas": 3}}},
    )
    assert response.json()["actualPhase"] == "Updating"
    body = await eventually(lambda: phase_of(api, workload_id), lambda b: b["phase"] == "Running")
    assert body["runningPods"] == 3
    assert [p["id"] for p in body["additionalFields"]["pods"]] == [
        pod_id(workload_id, index) for index in range(3)
    ]


async def test_patch_to_failing_image_fails(api: Api) -> None:
    created = await api.create("upd-fail")
    response = await api.call(
        "PATCH",
        INFERENCE,
        path={"workloadId": created["workloadId"]},
        json={"spec": {"image": "broken-fail:2"}},
    )
    assert response.status_code == 202
    await eventually(lambda: phase_of(api, created["workloadId"]), lambda b: b["phase"] == "Failed")


async def test_force_phase_control(api: Api) -> None:
    created = await api.create("forced")
    workload_id = created["workloadId"]
    response = await api.client.post(
        f"/emulator/workloads/{workload_id}/phase",
        json={"phase": "Degraded", "message": "1 of 2 replicas is not ready"},
    )
    assert response.status_code == 200
    body = await phase_of(api, workload_id)
    assert body["phase"] == "Degraded"
    assert body["phaseMessage"] == "1 of 2 replicas is not ready"
    forced_at = body["phaseUpdatedAt"]
    response = await api.client.post(
        f"/emulator/workloads/{workload_id}/phase", json={"phase": "Failed", "message": "OOMKilled"}
    )
    body = await phase_of(api, workload_id)
    assert (body["phase"], body["phaseMessage"]) == ("Failed", "OOMKilled")
    assert body["phaseUpdatedAt"] >= forced_at


async def test_force_phase_rejects_unknown_phase_and_workload(api: Api) -> None:
    created = await api.create("forced-bad")
    response = await api.client.post(
        f"/emulator/workloads/{created['workloadId']}/phase", json={"phase": "Exploded"}
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Bad request - unknown phase 'Exploded'"
    response = await api.client.post(
        "/emulator/workloads/00000000-0000-4000-8000-000000000000/phase", json={"phase": "Failed"}
    )
    assert response.status_code == 404


async def test_bulk_phase_change_and_seeding(api: Api) -> None:
    state = api.emulator.state
    ids = state.seed_workloads(2000, project_id="2", name_prefix="bulk")
    assert len(ids) == len(set(ids)) == 2000
    assert state.set_phases(ids[:500], "Failed", "node lost") == 500
    failed = await api.call(
        "GET",
        "/api/v1/workloads",
        params={"filterBy": "phase==Failed,projectId==2", "limit": 500},
    )
    body = failed.json()
    assert len(body["workloads"]) == 500
    assert "next" not in body
    assert {w["phaseMessage"] for w in body["workloads"]} == {"node lost"}
