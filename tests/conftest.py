"""Shared fixtures.

`emulator`: a real Run:ai emulator over a loopback socket for one test.
    emu.url, emu.state (EmulatorState), emu.app, emu.client_id, emu.client_secret.
    Phases step every 0.1 s; credentials are test-client / test-secret.
`emulator_factory`: `async with emulator_factory(phase_seconds=..., token_ttl_seconds=...)`
    for other settings.
`free_port()`: a loopback port nothing listens on.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette

from bot.emulator import EmulatorState, create_app
from bot.serving import serve

pytest_plugins = ["tests.fakes.fixtures"]

TEST_CLIENT_ID = "test-client"
TEST_CLIENT_SECRET = "test-secret"
TEST_PHASE_SECONDS = 0.1
# One verifying TLS context for the tests' own httpx clients: httpx builds one per client
# otherwise, loading the CA store (~20 ms of CPU each, hundreds of clients a run).
TLS = ssl.create_default_context()


@dataclass
class RunningEmulator:
    """An emulator served for a test."""

    url: str
    app: Starlette
    state: EmulatorState
    client_id: str
    client_secret: str


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first: spread over the workers at the start instead of ending the run."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def free_port() -> int:
    """A loopback port nothing listens on (for servers started by port number)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


EmulatorFactory = Callable[..., contextlib.AbstractAsyncContextManager[RunningEmulator]]


@contextlib.asynccontextmanager
async def running_emulator(**options: Any) -> AsyncIterator[RunningEmulator]:
    """Serve `create_app(**options)` (test credentials by default) for a block."""
    options.setdefault("client_id", TEST_CLIENT_ID)
    options.setdefault("client_secret", TEST_CLIENT_SECRET)
    options.setdefault("phase_seconds", TEST_PHASE_SECONDS)
    app = create_app(**options)
    async with serve(app) as server:
        yield RunningEmulator(
            url=server.url,
            app=app,
            state=app.state.emulator,
            client_id=options["client_id"],
            client_secret=options["client_secret"],
        )


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    """A running emulator with test credentials and 0.1 s phase steps."""
    async with running_emulator() as running:
        yield running


@pytest.fixture
def emulator_factory() -> EmulatorFactory:
    """`async with emulator_factory(**create_app options) as emu:` for custom settings."""
    return running_emulator
