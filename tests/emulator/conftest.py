"""Fixtures for emulator tests: a served emulator and a contract-checking API client.

Modules using `emu`/`api`/`anonymous` share one server per module (starting a
uvicorn server per test costs more than the test) and must run in the module's
event loop: `pytestmark = MODULE_LOOP`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio

from bot.emulator import CLUSTER_ID
from tests.conftest import TLS, RunningEmulator, running_emulator
from tests.contract import assert_response_matches

INFERENCES = "/api/v1/workloads/inferences"
INFERENCE = INFERENCES + "/{workloadId}"
WORKLOADS = "/api/v1/workloads"
WORKLOAD = WORKLOADS + "/{workloadId}"
METRICS = INFERENCE + "/metrics"
POD_METRICS = INFERENCE + "/pods/{podId}/metrics"
WORKLOAD_METRICS = WORKLOAD + "/metrics"
EVENTS = WORKLOAD + "/events"
HISTORY = WORKLOAD + "/history"
PODS = WORKLOAD + "/pods"
REVISIONS = INFERENCE + "/revisions"
REVISION = INFERENCES + "/revisions/{revisionId}"
TOKEN = "/api/v1/token"
MODEL_INFO = "/api/v1/workloads/inferences/model-info"
MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")


def creation(name: str = "llm", **spec: Any) -> dict[str, Any]:
    """A valid InferenceCreationRequest; spec keys override the defaults."""
    body_spec: dict[str, Any] = {
        "image": "vllm/vllm-openai:v0.6.4",
        "servingPort": {"container": 8000},
    }
    body_spec.update(spec)
    return {"name": name, "projectId": "1", "clusterId": CLUSTER_ID, "spec": body_spec}


class Api:
    """Calls the emulator and checks every JSON response against the schema subset."""

    def __init__(self, client: httpx.AsyncClient, emulator: RunningEmulator) -> None:
        self.client = client
        self.emulator = emulator
        self.token: str | None = None

    async def login(self) -> str:
        """Fetch a token with client credentials and use it from now on."""
        response = await self.call(
            "POST",
            TOKEN,
            json={
                "grantType": "client_credentials",
                "clientID": self.emulator.client_id,
                "clientSecret": self.emulator.client_secret,
            },
            auth=False,
        )
        assert response.status_code == 200, response.text
        self.token = response.json()["accessToken"]
        return self.token

    async def call(
        self,
        method: str,
        template: str,
        *,
        path: dict[str, str] | None = None,
        json: Any = None,
        params: Any = None,
        auth: bool = True,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request to `template` (filled from `path`), validate the answer."""
        url = template.format(**(path or {}))
        sent = dict(headers or {})
        if auth and self.token and "authorization" not in {k.lower() for k in sent}:
            sent["Authorization"] = f"Bearer {self.token}"
        response = await self.client.request(method, url, json=json, params=params, headers=sent)
        assert response.headers["content-type"].startswith("application/json"), response.text
        assert_response_matches(method, template, response.status_code, response.json())
        return response

    async def create(self, name: str = "llm", **spec: Any) -> dict[str, Any]:
        """Create an inference (asserting 202) and return its body."""
        response = await self.call("POST", INFERENCES, json=creation(name, **spec))
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        return body

    async def workload(self, workload_id: str) -> httpx.Response:
        """GET /api/v1/workloads/{id}."""
        return await self.call("GET", WORKLOAD, path={"workloadId": workload_id})

    async def age(self, seconds: float) -> None:
        """Move the emulator's clock on, then log in again (tokens live an hour)."""
        self.emulator.state.clock.advance(seconds)
        await self.login()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def served() -> AsyncIterator[RunningEmulator]:
    """One emulator per test module (0.05 s phase steps), reset before each test."""
    async with running_emulator(phase_seconds=0.05) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def emu(served: RunningEmulator) -> RunningEmulator:
    """The module's emulator, reset: no workloads, faults or counts, true clock."""
    served.state.reset()
    return served


@pytest_asyncio.fixture(loop_scope="module")
async def anonymous(emu: RunningEmulator) -> AsyncIterator[Api]:
    """An API client without a token."""
    async with httpx.AsyncClient(base_url=emu.url, timeout=10, verify=TLS) as client:
        yield Api(client, emu)


@pytest_asyncio.fixture(loop_scope="module")
async def api(anonymous: Api) -> Api:
    """An API client holding a valid token."""
    await anonymous.login()
    return anonymous


async def eventually(
    probe: Callable[[], Awaitable[Any]], accept: Callable[[Any], bool], within: float = 5.0
) -> Any:
    """Poll `probe` until `accept(result)`; fail with the last result at the deadline."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if accept(last):
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {within}s; last value: {last!r}")
