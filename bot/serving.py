"""Run an ASGI app on uvicorn inside the running event loop (embedded servers)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn

logger = logging.getLogger(__name__)


class _EmbeddedUvicorn(uvicorn.Server):
    """uvicorn that leaves SIGINT/SIGTERM to its host process and stops without idling.

    Stock uvicorn notices `should_exit` on a 0.1 s tick, then sleeps 0.1 s after asking
    connections to close and polls them every 0.1 s: about 0.3 s per stop, doing nothing.
    Here `request_exit` wakes the main loop at once and the drain polls every 10 ms; the
    steps and the graceful timeout are uvicorn's.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def request_exit(self) -> None:
        """Ask the server to stop; the main loop wakes at once."""
        self.should_exit = True
        self._exit.set()

    async def main_loop(self) -> None:
        """uvicorn's tick (date header, limits) every 0.1 s, or at once on `request_exit`."""
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.1):
                    await self._exit.wait()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop accepting, let open requests finish (up to the graceful timeout), then
        run the app's lifespan shutdown."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        state = self.server_state
        for connection in list(state.connections):
            connection.shutdown()  # idle keep-alive connections close now
        try:
            async with asyncio.timeout(self.config.timeout_graceful_shutdown):
                # uvicorn's state offers no event to wait on: poll it.
                while (state.connections or state.tasks) and not self.force_exit:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
                for server in self.servers:
                    await server.wait_closed()
        except TimeoutError:
            logger.error("graceful shutdown timed out", extra={"tasks": len(state.tasks)})
            for task in state.tasks:
                task.cancel()
        if not self.force_exit:
            await self.lifespan.shutdown()


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
        self._server.request_exit()
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
