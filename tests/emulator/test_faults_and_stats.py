"""Test controls: fault injection, call statistics, reset, seeding over HTTP."""

from __future__ import annotations

import time

from tests.emulator.conftest import INFERENCE, MODULE_LOOP, TOKEN, WORKLOAD, WORKLOADS, Api

pytestmark = MODULE_LOOP


async def test_status_fault_fails_next_count_calls(api: Api) -> None:
    armed = await api.client.post(
        "/emulator/faults", json={"status": 503, "count": 2, "latencyMs": 0, "pathPrefix": "/api"}
    )
    assert armed.status_code == 201
    codes = [(await api.call("GET", WORKLOADS)).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    assert (await api.client.get("/emulator/faults")).json() == {"faults": []}


async def test_fault_body_is_an_error(api: Api) -> None:
    await api.client.post("/emulator/faults", json={"status": 500, "count": 1})
    response = await api.call("GET", WORKLOADS)
    assert response.json() == {"code": 500, "message": "Something went wrong."}


async def test_fault_path_prefix_and_method(api: Api) -> None:
    created = await api.create("target")
    await api.client.post(
        "/emulator/faults",
        json={
            "status": 502,
            "count": 5,
            "pathPrefix": "/api/v1/workloads/inferences",
            "method": "DELETE",
        },
    )
    assert (await api.call("GET", WORKLOADS)).status_code == 200
    path = {"workloadId": created["workloadId"]}
    assert (await api.call("GET", INFERENCE, path=path)).status_code == 200
    assert (await api.call("DELETE", INFERENCE, path=path)).status_code == 502


async def test_fault_applies_to_token_calls_too(api: Api) -> None:
    await api.client.post(
        "/emulator/faults", json={"status": 503, "count": 1, "pathPrefix": "/api/v1/token"}
    )
    body = {
        "grantType": "client_credentials",
        "clientID": "test-client",
        "clientSecret": "test-secret",
    }
    assert (await api.call("POST", TOKEN, json=body, auth=False)).status_code == 503
    assert (await api.call("POST", TOKEN, json=body, auth=False)).status_code == 200


async def test_latency_fault_delays_without_failing(api: Api) -> None:
    await api.client.post("/emulator/faults", json={"latencyMs": 300, "count": 1})
    began = time.monotonic()
    response = await api.call("GET", WORKLOADS)
    slow = time.monotonic() - began
    assert response.status_code == 200
    assert slow >= 0.3


async def test_clear_faults(api: Api) -> None:
    await api.client.post("/emulator/faults", json={"status": 503, "count": 100})
    listed = (await api.client.get("/emulator/faults")).json()["faults"]
    assert listed == [
        {"status": 503, "count": 100, "latencyMs": 0, "pathPrefix": "/api", "method": None}
    ]
    assert (await api.client.delete("/emulator/faults")).status_code == 200
    assert (await api.call("GET", WORKLOADS)).status_code == 200


async def test_bad_fault_requests(api: Api) -> None:
    for body, needle in (
        ({"status": 99}, "status must be an HTTP status code"),
        ({"status": 503, "count": -1}, "count must be an integer >= 0"),
        ({"count": 1}, "needs a status, a latencyMs, or both"),
        ({"status": 503, "pathPrefix": "api"}, "pathPrefix must be a path"),
    ):
        response = await api.client.post("/emulator/faults", json=body)
        assert response.status_code == 400
        assert needle in response.json()["message"]


async def test_stats_count_by_method_and_template(api: Api) -> None:
    created = await api.create("counted")
    for _ in range(3):
        await api.workload(created["workloadId"])
    await api.call("GET", WORKLOADS, params={"filterBy": "name==counted"})
    await api.client.get("/api/v1/not-a-route", headers={"Authorization": f"Bearer {api.token}"})
    stats = (await api.client.get("/emulator/stats")).json()
    assert stats == {
        "calls": {
            "GET (unmatched)": 1,
            f"GET {WORKLOADS}": 1,
            f"GET {WORKLOAD}": 3,
            f"POST {TOKEN}": 1,
            "POST /api/v1/workloads/inferences": 1,
        },
        "total": 7,
    }
    assert api.emulator.state.stats.count("GET", WORKLOAD) == 3
    cleared = (await api.client.delete("/emulator/stats")).json()
    assert cleared == {"calls": {}, "total": 0}


async def test_reset_forgets_everything(api: Api) -> None:
    await api.create("temporary")
    await api.client.post("/emulator/faults", json={"latencyMs": 1, "count": 50})
    assert (await api.client.post("/emulator/reset")).status_code == 200
    state = api.emulator.state
    assert state.workloads == {}
    assert state.faults.faults == []
    assert state.stats.snapshot()["total"] == 0
    assert sorted(state.projects) == ["1", "2"]
    assert (await api.call("GET", WORKLOADS)).json() == {"workloads": []}


async def test_seed_over_http(api: Api) -> None:
    response = await api.client.post(
        "/emulator/seed", json={"count": 120, "projectId": "2", "namePrefix": "far"}
    )
    assert response.status_code == 201
    assert len(response.json()["ids"]) == 120
    listed = await api.call("GET", WORKLOADS, params={"filterBy": "projectId==2", "limit": 500})
    assert len(listed.json()["workloads"]) == 120
    assert {w["phase"] for w in listed.json()["workloads"]} == {"Running"}
    bad = await api.client.post("/emulator/seed", json={"count": 1, "projectId": "9"})
    assert bad.status_code == 400


async def test_python_fault_api(api: Api) -> None:
    api.emulator.state.add_fault(504, 1, path_prefix="/api/v1/workloads", method="GET")
    assert (await api.call("GET", WORKLOADS)).status_code == 504
    assert (await api.call("GET", WORKLOADS)).status_code == 200
