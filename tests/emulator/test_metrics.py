"""Inference and pod metrics: metricType, start/end, numberOfSamples, pods."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.emulator import pod_id
from tests.emulator.conftest import METRICS, MODULE_LOOP, POD_METRICS, Api, eventually

pytestmark = MODULE_LOOP

START = "2025-06-06T12:00:00Z"
END = "2025-06-06T13:00:00Z"


async def running_workload(api: Api, replicas: int = 2) -> str:
    created = await api.create(
        "metered", autoscaling={"minReplicas": replicas, "maxReplicas": replicas}
    )
    workload_id: str = created["workloadId"]
    await eventually(lambda: api.workload(workload_id), lambda r: r.json()["phase"] == "Running")
    return workload_id


async def metrics(api: Api, workload_id: str, params: Any, pod: str | None = None) -> Any:
    if pod is None:
        return await api.call("GET", METRICS, path={"workloadId": workload_id}, params=params)
    return await api.call(
        "GET", POD_METRICS, path={"workloadId": workload_id, "podId": pod}, params=params
    )


def stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_series_honour_window_and_samples(api: Api) -> None:
    workload_id = await running_workload(api)
    params = {"metricType": "THROUGHPUT,LATENCY", "start": START, "end": END, "numberOfSamples": 7}
    response = await metrics(api, workload_id, params)
    assert response.status_code == 200
    measurements = response.json()["measurements"]
    assert [m["type"] for m in measurements] == ["THROUGHPUT", "LATENCY"]
    for measurement in measurements:
        values = measurement["values"]
        assert len(values) == 7
        times = [stamp(v["timestamp"]) for v in values]
        assert times[0] == datetime(2025, 6, 6, 12, tzinfo=UTC)
        assert times[-1] == datetime(2025, 6, 6, 13, tzinfo=UTC)
        assert times == sorted(times)
        numbers = [float(v["value"]) for v in values]
        assert all(number > 0 for number in numbers)
        assert len(set(numbers)) > 1, "a flat line is not a plausible series"
    latency = [float(v["value"]) for v in measurements[1]["values"]]
    assert all(10 < ms < 1000 for ms in latency)
    again = await metrics(api, workload_id, params)
    assert again.json() == response.json(), "series must be deterministic"


async def test_default_samples_and_one_type(api: Api) -> None:
    workload_id = await running_workload(api)
    response = await metrics(
        api, workload_id, {"metricType": "LATENCY", "start": START, "end": END}
    )
    [measurement] = response.json()["measurements"]
    assert measurement["type"] == "LATENCY"
    assert len(measurement["values"]) == 20


async def test_repeated_metric_type_params_and_space_dates(api: Api) -> None:
    workload_id = await running_workload(api)
    params = [
        ("metricType", "THROUGHPUT"),
        ("metricType", "LATENCY"),
        ("start", "2025-06-06 12:00:00"),
        ("end", "2025-06-06 12:30:00.500+00:00"),
        ("numberOfSamples", "2"),
    ]
    response = await metrics(api, workload_id, params)
    assert response.status_code == 200
    body = response.json()["measurements"]
    assert [m["type"] for m in body] == ["THROUGHPUT", "LATENCY"]
    assert [v["timestamp"] for v in body[0]["values"]] == [
        "2025-06-06T12:00:00.000Z",
        "2025-06-06T12:30:00.500Z",
    ]


async def test_zero_samples(api: Api) -> None:
    workload_id = await running_workload(api)
    params = {"metricType": "THROUGHPUT", "start": START, "end": END, "numberOfSamples": 0}
    response = await metrics(api, workload_id, params)
    assert response.json() == {
        "measurements": [{"type": "THROUGHPUT", "labels": None, "values": []}]
    }


async def test_throughput_scales_with_replicas_and_stops_when_not_running(api: Api) -> None:
    workload_id = await running_workload(api, replicas=2)
    params = {"metricType": "THROUGHPUT", "start": START, "end": END, "numberOfSamples": 3}
    two = [
        float(v["value"])
        for v in (await metrics(api, workload_id, params)).json()["measurements"][0]["values"]
    ]
    api.emulator.state.force_phase(workload_id, "Failed", "crash")
    zero = [
        float(v["value"])
        for v in (await metrics(api, workload_id, params)).json()["measurements"][0]["values"]
    ]
    assert all(value > 0 for value in two)
    assert zero == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"start": START, "end": END}, "metricType is required"),
        (
            {"metricType": "GPU_UTILIZATION", "start": START, "end": END},
            "unsupported metricType 'GPU_UTILIZATION'",
        ),
        (
            {"metricType": "throughput", "start": START, "end": END},
            "unsupported metricType 'throughput'",
        ),
        ({"metricType": "LATENCY", "end": END}, "start is required"),
        ({"metricType": "LATENCY", "start": START}, "end is required"),
        (
            {"metricType": "LATENCY", "start": "yesterday", "end": END},
            "start 'yesterday' is not an ISO 8601",
        ),
        ({"metricType": "LATENCY", "start": END, "end": START}, "end must be after start"),
        ({"metricType": "LATENCY", "start": START, "end": START}, "end must be after start"),
        (
            {"metricType": "LATENCY", "start": START, "end": END, "numberOfSamples": 1001},
            "numberOfSamples must be in 0..1000, got 1001",
        ),
        (
            {"metricType": "LATENCY", "start": START, "end": END, "numberOfSamples": -1},
            "numberOfSamples must be in 0..1000, got -1",
        ),
        (
            {"metricType": "LATENCY", "start": START, "end": END, "numberOfSamples": "x"},
            "numberOfSamples must be an integer",
        ),
    ],
)
async def test_bad_metric_queries_are_400(api: Api, params: dict[str, Any], needle: str) -> None:
    workload_id = (await api.create("metered"))["workloadId"]
    for pod in (None, pod_id(workload_id, 0)):
        api.emulator.state.force_phase(workload_id, "Running")
        response = await metrics(api, workload_id, params, pod)
        assert response.status_code == 400
        assert needle in response.json()["message"]


async def test_pod_metrics_for_each_running_replica(api: Api) -> None:
    workload_id = await running_workload(api, replicas=2)
    pods = (await api.workload(workload_id)).json()["additionalFields"]["pods"]
    assert [p["id"] for p in pods] == [pod_id(workload_id, 0), pod_id(workload_id, 1)]
    params = {"metricType": "THROUGHPUT,LATENCY", "start": START, "end": END, "numberOfSamples": 4}
    bodies = []
    for pod in pods:
        response = await metrics(api, workload_id, params, pod["id"])
        assert response.status_code == 200
        body = response.json()
        assert {m["labels"]["podId"] for m in body["measurements"]} == {pod["id"]}
        bodies.append(body)
    assert bodies[0] != bodies[1], "each pod has its own series"


async def test_unknown_pod_or_workload_is_404(api: Api) -> None:
    workload_id = await running_workload(api, replicas=1)
    params = {"metricType": "LATENCY", "start": START, "end": END}
    stranger = pod_id(workload_id, 5)
    response = await metrics(api, workload_id, params, stranger)
    assert response.status_code == 404
    assert response.json()["message"] == f"Pod {stranger} not found in workload {workload_id}."
    unknown = "00000000-0000-4000-8000-000000000000"
    assert (await metrics(api, unknown, params)).status_code == 404


async def test_a_207_fault_makes_the_answer_partial(api: Api) -> None:
    workload_id = await running_workload(api)
    path = f"/api/v1/workloads/inferences/{workload_id}/metrics"
    armed = await api.client.post(
        "/emulator/faults", json={"status": 207, "count": 1, "pathPrefix": path}
    )
    assert armed.status_code == 201
    params = {"metricType": "THROUGHPUT,LATENCY", "start": START, "end": END}
    partial = await metrics(api, workload_id, params)
    assert partial.status_code == 207  # "Partial success", a MetricsResponse all the same
    assert [m["type"] for m in partial.json()["measurements"]] == ["THROUGHPUT"]
    whole = await metrics(api, workload_id, params)
    assert whole.status_code == 200
    assert [m["type"] for m in whole.json()["measurements"]] == ["THROUGHPUT", "LATENCY"]
