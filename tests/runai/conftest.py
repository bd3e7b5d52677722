"""Fixtures: a real emulator on a socket, and clients whose every request is recorded."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from bot.emulator import CLUSTER_ID, EmulatorState, create_app
from bot.runai import RunaiClient
from bot.runai.transport import AiohttpWire, ReadError, Reply, Wire, WireError
from bot.serving import EmbeddedServer, serve
from tests.conftest import TLS
from tests.runai.schema_check import assert_request_matches

CLIENT_ID = "bot-under-test"
CLIENT_SECRET = "client-secret-8d1f0c"  # a value no log line or exception may contain
__all__ = ["CLIENT_ID", "CLIENT_SECRET", "CLUSTER_ID"]


@dataclass
class Exchange:
    """One request the client sent and what came back (a status or an exception name)."""

    request: httpx.Request
    outcome: int | str


@dataclass
class RecordingWire:
    """The client's real wire (aiohttp unless told otherwise), remembering every exchange."""

    inner: Wire = field(default_factory=AiohttpWire)
    exchanges: list[Exchange] = field(default_factory=list)
    # Lets a test make the wire lose a response after the server handled it.
    drop_response: Callable[[httpx.Request], bool] | None = None

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        socket_timeout: float,
    ) -> Reply:
        request = httpx.Request(method, url, headers=headers, content=body)
        try:
            reply = await self.inner.send(method, url, headers, body, socket_timeout)
        except WireError as exc:
            self.exchanges.append(Exchange(request, type(exc).__name__))
            raise
        if self.drop_response is not None and self.drop_response(request):
            self.exchanges.append(Exchange(request, "dropped"))
            raise ReadError("connection lost after the request was sent")
        self.exchanges.append(Exchange(request, reply.status_code))
        return reply

    async def aclose(self) -> None:
        await self.inner.aclose()

    def outcomes(self, method: str, path_prefix: str) -> list[int | str]:
        """Outcomes of the calls to one method and path prefix, in order."""
        return [
            e.outcome
            for e in self.exchanges
            if e.request.method == method and e.request.url.path.startswith(path_prefix)
        ]


RecordingTransport = RecordingWire  # the name the tests use


@dataclass
class Emulator:
    """A running emulator: its URL, its state, and an HTTP client for /emulator controls."""

    server: EmbeddedServer
    state: EmulatorState
    control: httpx.AsyncClient

    @property
    def url(self) -> str:
        return self.server.url

    async def fault(self, **body: Any) -> None:
        """Arm a fault through `POST /emulator/faults`."""
        response = await self.control.post("/emulator/faults", json=body)
        assert response.status_code == 201, response.text

    async def stats(self) -> dict[str, int]:
        """API call counts by `METHOD /template` (`GET /emulator/stats`)."""
        response = await self.control.get("/emulator/stats")
        assert response.status_code == 200
        calls: dict[str, int] = response.json()["calls"]
        return calls

    async def in_flight(self) -> int:
        """Requests the emulator's uvicorn is still handling (uvicorn's own task set)."""
        return len(self.server._server.server_state.tasks)

    async def advance_clock(self, seconds: float) -> None:
        response = await self.control.post("/emulator/clock", json={"advanceSeconds": seconds})
        assert response.status_code == 200, response.text


EmulatorFactory = Callable[..., Awaitable[Emulator]]
ClientFactory = Callable[..., Awaitable[tuple[RunaiClient, RecordingTransport]]]


@pytest.fixture
async def start_emulator() -> AsyncIterator[EmulatorFactory]:
    """Start emulators (create_app keyword arguments) that stop at the end of the test."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(**options: Any) -> Emulator:
            options = {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "phase_seconds": 0.2,
                **options,
            }
            app = create_app(**options)
            server = await stack.enter_async_context(serve(app))
            control = await stack.enter_async_context(
                httpx.AsyncClient(base_url=server.url, verify=TLS)
            )
            return Emulator(server, app.state.emulator, control)

        yield start


@pytest.fixture
async def emulator(start_emulator: EmulatorFactory) -> Emulator:
    """One emulator with default settings (phases 0.2 s, tokens 1 h)."""
    return await start_emulator()


@pytest.fixture
async def make_client(emulator: Emulator) -> AsyncIterator[ClientFactory]:
    """Clients of `emulator` (or another URL); every request they send is schema-checked."""
    made: list[tuple[RunaiClient, RecordingTransport]] = []

    async def make(**options: Any) -> tuple[RunaiClient, RecordingTransport]:
        wire = options.pop("wire", None) or RecordingWire()
        assert isinstance(wire, RecordingWire)
        options = {
            "base_url": emulator.url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "timeout": 5.0,
            "max_retries": 3,
            "backoff_base": 0.01,
            "wire": wire,
            **options,
        }
        client = RunaiClient(**options)
        made.append((client, wire))
        return client, wire

    yield make
    for client, transport in made:
        await client.aclose()
        for exchange in transport.exchanges:
            assert_request_matches(exchange.request)


@pytest.fixture
async def client(make_client: ClientFactory) -> RunaiClient:
    """A client of `emulator`."""
    runai, _ = await make_client()
    return runai


@pytest.fixture
async def recorded(make_client: ClientFactory) -> tuple[RunaiClient, RecordingTransport]:
    """A client of `emulator` and its recording transport."""
    return await make_client()
