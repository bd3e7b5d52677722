"""Single client functions against respx (no server): query encoding and status mapping.

The behaviour that needs a real server (auth, retries, paging) is proven against the
emulator in test_client_emulator.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from bot.runai import RunaiClient, errors, models

BASE = "http://runai.test"
TOKEN = {"accessToken": "t", "expiresIn": 3600}


@pytest.fixture
async def client() -> AsyncIterator[RunaiClient]:
    # respx intercepts httpx's own transport, so this client uses it instead of aiohttp.
    transport = httpx.AsyncHTTPTransport()
    async with RunaiClient(BASE, "id", "secret", max_retries=0, transport=transport) as runai:
        yield runai


@pytest.fixture
def api() -> respx.MockRouter:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.post("/api/v1/token").respond(200, json=TOKEN)
        yield router


def _query(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(urlsplit(str(request.url)).query)


async def test_list_workloads_joins_filters_with_commas(
    client: RunaiClient, api: respx.MockRouter
) -> None:
    route = api.get("/api/v1/workloads").respond(200, json={"workloads": [], "next": None})
    await client.list_workloads(
        filter_by=["name==a", "projectId==1"], limit=20, offset=40, sort_by="name", deleted=False
    )
    assert _query(route.calls.last.request) == {
        "filterBy": ["name==a,projectId==1"],
        "limit": ["20"],
        "offset": ["40"],
        "sortBy": ["name"],
        "deleted": ["false"],
    }


@pytest.mark.parametrize("limit", [0, 501])
async def test_list_workloads_refuses_a_limit_outside_1_500(
    client: RunaiClient, api: respx.MockRouter, limit: int
) -> None:
    with pytest.raises(ValueError):
        await client.list_workloads(limit=limit)
    assert not api.calls  # refused before any request, even the token exchange


async def test_metrics_query_is_comma_joined_and_iso_utc(
    client: RunaiClient, api: respx.MockRouter
) -> None:
    route = api.get("/api/v1/workloads/inferences/w/metrics").respond(
        207,
        json={
            "measurements": [{"type": "THROUGHPUT", "values": [{"value": "1", "timestamp": None}]}]
        },
    )
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    end = datetime(2026, 1, 2, 3, 4, 5)  # naive: UTC
    metrics = await client.inference_metrics("w", start, end, number_of_samples=5)
    request = route.calls.last.request
    assert request.headers["accept"] == "application/json"
    assert _query(request) == {
        "metricType": ["THROUGHPUT,LATENCY"],
        "start": ["2026-01-02T01:04:05.000Z"],
        "end": ["2026-01-02T03:04:05.000Z"],
        "numberOfSamples": ["5"],
    }
    assert metrics.measurements[0].values[0].value == 1.0


async def test_metrics_refuses_samples_beyond_1000(client: RunaiClient) -> None:
    now = datetime.now(UTC)
    with pytest.raises(ValueError):
        await client.pod_metrics("w", "p", now, now, number_of_samples=1001)


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (405, b"", errors.ModelInfoUnavailableError),
        (405, b'{"code":405,"message":"Method Not Allowed"}', errors.ModelInfoUnavailableError),
        (501, b"", errors.ModelInfoUnavailableError),
        (404, b"404 page not found", errors.ModelInfoUnavailableError),
        (404, b"Not Found", errors.ModelInfoUnavailableError),
        (404, b'{"code":404,"message":"Not Found"}', errors.ModelInfoUnavailableError),
        (404, b'{"code":404,"message":"Cannot POST /api/v1/x"}', errors.ModelInfoUnavailableError),
        (
            404,
            b'{"code":404,"message":"Model acme/nope was not found on the Hub."}',
            errors.NotFoundError,
        ),
        (403, b'{"code":403,"message":"gated model: hfToken needed"}', errors.ForbiddenError),
    ],
)
async def test_model_info_tells_a_missing_route_from_a_missing_model(
    client: RunaiClient, api: respx.MockRouter, status: int, body: bytes, cls: type[Exception]
) -> None:
    api.post("/api/v1/workloads/inferences/model-info").respond(status, content=body)
    with pytest.raises(cls) as caught:
        await client.model_info("acme/nope")
    assert type(caught.value) is cls


async def test_delete_accepts_204(client: RunaiClient, api: respx.MockRouter) -> None:
    api.delete("/api/v1/workloads/inferences/w").respond(204)
    assert await client.delete_inference("w") is None


async def test_clusters_list_is_a_bare_array(client: RunaiClient, api: respx.MockRouter) -> None:
    api.get("/api/v1/clusters").respond(
        200,
        json=[{"uuid": "c", "name": "local", "tenantId": 1, "createdAt": "2024-01-01T00:00:00Z"}],
    )
    clusters = await client.list_clusters()
    assert clusters == [
        models.Cluster(
            uuid="c", name="local", tenant_id=1, created_at=datetime(2024, 1, 1, tzinfo=UTC)
        )
    ]


def test_client_repr_has_no_secret() -> None:
    runai = RunaiClient(BASE, "id", "top-secret-value")
    assert "top-secret-value" not in repr(runai)


async def test_a_body_that_does_not_fit_is_a_runai_error(
    client: RunaiClient, api: respx.MockRouter
) -> None:
    api.get("/api/v1/workloads/inferences/w").respond(200, json={"name": "only-a-name"})
    with pytest.raises(errors.RunaiError) as caught:
        await client.get_inference("w")
    assert caught.value.code == 200
    assert "unexpected body" in caught.value.message


async def test_ids_are_one_encoded_path_segment(client: RunaiClient, api: respx.MockRouter) -> None:
    route = api.get(url__regex=r".*/inferences/.*").respond(404, json={"code": 404, "message": "x"})
    with pytest.raises(errors.NotFoundError):
        await client.get_inference("../../clusters?x=1")
    assert route.calls.last.request.url.raw_path == (
        b"/api/v1/workloads/inferences/..%2F..%2Fclusters%3Fx%3D1"
    )
    with pytest.raises(ValueError):
        await client.delete_inference("")


async def test_a_secret_echoed_by_the_server_is_redacted(api: respx.MockRouter) -> None:
    api.post("/api/v1/workloads/inferences/model-info").respond(
        400, json={"code": 400, "message": "bad token hf_leak123", "details": "got hf_leak123"}
    )
    transport = httpx.AsyncHTTPTransport()
    async with RunaiClient(BASE, "id", "s3cr3t-value", transport=transport) as runai:
        with pytest.raises(errors.InvalidRequestError) as caught:
            await runai.model_info("m", hf_token="hf_leak123")
    assert "hf_leak123" not in f"{caught.value} {caught.value!r} {caught.value.args}"
    assert caught.value.message == "bad token ***"


async def test_token_errors_never_carry_the_client_secret() -> None:
    with respx.mock(base_url=BASE) as router:
        router.post("/api/v1/token").respond(
            400, json={"code": 400, "message": "unknown secret s3cr3t-value"}
        )
        transport = httpx.AsyncHTTPTransport()
        async with RunaiClient(BASE, "id", "s3cr3t-value", transport=transport) as runai:
            with pytest.raises(errors.UnauthorizedError) as caught:
                await runai.list_clusters()
    assert caught.value.code == 400
    assert "s3cr3t-value" not in f"{caught.value} {caught.value!r}"


async def test_a_comma_cannot_smuggle_in_another_filter(
    client: RunaiClient, api: respx.MockRouter
) -> None:
    with pytest.raises(ValueError):
        await client.list_workloads(filter_by=["name==x,projectId!=1"])
    assert await client.find_inferences("x,projectId!=1") == []
    assert not api.calls


async def test_create_409_after_a_lost_attempt_returns_the_workload_it_made(
    api: respx.MockRouter,
) -> None:
    """Timeout, lookup finds nothing yet, the retry meets 409: the lost POST made it."""
    workload = {"id": "w1", "name": "llama", "type": "inference", "projectId": "1"}
    inference = {
        "name": "llama",
        "workloadId": "w1",
        "projectId": "1",
        "clusterId": "c",
        "createdBy": "bot",
        "createdAt": "2026-01-01T00:00:00Z",
        "desiredPhase": "Running",
    }
    api.post("/api/v1/workloads/inferences").mock(
        side_effect=[
            httpx.ReadTimeout("slow"),
            httpx.Response(409, json={"code": 409, "message": "exists"}),
        ]
    )
    api.get("/api/v1/workloads").mock(
        side_effect=[
            httpx.Response(200, json={"workloads": []}),
            httpx.Response(200, json={"workloads": [workload]}),
        ]
    )
    api.get("/api/v1/workloads/inferences/w1").respond(200, json=inference)
    request = models.InferenceCreationRequest(
        name="llama", project_id="1", cluster_id="c", spec=models.InferenceSpecSpec(image="i")
    )
    async with RunaiClient(
        BASE, "id", "secret", transport=httpx.AsyncHTTPTransport(), backoff_base=0
    ) as runai:
        created = await runai.create_inference(request)
    assert created.workload_id == "w1"
    posts = [
        c for c in api.calls if c.request.method == "POST" and "inferences" in str(c.request.url)
    ]
    assert len(posts) == 2


async def test_create_gives_up_when_the_lookup_cannot_tell(api: respx.MockRouter) -> None:
    """A lost POST and an unreachable list: no blind second POST."""
    post = api.post("/api/v1/workloads/inferences").mock(side_effect=httpx.ReadError("lost"))
    api.get("/api/v1/workloads").respond(503, json={"code": 503, "message": "down"})
    request = models.InferenceCreationRequest(
        name="llama", project_id="1", cluster_id="c", spec=models.InferenceSpecSpec(image="i")
    )
    async with RunaiClient(
        BASE, "id", "secret", transport=httpx.AsyncHTTPTransport(), backoff_base=0
    ) as runai:
        with pytest.raises(errors.UnavailableError):
            await runai.create_inference(request)
    assert post.call_count == 1
