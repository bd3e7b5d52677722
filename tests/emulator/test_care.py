"""Workload metrics (GPU, pods), idle GPUs in the list, and the traffic control."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.emulator.metrics import WORKLOAD_METRIC_TYPES
from bot.emulator.usage import GPU_MEMORY_BYTES
from tests.emulator.conftest import (
    METRICS,
    MODULE_LOOP,
    POD_METRICS,
    WORKLOAD_METRICS,
    WORKLOADS,
    Api,
)

pytestmark = MODULE_LOOP

GPU_TYPES = "GPU_UTILIZATION,GPU_MEMORY_USAGE_BYTES,GPU_MEMORY_REQUEST_BYTES,GPU_ALLOCATION"
POD_TYPES = "POD_COUNT,RUNNING_POD_COUNT"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now(api: Api) -> datetime:
    return datetime.fromtimestamp(api.emulator.state.now(), UTC)


def last(api: Api, minutes: float, types: str, samples: int = 10) -> dict[str, Any]:
    """The last `minutes` of emulator time."""
    end = now(api)
    return {
        "metricType": types,
        "start": z(end - timedelta(minutes=minutes)),
        "end": z(end),
        "numberOfSamples": samples,
    }


def between(types: str, start: datetime, end: datetime, samples: int = 10) -> dict[str, Any]:
    return {"metricType": types, "start": z(start), "end": z(end), "numberOfSamples": samples}


async def workload_metrics(api: Api, workload_id: str, params: Any) -> dict[str, list[float]]:
    """{type: values} of a 200 answer."""
    response = await api.call(
        "GET", WORKLOAD_METRICS, path={"workloadId": workload_id}, params=params
    )
    assert response.status_code == 200, response.text
    return {
        m["type"]: [float(v["value"]) for v in m["values"]] for m in response.json()["measurements"]
    }


async def inference_metrics(api: Api, workload_id: str, params: Any) -> dict[str, list[float]]:
    response = await api.call("GET", METRICS, path={"workloadId": workload_id}, params=params)
    assert response.status_code == 200, response.text
    return {
        m["type"]: [float(v["value"]) for v in m["values"]] for m in response.json()["measurements"]
    }


async def gpu_workload(api: Api, name: str = "gpu", replicas: int = 2, **compute: Any) -> str:
    """A workload with 1 GPU per replica (or `compute`), Running after an hour's ageing."""
    created = await api.create(
        name,
        compute=compute or {"gpuDevicesRequest": 1},
        autoscaling={"minReplicas": replicas, "maxReplicas": replicas},
    )
    await api.age(3600)
    workload_id: str = created["workloadId"]
    return workload_id


async def traffic(api: Api, workload_id: str, body: Any) -> Any:
    return await api.client.post(f"/emulator/workloads/{workload_id}/traffic", json=body)


async def test_gpu_and_pod_series_follow_replicas_and_requests(api: Api) -> None:
    workload_id = await gpu_workload(api, replicas=2)
    series = await workload_metrics(api, workload_id, last(api, 30, f"{GPU_TYPES},{POD_TYPES}"))
    assert series["GPU_ALLOCATION"] == [2.0] * 10
    assert series["POD_COUNT"] == series["RUNNING_POD_COUNT"] == [2.0] * 10
    assert series["GPU_MEMORY_REQUEST_BYTES"] == [2.0 * GPU_MEMORY_BYTES] * 10
    # vLLM holds ~90% of the memory it is given, busy or not.
    assert all(
        0.85 < used / (2 * GPU_MEMORY_BYTES) < 0.95 for used in series["GPU_MEMORY_USAGE_BYTES"]
    )
    utilisation = series["GPU_UTILIZATION"]
    assert all(1 <= percent <= 100 for percent in utilisation)
    assert len(set(utilisation)) > 1, "a flat line is not a plausible series"


async def test_fractions_and_memory_requests(api: Api) -> None:
    half = await gpu_workload(
        api,
        "half",
        replicas=3,
        gpuDevicesRequest=1,
        gpuRequestType="portion",
        gpuPortionRequest=0.5,
    )
    series = await workload_metrics(api, half, last(api, 10, "GPU_ALLOCATION", 2))
    assert series["GPU_ALLOCATION"] == [1.5, 1.5]
    sized = await gpu_workload(
        api,
        "sized",
        replicas=1,
        gpuDevicesRequest=1,
        gpuRequestType="memory",
        gpuMemoryRequest="20Gi",
    )
    series = await workload_metrics(api, sized, last(api, 10, "GPU_MEMORY_REQUEST_BYTES", 2))
    assert series["GPU_MEMORY_REQUEST_BYTES"] == [20.0 * 2**30] * 2


async def test_pods_pending_before_running_and_none_without_gpus(api: Api) -> None:
    state = api.emulator.state
    state.phase_seconds = 600
    created = await api.create(
        "slow", compute={"gpuDevicesRequest": 2}, autoscaling={"minReplicas": 2, "maxReplicas": 2}
    )
    workload_id = created["workloadId"]
    await api.age(300)  # still Creating
    series = await workload_metrics(
        api, workload_id, last(api, 4, f"{POD_TYPES},GPU_ALLOCATION,GPU_UTILIZATION", 3)
    )
    assert series == {
        "POD_COUNT": [2.0, 2.0, 2.0],
        "RUNNING_POD_COUNT": [0.0, 0.0, 0.0],
        "GPU_ALLOCATION": [0.0, 0.0, 0.0],
        "GPU_UTILIZATION": [0.0, 0.0, 0.0],
    }
    await api.age(1200)  # Running now, since 1200 s after the creation
    running = await workload_metrics(api, workload_id, last(api, 4, "GPU_ALLOCATION", 3))
    assert running["GPU_ALLOCATION"] == [4.0, 4.0, 4.0]
    cpu_only = (await api.create("cpu-only"))["workloadId"]
    state.force_phase(cpu_only, "Running")
    await api.age(600)
    series = await workload_metrics(
        api, cpu_only, last(api, 5, "GPU_ALLOCATION,GPU_UTILIZATION", 3)
    )
    assert series == {"GPU_ALLOCATION": [0.0] * 3, "GPU_UTILIZATION": [0.0] * 3}


async def test_every_metric_type_is_schema_valid_and_nim_series_are_empty(api: Api) -> None:
    workload_id = await gpu_workload(api, cpuCoreRequest=2, cpuCoreLimit=4, cpuMemoryRequest="8G")
    series = await workload_metrics(
        api, workload_id, last(api, 20, ",".join(WORKLOAD_METRIC_TYPES), 4)
    )
    assert list(series) == list(WORKLOAD_METRIC_TYPES)
    for name, values in series.items():
        if name.startswith(("NIM_", "NVLINK")):
            assert values == [], name
        else:
            assert len(values) == 4, name
    assert series["CPU_REQUEST_CORES"] == [4.0] * 4  # 2 cores x 2 replicas
    assert series["CPU_LIMIT_CORES"] == [8.0] * 4
    assert series["CPU_MEMORY_REQUEST_BYTES"] == [16e9] * 4
    assert all(0 < cores <= 8 for cores in series["CPU_USAGE_CORES"])


async def test_no_workload_sample_before_the_creation(api: Api) -> None:
    created = await api.create("young", compute={"gpuDevicesRequest": 1})
    await api.age(120)
    response = await api.call(
        "GET",
        WORKLOAD_METRICS,
        path={"workloadId": created["workloadId"]},
        params=last(api, 60, "GPU_ALLOCATION,POD_COUNT", 5),
    )
    for measurement in response.json()["measurements"]:
        stamps = [v["timestamp"] for v in measurement["values"]]
        assert stamps[0] == created["createdAt"]
        assert stamps == sorted(stamps) and len(stamps) == 5


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"metricType": "THROUGHPUT"}, "unsupported metricType 'THROUGHPUT'"),
        ({"metricType": "GPU_UTILISATION"}, "unsupported metricType 'GPU_UTILISATION'"),
        ({}, "metricType is required"),
        ({"metricType": "POD_COUNT", "numberOfSamples": 1001}, "numberOfSamples must be in"),
    ],
)
async def test_bad_workload_metric_queries_are_400(
    api: Api, params: dict[str, Any], needle: str
) -> None:
    workload_id = await gpu_workload(api)
    end = now(api)
    query = {"start": z(end - timedelta(hours=1)), "end": z(end), **params}
    response = await api.call(
        "GET", WORKLOAD_METRICS, path={"workloadId": workload_id}, params=query
    )
    assert response.status_code == 400
    assert needle in response.json()["message"]
    unknown = await api.call(
        "GET", WORKLOAD_METRICS, path={"workloadId": UNKNOWN}, params=last(api, 5, "POD_COUNT")
    )
    assert unknown.status_code == 404


async def test_a_207_fault_serves_the_first_workload_series(api: Api) -> None:
    workload_id = await gpu_workload(api)
    await api.client.post(
        "/emulator/faults",
        json={"status": 207, "count": 1, "pathPrefix": f"/api/v1/workloads/{workload_id}/metrics"},
    )
    response = await api.call(
        "GET", WORKLOAD_METRICS, path={"workloadId": workload_id}, params=last(api, 5, POD_TYPES)
    )
    assert response.status_code == 207
    assert [m["type"] for m in response.json()["measurements"]] == ["POD_COUNT"]


async def test_traffic_control_changes_what_follows_and_keeps_the_past(api: Api) -> None:
    workload_id = await gpu_workload(api, replicas=2)
    set_at = now(api)
    past = between("THROUGHPUT,LATENCY", set_at - timedelta(minutes=30), set_at)
    past_gpu = between("GPU_UTILIZATION", set_at - timedelta(minutes=30), set_at)
    before = await inference_metrics(api, workload_id, past)
    before_gpu = await workload_metrics(api, workload_id, past_gpu)

    response = await traffic(
        api, workload_id, {"requestsPerSecond": 0, "latencyMs": 250, "gpuUtilization": 0.0}
    )
    assert response.status_code == 200
    assert response.json()["requestsPerSecond"] == 0
    assert response.json()["latencyMs"] == 250
    assert response.json()["gpuUtilization"] == 0
    await api.age(1800)
    after = between("THROUGHPUT,LATENCY", set_at + timedelta(seconds=1), now(api))
    served = await inference_metrics(api, workload_id, after)
    assert served["THROUGHPUT"] == [0.0] * 10, "0 is exactly 0: no noise"
    assert all(240 <= ms <= 260 for ms in served["LATENCY"]), served["LATENCY"]
    assert len(set(served["LATENCY"])) > 1, "a little noise around a value that is not 0"
    gpu = await workload_metrics(api, workload_id, {**after, "metricType": "GPU_UTILIZATION"})
    assert gpu["GPU_UTILIZATION"] == [0.0] * 10
    # Samples taken before the control keep their values.
    assert await inference_metrics(api, workload_id, past) == before
    assert await workload_metrics(api, workload_id, past_gpu) == before_gpu
    assert all(value > 0 for value in before["THROUGHPUT"] + before_gpu["GPU_UTILIZATION"])


async def test_traffic_subsets_add_up_and_null_hands_back(api: Api) -> None:
    workload_id = await gpu_workload(api, replicas=2)
    await traffic(api, workload_id, {"requestsPerSecond": 40})
    response = await traffic(api, workload_id, {"gpuUtilization": 55.5})
    assert response.json() == {
        "workloadId": workload_id,
        "since": response.json()["since"],
        "requestsPerSecond": 40.0,
        "latencyMs": None,
        "gpuUtilization": 55.5,
    }
    await api.age(600)
    window = last(api, 9, "THROUGHPUT", 5)
    served = await inference_metrics(api, workload_id, window)
    assert all(38.8 <= rps <= 41.2 for rps in served["THROUGHPUT"])
    gpu = await workload_metrics(api, workload_id, {**window, "metricType": "GPU_UTILIZATION"})
    assert all(53 <= percent <= 58 for percent in gpu["GPU_UTILIZATION"])
    # Each pod serves its share.
    pods = (await api.workload(workload_id)).json()["additionalFields"]["pods"]
    shares = []
    for pod in pods:
        response = await api.call(
            "GET",
            POD_METRICS,
            path={"workloadId": workload_id, "podId": pod["id"]},
            params=window,
        )
        shares.append(float(response.json()["measurements"][0]["values"][-1]["value"]))
    assert all(19 <= share <= 21 for share in shares)
    response = await traffic(api, workload_id, {"requestsPerSecond": None})
    assert response.json()["requestsPerSecond"] is None
    await api.age(600)
    free = await inference_metrics(api, workload_id, last(api, 9, "THROUGHPUT", 5))
    assert not all(38.8 <= rps <= 41.2 for rps in free["THROUGHPUT"])


async def test_a_stopped_workload_serves_nothing_whatever_the_control(api: Api) -> None:
    workload_id = await gpu_workload(api, replicas=1)
    await traffic(api, workload_id, {"requestsPerSecond": 12, "gpuUtilization": 80})
    api.emulator.state.force_phase(workload_id, "Failed", "OOMKilled")
    await api.age(300)
    served = await inference_metrics(api, workload_id, last(api, 4, "THROUGHPUT", 3))
    gpu = await workload_metrics(
        api, workload_id, last(api, 4, "GPU_UTILIZATION,GPU_ALLOCATION", 3)
    )
    assert served["THROUGHPUT"] == [0.0] * 3
    assert gpu == {"GPU_UTILIZATION": [0.0] * 3, "GPU_ALLOCATION": [0.0] * 3}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ([1, 2], "the body must be a JSON object"),
        ({}, "give at least one traffic field"),
        ({"rps": 3}, "unknown traffic field(s): rps"),
        ({"requestsPerSecond": "10"}, "requestsPerSecond must be a number, got '10'"),
        ({"latencyMs": True}, "latencyMs must be a number, got True"),
        ({"requestsPerSecond": -1}, "requestsPerSecond must be between 0 and 1e+06, got -1"),
        ({"latencyMs": -0.5}, "latencyMs must be between 0"),
        ({"gpuUtilization": 150}, "gpuUtilization must be between 0 and 100 (a percentage"),
        ({"gpuUtilization": -3}, "gpuUtilization must be between 0 and 100"),
    ],
)
async def test_bad_traffic_bodies_are_400(api: Api, body: Any, needle: str) -> None:
    workload_id = (await api.create("bad-traffic"))["workloadId"]
    response = await traffic(api, workload_id, body)
    assert response.status_code == 400
    assert needle in response.json()["message"], response.json()
    assert api.emulator.state.get(workload_id).traffic == []


async def test_traffic_needs_json_numbers_and_a_known_workload(api: Api) -> None:
    workload_id = (await api.create("odd-traffic"))["workloadId"]
    url = f"/emulator/workloads/{workload_id}/traffic"
    for raw in ('{"latencyMs": NaN}', '{"requestsPerSecond": Infinity}'):
        response = await api.client.post(url, content=raw)
        assert response.status_code == 400
        assert "must be a number" in response.json()["message"]
    response = await api.client.post(url, content="not json")
    assert response.status_code == 400
    response = await traffic(api, UNKNOWN, {"latencyMs": 100})
    assert response.status_code == 404
    assert response.json() == {"code": 404, "message": f"Workload {UNKNOWN} not found."}


async def list_rows(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = await api.call("GET", WORKLOADS, params=params)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["workloads"]
    return rows


async def test_list_shows_allocated_and_idle_gpus(api: Api) -> None:
    busy = await api.create("busy", compute={"gpuDevicesRequest": 2})
    idle = await api.create(
        "idle", compute={"gpuDevicesRequest": 1}, autoscaling={"minReplicas": 3, "maxReplicas": 3}
    )
    cpu = await api.create("cpu")
    await api.age(60)
    await traffic(api, idle["workloadId"], {"gpuUtilization": 0})
    rows = {row["name"]: row for row in await list_rows(api)}
    assert rows["busy"]["allocatedResources"]["gpu"] == 2.0
    assert (rows["busy"]["idleAllocatedGpus"], rows["busy"]["idleGpus"]) == (0.0, 0)
    assert rows["idle"]["allocatedResources"]["gpu"] == 3.0
    assert (rows["idle"]["idleAllocatedGpus"], rows["idle"]["idleGpus"]) == (3.0, 3)
    assert rows["cpu"]["allocatedResources"]["gpu"] == 0.0
    assert rows["cpu"]["idleAllocatedGpus"] == 0.0, "no GPUs, nothing idle"

    names = [r["name"] for r in await list_rows(api, filterBy="idleAllocatedGpus>=1")]
    assert names == ["idle"]
    names = [r["name"] for r in await list_rows(api, filterBy="idleGpus==3")]
    assert names == ["idle"]
    names = [r["name"] for r in await list_rows(api, filterBy="allocatedGPU>=2")]
    assert sorted(names) == ["busy", "idle"]
    names = [r["name"] for r in await list_rows(api, filterBy="allocatedGPU==0")]
    assert names == ["cpu"]
    ordered = await list_rows(api, sortBy="allocatedGPU", sortOrder="desc")
    assert [r["name"] for r in ordered] == ["idle", "busy", "cpu"]
    ordered = await list_rows(api, sortBy="idleAllocatedGpus", sortOrder="desc")
    assert ordered[0]["name"] == "idle"

    # Busy again: no longer idle, from now on.
    await traffic(api, idle["workloadId"], {"gpuUtilization": 35})
    row = next(r for r in await list_rows(api) if r["name"] == "idle")
    assert (row["idleAllocatedGpus"], row["idleGpus"]) == (0.0, 0)
    assert await list_rows(api, filterBy="idleAllocatedGpus!=0") == []
    _ = busy, cpu


async def test_idle_gpus_are_released_when_not_serving(api: Api) -> None:
    created = await api.create("parked", compute={"gpuDevicesRequest": 1})
    await api.age(60)
    await traffic(api, created["workloadId"], {"gpuUtilization": 0})
    api.emulator.state.force_phase(created["workloadId"], "Stopped")
    [row] = await list_rows(api, filterBy="name==parked")
    assert row["allocatedResources"] == {"gpu": 0.0}
    assert row["idleAllocatedGpus"] == 0.0


async def test_ten_thousand_rows_filter_and_sort_on_the_gpu_fields(api: Api) -> None:
    # How long it takes is bench/care_scale.py's business; here: the right 500 rows.
    state = api.emulator.state
    ids = state.seed_workloads(10_000)
    for workload_id in ids[:100]:
        state.set_traffic(workload_id, {"gpuUtilization": 0})
    rows = await list_rows(api, filterBy="idleAllocatedGpus==0", sortBy="allocatedGPU", limit=500)
    assert len(rows) == 500
    assert all(r["idleAllocatedGpus"] == 0 for r in rows)
    gpus = [r["allocatedResources"]["gpu"] for r in rows]
    assert gpus == sorted(gpus)
