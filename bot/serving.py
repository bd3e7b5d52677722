"""Run an ASGI app on uvicorn inside the running event loop (embedded servers)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn


class _EmbeddedUvicorn(uvicorn.Server):
    """uvicorn that leaves SIGINT/SIGTERM to its host process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class EmbeddedServer:
    """An ASGI app served on a loopback socket by uvicorn, in this event loop."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = app
        self._host = host
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP
        # (accepted sockets inherit it). Without it a response written in two parts waits
        # for the peer's delayed ACK: ~40 ms per request on a keep-alive connection.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=5
        )
        self._server = _EmbeddedUvicorn(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """Base URL of the server, without a trailing slash."""
        return f"http://{self._host}:{self.port}"

    async def start(self) -> None:
        """Start serving and return once the socket accepts connections."""
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("embedded server stopped before it started")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop serving and wait for the server task to end."""
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        self._sock.close()


@contextlib.asynccontextmanager
async def serve(app: Any, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[EmbeddedServer]:
    """Serve `app` for the duration of the block; port 0 picks a free port."""
    server = EmbeddedServer(app, host, port)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
