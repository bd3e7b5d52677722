"""Serve an ASGI app to an httpx client in-process, where the socket is not under test."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

Scope = dict[str, Any]


def asgi_transport(app: Any) -> httpx.ASGITransport:
    """An httpx transport that calls `app` directly: no socket, no server to stop.

    As under uvicorn, each request runs in a task of its own (a `ContextVar` set while
    handling it stays with it) and an exception in the app is answered 500.
    """

    async def own_task(scope: Scope, receive: Any, send: Any) -> None:
        await asyncio.create_task(app(scope, receive, send))

    return httpx.ASGITransport(app=own_task, raise_app_exceptions=False)
