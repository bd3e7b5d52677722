"""A fake Socket Mode endpoint: the WebSocket Slack pushes envelopes through, acked by the app.

apps.connections.open (xapp- token) on the fake's Web API hands out this server's URL.
The server greets each connection with `hello`, sends `{"envelope_id", "type", "payload",
"accepts_response_payload", "retry_attempt", "retry_reason"}` envelopes and waits for the
app's `{"envelope_id", "payload"?}` ack. uvicorn here has no WebSocket library, so this
one runs on aiohttp (a slack_sdk dependency) on its own loopback port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import WSMsgType, web

from bot.fakeslack.state import APP_ID, FakeSlack

logger = logging.getLogger(__name__)


class SocketModeServer:
    """Serves `ws://host:port/link` for one fake workspace (`fake.socket_mode_url`)."""

    def __init__(self, fake: FakeSlack, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake
        self.host = host
        self.port = port
        self.connections: list[web.WebSocketResponse] = []
        self.connects = 0
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._connected = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The WebSocket URL apps.connections.open returns."""
        return f"ws://{self.host}:{self.port}/link"

    async def start(self) -> None:
        """Listen on a loopback port and register the URL with the fake."""
        app = web.Application()
        app.router.add_get("/link", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            self.port = int(self._runner.addresses[0][1])
        self.fake.socket_mode_url = self.url

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        for ws in list(self.connections):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.fake.socket_mode_url == self.url:
            self.fake.socket_mode_url = None

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections.append(ws)
        self.connects += 1
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": len(self.connections),
                    "debug_info": {
                        "host": "fake-socket-mode",
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": APP_ID},
                }
            )
        )
        self._connected.set()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    continue
                future = self._pending.get(str(data.get("envelope_id")))
                if future is not None and not future.done():
                    future.set_result(data)
        finally:
            if ws in self.connections:
                self.connections.remove(ws)
            if not self.connections:
                self._connected.clear()
        return ws

    async def wait_connected(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Return once an app holds a connection."""
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def send(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = True,
        retry_attempt: int = 0,
        retry_reason: str = "",
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> dict[str, Any] | None:
        """Push an envelope to the newest connection; the app's ack, or None without one."""
        await self.wait_connected(timeout)
        envelope_id = str(uuid.uuid4())
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[envelope_id] = future
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        try:
            await self.connections[-1].send_str(json.dumps(envelope))
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None
        finally:
            self._pending.pop(envelope_id, None)

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the connected apps to reconnect, as Slack does before it rotates a socket."""
        for ws in list(self.connections):
            await ws.send_str(json.dumps({"type": "disconnect", "reason": reason}))


@contextlib.asynccontextmanager
async def serve_socket_mode(
    fake: FakeSlack, host: str = "127.0.0.1"
) -> AsyncIterator[SocketModeServer]:
    """Run a Socket Mode endpoint for `fake` during the block."""
    server = SocketModeServer(fake, host)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
