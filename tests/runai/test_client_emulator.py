"""RunaiClient against the emulator over real sockets: every operation, auth, retries."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import httpx
import pytest

from bot.runai import RunaiClient, errors, models
from bot.runai.httpx_wire import HttpxWire
from tests.runai.conftest import (
    CLIENT_SECRET,
    CLUSTER_ID,
    ClientFactory,
    Emulator,
    EmulatorFactory,
    RecordingTransport,
)

T = TypeVar("T")
INFERENCES = "/api/v1/workloads/inferences"


async def poll(
    fetch: Callable[[], Awaitable[T]], done: Callable[[T], bool], within: float = 10.0
) -> T:
    """Call `fetch` until `done(result)`; fail after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await fetch()
        if done(result):
            return result
        assert asyncio.get_running_loop().time() < deadline, f"gave up waiting; last: {result!r}"
        await asyncio.sleep(0.05)


def creation(
    name: str, *, image: str = "vllm/vllm-openai:v0.6.4", project: str = "1"
) -> models.InferenceCreationRequest:
    return models.InferenceCreationRequest(
        name=name,
        project_id=project,
        cluster_id=CLUSTER_ID,
        spec=models.InferenceSpecSpec(
            image=image,
            serving_port=models.ServingPort(container=8000, protocol="http"),
            compute=models.Compute(gpu_devices_request=1),
            environment_variables=[
                models.EnvironmentVariable(name="HF_TOKEN", value="hf_envsecret")
            ],
            autoscaling=models.AutoScaling(min_replicas=1, max_replicas=1),
        ),
    )


def unique(prefix: str = "inf") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- happy paths -------------------------------------------------------------------------


async def test_every_operation_happy_path(client: RunaiClient, emulator: Emulator) -> None:
    clusters = await client.list_clusters()
    assert [c.uuid for c in clusters] == [CLUSTER_ID]
    projects = await client.list_projects()
    assert {(p.id, p.name) for p in projects} >= {("1", "team-a"), ("2", "team-b")}

    info = await client.model_info("Qwen/Qwen2.5-0.5B-Instruct")
    assert info.model_name == "Qwen/Qwen2.5-0.5B-Instruct"
    assert info.pipeline_tag == "text-generation"
    assert info.architectures == ["Qwen2ForCausalLM"]
    assert info.vllm_supporting_versions
    assert info.min_memory_requirements_mb and info.min_memory_requirements_mb > 0

    created = await client.create_inference(creation("happy"))
    assert created.name == "happy"
    assert created.project_id == "1"
    assert created.cluster_id == CLUSTER_ID
    assert created.spec is not None and created.spec.image == "vllm/vllm-openai:v0.6.4"

    fetched = await client.get_inference(created.workload_id)
    assert fetched.workload_id == created.workload_id

    found = await client.find_inferences("happy", project_id="1")
    assert [w.id for w in found] == [created.workload_id]
    assert found[0].type == models.INFERENCE_WORKLOAD_TYPE

    running = await poll(
        lambda: client.get_workload(created.workload_id),
        lambda w: w.phase == models.Phase.RUNNING,
    )
    assert running.urls and running.running_pods == 1
    assert any(c.type == "Ready" for c in running.conditions)

    page = await client.list_workloads(filter_by=["name==happy"], limit=10)
    assert [w.id for w in page.workloads] == [created.workload_id]

    scaled = await client.update_inference(
        created.workload_id,
        models.InferenceUpdateRequest(
            spec=models.InferenceUpdateSpec(
                autoscaling=models.AutoScaling(
                    min_replicas=2, max_replicas=3, metric="throughput", metric_threshold=10
                )
            )
        ),
    )
    assert scaled.spec is not None and scaled.spec.autoscaling is not None
    assert scaled.spec.autoscaling.max_replicas == 3

    end = datetime.now(UTC)
    metrics = await client.inference_metrics(
        created.workload_id, end - timedelta(hours=1), end, number_of_samples=12
    )
    kinds = {m.type for m in metrics.measurements}
    assert kinds == {"THROUGHPUT", "LATENCY"}
    assert all(isinstance(v.value, float) for m in metrics.measurements for v in m.values)
    assert all(len(m.values) <= 12 for m in metrics.measurements)

    detailed = await poll(
        lambda: client.get_workload(created.workload_id),
        lambda w: w.phase == models.Phase.RUNNING and (w.running_pods or 0) >= 2,
    )
    pods = (detailed.model_extra or {}).get("additionalFields", {}).get("pods", [])
    assert pods, detailed
    pod_metrics = await client.pod_metrics(
        created.workload_id,
        pods[0]["id"],
        end - timedelta(minutes=30),
        end,
        metric_types=[models.MetricType.LATENCY],
    )
    assert {m.type for m in pod_metrics.measurements} == {"LATENCY"}

    await client.delete_inference(created.workload_id)
    with pytest.raises(errors.NotFoundError):
        await poll(lambda: client.get_inference(created.workload_id), lambda _: False)


# --- auth --------------------------------------------------------------------------------


async def test_short_lived_tokens_are_refreshed_before_they_expire(
    start_emulator: EmulatorFactory, make_client: ClientFactory
) -> None:
    emulator = await start_emulator(token_ttl_seconds=2)
    shift = [0.0]  # the client's clock runs ahead with the emulator's, no waiting
    client, transport = await make_client(
        base_url=emulator.url, clock=lambda: time.monotonic() + shift[0]
    )
    await client.list_workloads(limit=1)
    for refreshes in (2, 3, 4):
        # 1.9 s on: the token is still good on the server, and the client renews it now.
        shift[0] += 1.9
        await emulator.advance_clock(1.9)
        await client.list_workloads(limit=1)
        assert client.token_refreshes == refreshes, "the client waited for the token to expire"
    assert 401 not in transport.outcomes("GET", "/api/"), "the client let a token expire"
    assert (await emulator.stats())["POST /api/v1/token"] == client.token_refreshes


async def test_a_401_gets_one_retry_with_a_fresh_token(
    recorded: tuple[RunaiClient, RecordingTransport], emulator: Emulator
) -> None:
    client, transport = recorded
    await client.list_workloads(limit=1)
    await emulator.advance_clock(7200)  # the cached token is now expired on the server
    page = await client.list_workloads(limit=1)
    assert page.workloads == []
    assert transport.outcomes("GET", "/api/v1/workloads") == [200, 401, 200]
    assert client.token_refreshes == 2


async def test_concurrent_callers_share_one_token_request(
    client: RunaiClient, emulator: Emulator
) -> None:
    await asyncio.gather(*(client.list_workloads(limit=1) for _ in range(30)))
    stats = await emulator.stats()
    assert stats["POST /api/v1/token"] == 1
    assert stats["GET /api/v1/workloads"] == 30


async def test_concurrent_401s_share_one_refresh(
    recorded: tuple[RunaiClient, RecordingTransport], emulator: Emulator
) -> None:
    client, transport = recorded
    await client.list_workloads(limit=1)
    await emulator.advance_clock(7200)
    await asyncio.gather(*(client.list_workloads(limit=1) for _ in range(20)))
    assert client.token_refreshes == 2
    assert (await emulator.stats())["POST /api/v1/token"] == 2
    outcomes = transport.outcomes("GET", "/api/v1/workloads")
    assert outcomes.count(200) == 21
    assert set(outcomes) == {200, 401}


async def test_wrong_credentials_are_unauthorized(make_client: ClientFactory) -> None:
    client, _ = await make_client(client_secret="not-the-secret")
    with pytest.raises(errors.UnauthorizedError) as caught:
        await client.list_projects()
    assert caught.value.code == 401
    assert caught.value.message


# --- retries -----------------------------------------------------------------------------


async def test_503_twice_then_success(
    recorded: tuple[RunaiClient, RecordingTransport], emulator: Emulator
) -> None:
    client, transport = recorded
    await emulator.fault(status=503, count=2, pathPrefix="/api/v1/workloads")
    await client.list_workloads()
    assert transport.outcomes("GET", "/api/v1/workloads") == [503, 503, 200]


@pytest.mark.parametrize("status", [502, 504])
async def test_patch_and_delete_are_retried(
    recorded: tuple[RunaiClient, RecordingTransport], emulator: Emulator, status: int
) -> None:
    client, transport = recorded
    created = await client.create_inference(creation(unique()))
    path = f"{INFERENCES}/{created.workload_id}"
    await emulator.fault(status=status, count=1, pathPrefix=path, method="PATCH")
    await client.update_inference(
        created.workload_id,
        models.InferenceUpdateRequest(
            spec=models.InferenceUpdateSpec(autoscaling=models.AutoScaling(min_replicas=1))
        ),
    )
    await emulator.fault(status=status, count=2, pathPrefix=path, method="DELETE")
    await client.delete_inference(created.workload_id)
    assert transport.outcomes("PATCH", path) == [status, 202]
    assert transport.outcomes("DELETE", path) == [status, status, 202]


async def test_latency_beyond_the_timeout_is_unavailable_after_retries(
    make_client: ClientFactory, emulator: Emulator
) -> None:
    client, transport = await make_client(timeout=0.3, max_retries=2)
    await client.list_projects()  # token first, so only the GETs below are slowed
    await emulator.fault(latencyMs=1500, count=10, pathPrefix="/api/v1/workloads")
    with pytest.raises(errors.UnavailableError) as caught:
        await client.list_workloads()
    assert caught.value.code == 503
    assert transport.outcomes("GET", "/api/v1/workloads") == ["ReadTimeout"] * 3


async def test_500_and_4xx_are_not_retried(
    recorded: tuple[RunaiClient, RecordingTransport], emulator: Emulator
) -> None:
    client, transport = recorded
    await emulator.fault(status=500, count=5, pathPrefix="/api/v1/workloads")
    with pytest.raises(errors.UnavailableError) as caught:
        await client.list_workloads()
    assert caught.value.code == 500
    assert transport.outcomes("GET", "/api/v1/workloads") == [500]


async def test_connection_refused_is_unavailable(make_client: ClientFactory) -> None:
    client, transport = await make_client(base_url="http://127.0.0.1:9", max_retries=1)
    with pytest.raises(errors.UnavailableError) as caught:
        await client.list_clusters()
    assert caught.value.code == 503
    assert transport.outcomes("POST", "/api/v1/token") == ["ConnectError", "ConnectError"]


# --- create is never duplicated ----------------------------------------------------------


async def _count_named(emulator: Emulator, name: str) -> int:
    return sum(1 for record in emulator.state.iter_records() if record.name == name)


async def test_create_after_a_503_checks_by_name_then_retries(
    recorded: tuple[RunaiClient, RecordingTransport], emulator: Emulator
) -> None:
    client, transport = recorded
    name = unique()
    await emulator.fault(status=503, count=1, pathPrefix=INFERENCES, method="POST")
    created = await client.create_inference(creation(name))
    assert created.name == name
    assert transport.outcomes("POST", INFERENCES) == [503, 202]
    assert await _count_named(emulator, name) == 1


async def test_create_whose_answer_is_lost_is_found_by_name_not_resent(
    recorded: tuple[RunaiClient, RecordingTransport], emulator: Emulator
) -> None:
    client, transport = recorded
    name = unique()
    transport.drop_response = lambda r: r.method == "POST" and r.url.path == INFERENCES
    created = await client.create_inference(creation(name))
    assert created.name == name
    assert transport.outcomes("POST", INFERENCES) == ["dropped"]  # sent once, never again
    assert (await emulator.stats())["POST /api/v1/workloads/inferences"] == 1
    assert [r.id for r in emulator.state.iter_records() if r.name == name] == [created.workload_id]


async def test_create_that_times_out_is_not_duplicated(
    make_client: ClientFactory, emulator: Emulator
) -> None:
    client, transport = await make_client(timeout=0.5)
    await client.list_projects()
    name = unique()
    # The slow create still lands on the server after the client gave up on it.
    await emulator.fault(latencyMs=1500, count=1, pathPrefix=INFERENCES, method="POST")
    created = await client.create_inference(creation(name))
    assert created.name == name
    assert transport.outcomes("POST", INFERENCES)[0] == "ReadTimeout"
    # Let the slow first POST finish on the server too (it answers 409 to nobody), then
    # count: exactly one workload has the name.
    await poll(emulator.in_flight, lambda n: n == 0)
    assert (await emulator.stats())["POST /api/v1/workloads/inferences"] == 2
    assert [r.id for r in emulator.state.iter_records() if r.name == name] == [created.workload_id]


async def test_a_real_conflict_is_not_retried(
    recorded: tuple[RunaiClient, RecordingTransport],
) -> None:
    client, transport = recorded
    name = unique()
    await client.create_inference(creation(name))
    with pytest.raises(errors.ConflictError) as caught:
        await client.create_inference(creation(name))
    assert caught.value.code == 409
    assert transport.outcomes("POST", INFERENCES) == [202, 409]


# --- errors from real statuses -----------------------------------------------------------


async def test_invalid_request_carries_the_api_message(client: RunaiClient) -> None:
    request = creation(unique())
    request.spec.image = None
    with pytest.raises(errors.InvalidRequestError) as caught:
        await client.create_inference(request)
    assert caught.value.code == 400
    assert "image" in caught.value.message.lower()


async def test_unknown_project_is_invalid(client: RunaiClient) -> None:
    with pytest.raises(errors.InvalidRequestError):
        await client.create_inference(creation(unique(), project="999"))


async def test_unknown_ids_are_not_found(client: RunaiClient) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(errors.NotFoundError):
        await client.get_inference(missing)
    with pytest.raises(errors.NotFoundError):
        await client.get_workload(missing)
    with pytest.raises(errors.NotFoundError):
        await client.delete_inference(missing)


async def test_forbidden_from_a_403(client: RunaiClient, emulator: Emulator) -> None:
    await emulator.fault(status=403, count=1, pathPrefix="/api/v1/clusters")
    with pytest.raises(errors.ForbiddenError) as caught:
        await client.list_clusters()
    assert caught.value.code == 403


async def test_a_207_partial_metrics_answer_is_read_not_raised(
    client: RunaiClient, emulator: Emulator
) -> None:
    created = await client.create_inference(creation(unique("partial")))
    await emulator.fault(
        status=207, count=1, pathPrefix=f"/api/v1/workloads/inferences/{created.workload_id}"
    )
    end = datetime.now(UTC)
    partial = await client.inference_metrics(created.workload_id, end - timedelta(hours=1), end)
    assert [m.type for m in partial.measurements] == ["THROUGHPUT"]  # LATENCY was asked too


async def test_model_info_unknown_model_is_not_found_not_unavailable(client: RunaiClient) -> None:
    with pytest.raises(errors.NotFoundError) as caught:
        await client.model_info("acme/no-such-model")
    assert not isinstance(caught.value, errors.ModelInfoUnavailableError)
    assert "acme/no-such-model" in caught.value.message


async def test_model_info_gated_model_needs_a_token(client: RunaiClient) -> None:
    with pytest.raises(errors.UnauthorizedError) as caught:
        await client.model_info("meta-llama/Llama-3.1-8B-Instruct")
    assert "gated" in caught.value.message
    info = await client.model_info("meta-llama/Llama-3.1-8B-Instruct", hf_token="hf_secret_x")
    assert info.architectures == ["LlamaForCausalLM"]


async def test_model_info_on_a_control_plane_without_the_route(make_client: ClientFactory) -> None:
    client, _ = await make_client(model_info_path="/api/v1/models/hugging-face")
    with pytest.raises(errors.ModelInfoUnavailableError):
        await client.model_info("Qwen/Qwen2.5-0.5B-Instruct")


async def test_model_info_answered_405_is_unavailable(make_client: ClientFactory) -> None:
    # A route that exists but takes no POST: Starlette answers 405.
    client, transport = await make_client(model_info_path="/api/v1/clusters")
    with pytest.raises(errors.ModelInfoUnavailableError) as caught:
        await client.model_info("Qwen/Qwen2.5-0.5B-Instruct")
    assert caught.value.code == 405
    assert transport.outcomes("POST", "/api/v1/clusters") == [405]


# --- paging ------------------------------------------------------------------------------


async def test_iter_workloads_follows_next_across_pages(
    client: RunaiClient, emulator: Emulator
) -> None:
    seeded = emulator.state.seed_workloads(1203, name_prefix="bulk")
    ids = [w.id async for w in client.iter_workloads(filter_by=["name=^bulk-"])]
    assert len(ids) == 1203
    assert set(ids) == set(seeded)
    assert (await emulator.stats())["GET /api/v1/workloads"] == 3
    small = [w.id async for w in client.iter_workloads(filter_by=["name=^bulk-"], page_size=100)]
    assert small == ids


async def test_find_inferences_matches_the_exact_name(
    client: RunaiClient, emulator: Emulator
) -> None:
    emulator.state.seed_workloads(12, name_prefix="twin")  # twin-0 … twin-11
    found = await client.find_inferences("twin-1")
    assert [w.name for w in found] == ["twin-1"]
    assert await client.find_inferences("twin-1", project_id="2") == []


# --- secrets -----------------------------------------------------------------------------


async def test_no_secret_in_logs_or_errors(
    make_client: ClientFactory, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, _ = await make_client()
    texts: list[str] = [repr(client)]
    await client.model_info("meta-llama/Llama-3.1-8B-Instruct", hf_token="hf_topsecret_1")
    created = await client.create_inference(creation(unique()))
    texts.append(repr(created))
    with pytest.raises(errors.RunaiError) as caught:
        await client.model_info("meta-llama/Llama-3.1-8B-Instruct", hf_token="bad_topsecret_2")
    texts += [str(caught.value), repr(caught.value)]
    bad, _ = await make_client(client_secret="wrong_topsecret_3")
    with pytest.raises(errors.UnauthorizedError) as refused:
        await bad.list_clusters()
    texts += [str(refused.value), repr(refused.value), repr(bad)]
    assert any(r.message == "runai call" for r in caplog.records)
    texts += [str(vars(r)) for r in caplog.records]
    blob = "\n".join(texts)
    for secret in (
        CLIENT_SECRET,
        "hf_topsecret_1",
        "bad_topsecret_2",
        "wrong_topsecret_3",
        "hf_envsecret",
    ):
        assert secret not in blob
    assert "Bearer" not in blob


async def test_request_bodies_match_the_schema(
    recorded: tuple[RunaiClient, RecordingTransport],
) -> None:
    """Every request of every test is checked at teardown; this one proves the checker bites."""
    from tests.runai.schema_check import assert_request_matches

    bad = httpx.Request("POST", "http://x" + INFERENCES, json={"name": "x", "spec": {}})
    with pytest.raises(AssertionError, match="projectId"):
        assert_request_matches(bad)
    bad_filter = httpx.Request(
        "GET", "http://x/api/v1/workloads", params={"filterBy": "name==a,color==red"}
    )
    with pytest.raises(Exception, match="color==red"):
        assert_request_matches(bad_filter)
    exploded = httpx.Request(
        "GET",
        f"http://x{INFERENCES}/w/metrics",
        params=[("metricType", "LATENCY"), ("metricType", "THROUGHPUT")],
    )
    with pytest.raises(AssertionError, match="explode"):
        assert_request_matches(exploded)


async def test_httpx_transports_work_too(make_client: ClientFactory, emulator: Emulator) -> None:
    """Any httpx transport can replace the default aiohttp one (errors map the same)."""
    client, transport = await make_client(
        wire=RecordingTransport(inner=HttpxWire(httpx.AsyncHTTPTransport())), timeout=0.3
    )
    await emulator.fault(status=503, count=1, pathPrefix="/api/v1/clusters")
    assert [c.uuid for c in await client.list_clusters()] == [CLUSTER_ID]
    created = await client.create_inference(creation(unique()))
    await client.delete_inference(created.workload_id)
    await emulator.fault(latencyMs=1000, count=10, pathPrefix="/api/v1/workloads")
    with pytest.raises(errors.UnavailableError):
        await client.get_workload(created.workload_id)
    assert transport.outcomes("GET", "/api/v1/clusters") == [503, 200]
    assert transport.outcomes("GET", "/api/v1/workloads/") == ["ReadTimeout"] * 4


async def test_each_call_is_logged_at_debug_without_secrets(
    client: RunaiClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.runai")
    await client.list_clusters()
    calls = [r for r in caplog.records if r.message == "runai call"]
    assert [(r.op, r.method, r.status) for r in calls] == [  # type: ignore[attr-defined]
        ("token", "POST", 200),
        ("list_clusters", "GET", 200),
    ]
    assert all(isinstance(r.latency_ms, float) for r in calls)  # type: ignore[attr-defined]
