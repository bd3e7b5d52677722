"""The official Python SDK (runapy 1.224, package `runai`) drives the emulator.

runapy is synchronous: it runs in a worker thread (asyncio.to_thread) while the
emulator serves from this test's event loop. It fetches its own token with
grantType app_token + AppId/AppSecret and joins metricType with commas. start/end:
a datetime goes out as isoformat() (with `T`); a string as given, e.g. the schema
example's "2023-06-06 12:09:18" with a space. Both are accepted.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import pytest

from bot.emulator import CLUSTER_ID
from tests.conftest import RunningEmulator
from tests.contract import assert_request_matches, assert_response_matches
from tests.emulator.conftest import INFERENCE, INFERENCES, METRICS, POD_METRICS

if TYPE_CHECKING:
    from runai.api.inferences_api import InferencesApi

# runapy is imported where it is used: importing it costs ~2 s of CPU, and every xdist
# worker collects this module while only one of them runs these tests.
# Slow: the official SDK is thousands of generated modules; importing them takes most of a
# worker's 10-30 s here. The emulator's schema tests check the same shapes in the fast tier.
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.slow]


def sdk(emu: RunningEmulator, **options: Any) -> InferencesApi:
    """An InferencesApi configured the documented way (client id/secret, base URL)."""
    from runai.api.inferences_api import InferencesApi
    from runai.api_client import ApiClient
    from runai.configuration import Configuration

    configuration = Configuration(
        client_id=emu.client_id,
        client_secret=emu.client_secret,
        runai_base_url=emu.url,
        retry_enabled=False,
        **options,
    )
    return InferencesApi(ApiClient(configuration))


def lifecycle(emu: RunningEmulator) -> dict[str, Any]:
    """create → get → PATCH autoscaling → metrics → pod metrics → delete, all via runapy."""
    from runai import models

    api = sdk(emu)
    request = models.InferenceCreationRequest(
        name="sdk-llm",
        project_id="1",
        cluster_id=CLUSTER_ID,
        spec=models.InferenceSpecSpec(
            image="vllm/vllm-openai:v0.6.4",
            args="--model Qwen/Qwen2.5-0.5B-Instruct",
            serving_port=models.ServingPort(container=8000),
            autoscaling=models.AutoScaling(min_replicas=1, max_replicas=1),
        ),
    )
    assert_request_matches("POST", INFERENCES, request.to_dict())
    created = api.create_inference1(request)
    assert created.status_code == 202
    assert_response_matches("POST", INFERENCES, 202, created.data)
    workload_id = created.data["workloadId"]

    got = api.get_inference(workload_id)
    assert got.status_code == 200
    assert_response_matches("GET", INFERENCE, 200, got.data)

    update = models.InferenceUpdateRequest(
        spec=models.InferenceUpdateSpecSpec(
            autoscaling=models.AutoScaling(
                min_replicas=2, max_replicas=4, metric="throughput", metric_threshold=10
            )
        )
    )
    assert_request_matches("PATCH", INFERENCE, update.to_dict())
    patched = api.update_inference_spec(workload_id, update)
    assert patched.status_code == 202
    assert_response_matches("PATCH", INFERENCE, 202, patched.data)

    end = datetime.now(UTC)
    start = end - timedelta(hours=1)
    measured = api.get_inference_workload_metrics(
        workload_id,
        [models.InferenceWorkloadMetricType.THROUGHPUT, models.InferenceWorkloadMetricType.LATENCY],
        start,
        end,
        number_of_samples=12,
    )
    assert measured.status_code == 200
    assert_response_matches("GET", METRICS, 200, measured.data)
    return {
        "api": api,
        "workload_id": workload_id,
        "created": created.data,
        "patched": patched.data,
        "metrics": measured.data,
        "start": start,
        "end": end,
    }


def finish(
    api: InferencesApi, workload_id: str, pod: str, start: datetime, end: datetime
) -> dict[str, Any]:
    """Pod metrics and delete, then the 404 once the workload is gone."""
    from runai import models

    # ...and passes strings through: the schema's example format, with a space.
    pod_metrics = api.get_inference_workload_pod_metrics(
        workload_id,
        pod,
        [models.InferencePodMetricType.LATENCY],
        start.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],  # type: ignore[arg-type]
        end.strftime("%Y-%m-%d %H:%M:%S"),  # type: ignore[arg-type]
    )
    assert_response_matches("GET", POD_METRICS, 200, pod_metrics.data)
    deleted = api.delete_inference(workload_id)
    assert_response_matches("DELETE", INFERENCE, 202, deleted.data)
    return {"pod_metrics": pod_metrics.data, "deleted": deleted.data, "status": deleted.status_code}


async def test_runapy_drives_the_whole_lifecycle(emulator: RunningEmulator) -> None:
    from runai.exceptions import ApiException

    result = await asyncio.to_thread(lifecycle, emulator)
    assert result["created"]["name"] == "sdk-llm"
    assert result["created"]["createdBy"] == emulator.client_id
    assert result["patched"]["spec"]["autoscaling"] == {
        "minReplicas": 2,
        "maxReplicas": 4,
        "metric": "throughput",
        "metricThreshold": 10,
    }
    assert [m["type"] for m in result["metrics"]["measurements"]] == ["THROUGHPUT", "LATENCY"]
    assert all(len(m["values"]) == 12 for m in result["metrics"]["measurements"])
    first = result["metrics"]["measurements"][0]["values"][0]["timestamp"]
    # The hour asked for began before the workload existed: samples start at its creation.
    assert first == result["created"]["createdAt"]

    stats = emulator.state.stats
    assert stats.count("POST", "/api/v1/token") == 1, "runapy's app_token grant was accepted"
    assert stats.count("GET", METRICS) == 1
    [sent] = [seen for seen in stats.recent if seen.template == METRICS]
    query = dict(part.split("=", 1) for part in sent.query.split("&"))
    assert unquote(query["metricType"]) == "THROUGHPUT,LATENCY"
    # runapy 1.224 turns a datetime into isoformat() (T, microseconds, +00:00)...
    assert unquote(query["start"]) == result["start"].isoformat()

    state = emulator.state
    workload_id = result["workload_id"]
    state.force_phase(workload_id, "Running")
    pods = state.get(workload_id).pod_ids(state.now())
    assert len(pods) == 2
    # The end goes out cut to the second: a second later keeps the creation inside it.
    end = result["end"] + timedelta(seconds=1)
    done = await asyncio.to_thread(
        finish, result["api"], workload_id, pods[1], result["start"], end
    )
    assert done["status"] == 202
    assert done["deleted"] == {"code": 202, "message": "Request has been accepted."}
    assert done["pod_metrics"]["measurements"][0]["labels"] == {"podId": pods[1]}
    assert len(done["pod_metrics"]["measurements"][0]["values"]) == 20
    [sent] = [seen for seen in stats.recent if seen.template == POD_METRICS]
    assert " " in unquote(sent.query.split("start=")[1].split("&")[0])

    def gone() -> int:
        try:
            result["api"].get_inference(workload_id)
        except ApiException as error:
            return int(error.status)
        return 200

    state.phase_seconds = 0
    state.delete(workload_id)
    state.clock.advance(5)
    assert await asyncio.to_thread(gone) == 404


async def test_runapy_sees_validation_errors(emulator: RunningEmulator) -> None:
    from runai import models
    from runai.exceptions import ApiException

    def submit() -> ApiException:
        api = sdk(emulator)
        request = models.InferenceCreationRequest(
            name="sdk-bad",
            project_id="1",
            cluster_id=CLUSTER_ID,
            spec=models.InferenceSpecSpec(
                image="vllm/vllm-openai:latest",
                serving_port=models.ServingPort(container=8000),
                autoscaling=models.AutoScaling(min_replicas=1, max_replicas=3),
            ),
        )
        with pytest.raises(ApiException) as caught:
            api.create_inference1(request)
        return caught.value

    error = await asyncio.to_thread(submit)
    assert error.status == 400
    assert error.data["code"] == 400
    assert "metric is mandatory" in error.data["message"]


async def test_runapy_refreshes_by_exp_not_after_401(emulator_factory: Any) -> None:
    # runapy refreshes when `exp - now <= 60 s` by its own clock and never after a 401.
    # A 30 s token is therefore renewed before every call...
    from runai.exceptions import ApiException

    unknown = "00000000-0000-4000-8000-000000000000"

    def status(api: InferencesApi) -> int:
        try:
            return int(api.get_inference(unknown).status_code)
        except ApiException as error:
            return int(error.status)

    async with emulator_factory(token_ttl_seconds=30) as emu:
        api = await asyncio.to_thread(sdk, emu)
        assert [await asyncio.to_thread(status, api) for _ in range(2)] == [404, 404]
        assert emu.state.stats.count("POST", "/api/v1/token") == 3

    # ...while a token the server considers expired (its clock ran ahead) is not renewed.
    async with emulator_factory(token_ttl_seconds=3600) as emu:
        api = await asyncio.to_thread(sdk, emu)
        emu.state.clock.advance(3601)
        assert await asyncio.to_thread(status, api) == 401
        assert emu.state.stats.count("POST", "/api/v1/token") == 1
