"""Inference and pod metrics: metricType, start/end, numberOfSamples, pods, no sample
before the creation, and samples that keep their values when the workload changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.emulator import pod_id
from tests.emulator.conftest import INFERENCE, METRICS, MODULE_LOOP, POD_METRICS, Api

pytestmark = MODULE_LOOP

# A fixed window, long before any workload of these tests exists.
START = "2025-06-06T12:00:00Z"
END = "2025-06-06T13:00:00Z"
DAY = timedelta(days=1)


def z(moment: datetime) -> str:
    """ISO 8601 with milliseconds and Z, as a client writes it."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def running_workload(api: Api, replicas: int = 2) -> str:
    """A workload created a day ago (emulator time), Running since its first second."""
    workload_id, _ = await aged_workload(api, replicas)
    return workload_id


async def aged_workload(api: Api, replicas: int = 2) -> tuple[str, datetime]:
    """(id, createdAt) of a workload created, then aged a day on the emulator's clock."""
    created = await api.create(
        "metered", autoscaling={"minReplicas": replicas, "maxReplicas": replicas}
    )
    workload_id: str = created["workloadId"]
    await api.age(DAY.total_seconds())
    assert (await api.workload(workload_id)).json()["phase"] == "Running"
    return workload_id, stamp(created["createdAt"])


def day_window(created: datetime, samples: int | None = None, types: str = "") -> dict[str, Any]:
    """The hour from 12 to 13 h after the creation."""
    params: dict[str, Any] = {
        "metricType": types or "THROUGHPUT,LATENCY",
        "start": z(created + timedelta(hours=12)),
        "end": z(created + timedelta(hours=13)),
    }
    if samples is not None:
        params["numberOfSamples"] = samples
    return params


async def metrics(api: Api, workload_id: str, params: Any, pod: str | None = None) -> Any:
    if pod is None:
        return await api.call("GET", METRICS, path={"workloadId": workload_id}, params=params)
    return await api.call(
        "GET", POD_METRICS, path={"workloadId": workload_id, "podId": pod}, params=params
    )


def stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_series_honour_window_and_samples(api: Api) -> None:
    workload_id, created = await aged_workload(api)
    params = day_window(created, 7)
    response = await metrics(api, workload_id, params)
    assert response.status_code == 200
    measurements = response.json()["measurements"]
    assert [m["type"] for m in measurements] == ["THROUGHPUT", "LATENCY"]
    for measurement in measurements:
        values = measurement["values"]
        assert len(values) == 7
        times = [stamp(v["timestamp"]) for v in values]
        assert times[0] == created + timedelta(hours=12)
        assert times[-1] == created + timedelta(hours=13)
        assert times == sorted(times)
        numbers = [float(v["value"]) for v in values]
        assert all(number > 0 for number in numbers)
        assert len(set(numbers)) > 1, "a flat line is not a plausible series"
    latency = [float(v["value"]) for v in measurements[1]["values"]]
    assert all(10 < ms < 1000 for ms in latency)
    again = await metrics(api, workload_id, params)
    assert again.json() == response.json(), "series must be deterministic"


async def test_default_samples_and_one_type(api: Api) -> None:
    workload_id, created = await aged_workload(api)
    response = await metrics(api, workload_id, day_window(created, types="LATENCY"))
    [measurement] = response.json()["measurements"]
    assert measurement["type"] == "LATENCY"
    assert len(measurement["values"]) == 20


async def test_repeated_metric_type_params_and_space_dates(api: Api) -> None:
    workload_id, created = await aged_workload(api)
    noon = (created + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    params = [
        ("metricType", "THROUGHPUT"),
        ("metricType", "LATENCY"),
        ("start", noon.strftime("%Y-%m-%d %H:%M:%S")),
        ("end", noon.strftime("%Y-%m-%d %H:30:00.500+00:00")),
        ("numberOfSamples", "2"),
    ]
    response = await metrics(api, workload_id, params)
    assert response.status_code == 200
    body = response.json()["measurements"]
    assert [m["type"] for m in body] == ["THROUGHPUT", "LATENCY"]
    assert [v["timestamp"] for v in body[0]["values"]] == [
        noon.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        noon.strftime("%Y-%m-%dT%H:30:00.500Z"),
    ]


async def test_zero_samples(api: Api) -> None:
    workload_id = await running_workload(api)
    params = {"metricType": "THROUGHPUT", "start": START, "end": END, "numberOfSamples": 0}
    response = await metrics(api, workload_id, params)
    assert response.json() == {
        "measurements": [{"type": "THROUGHPUT", "labels": None, "values": []}]
    }


def numbers(response: Any, index: int = 0) -> list[float]:
    return [float(v["value"]) for v in response.json()["measurements"][index]["values"]]


async def test_throughput_scales_with_replicas_and_stops_when_not_running(api: Api) -> None:
    state = api.emulator.state
    workload_id, created = await aged_workload(api, replicas=2)
    served = day_window(created, 3, "THROUGHPUT")
    before = numbers(await metrics(api, workload_id, served))
    failed_at = datetime.fromtimestamp(state.now(), UTC)
    state.force_phase(workload_id, "Failed", "crash")
    await api.age(3600)
    after = {
        "metricType": "THROUGHPUT",
        "start": z(failed_at + timedelta(minutes=1)),
        "end": z(failed_at + timedelta(minutes=59)),
        "numberOfSamples": 3,
    }
    assert all(value > 0 for value in before)
    assert numbers(await metrics(api, workload_id, after)) == [0.0, 0.0, 0.0]
    # The failure changed what came after it, not what was already measured.
    assert numbers(await metrics(api, workload_id, served)) == before


async def test_more_replicas_serve_more_from_the_patch_on(api: Api) -> None:
    # One workload before and after its PATCH: the same per-replica curve (its base rate is
    # drawn from the workload id), so only the replica count differs. Two workloads would
    # compare two random base rates.
    state = api.emulator.state
    one = await api.create("grows", autoscaling={"minReplicas": 1, "maxReplicas": 1})
    await api.age(3600)

    def last_half_hour() -> dict[str, Any]:
        now = datetime.fromtimestamp(state.now(), UTC)
        return {
            "metricType": "THROUGHPUT",
            "start": z(now - timedelta(minutes=30)),
            "end": z(now),
            "numberOfSamples": 30,
        }

    solo = numbers(await metrics(api, one["workloadId"], last_half_hour()))
    patched = await api.call(
        "PATCH",
        INFERENCE,
        path={"workloadId": one["workloadId"]},
        json={"spec": {"autoscaling": {"minReplicas": 3, "maxReplicas": 3}}},
    )
    assert patched.status_code == 202, patched.text
    await api.age(3600)
    trio = numbers(await metrics(api, one["workloadId"], last_half_hour()))
    # Per replica the series swings by a third at most around its base: three replicas
    # serve more in every sample than one did in any.
    assert max(solo) < 27 and min(trio) > max(solo)
    assert sum(trio) / len(trio) > 2 * sum(solo) / len(solo)


async def test_no_sample_before_the_workload_was_created(api: Api) -> None:
    state = api.emulator.state
    created = await api.create("newborn", autoscaling={"minReplicas": 2, "maxReplicas": 2})
    workload_id = created["workloadId"]
    born = stamp(created["createdAt"])
    state.clock.advance(60)  # `metrics --since 1h` of a workload a minute old
    now = datetime.fromtimestamp(state.now(), UTC)
    hour = {"metricType": "THROUGHPUT,LATENCY", "start": z(now - timedelta(hours=1)), "end": z(now)}
    pod = pod_id(workload_id, 1)
    for asked in (None, pod):
        body = (await metrics(api, workload_id, hour, asked)).json()
        for measurement in body["measurements"]:
            times = [stamp(v["timestamp"]) for v in measurement["values"]]
            assert len(times) == 20, "the samples asked for, spread over the minute it lived"
            assert times[0] == born
            assert min(times) >= born and max(times) == stamp(hour["end"])
    before = {"metricType": "LATENCY", "start": START, "end": z(born - timedelta(seconds=1))}
    body = (await metrics(api, workload_id, before)).json()
    assert body == {"measurements": [{"type": "LATENCY", "labels": None, "values": []}]}


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
    workload_id, created = await aged_workload(api, replicas=2)
    pods = (await api.workload(workload_id)).json()["additionalFields"]["pods"]
    assert [p["id"] for p in pods] == [pod_id(workload_id, 0), pod_id(workload_id, 1)]
    params = day_window(created, 4)
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
    workload_id, created = await aged_workload(api)
    path = f"/api/v1/workloads/inferences/{workload_id}/metrics"
    armed = await api.client.post(
        "/emulator/faults", json={"status": 207, "count": 1, "pathPrefix": path}
    )
    assert armed.status_code == 201
    params = day_window(created)
    partial = await metrics(api, workload_id, params)
    assert partial.status_code == 207  # "Partial success", a MetricsResponse all the same
    assert [m["type"] for m in partial.json()["measurements"]] == ["THROUGHPUT"]
    whole = await metrics(api, workload_id, params)
    assert whole.status_code == 200
    assert [m["type"] for m in whole.json()["measurements"]] == ["THROUGHPUT", "LATENCY"]
