"""bot.serving: an embedded server stops without idling, yet lets open requests finish."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.serving import serve


def slow_app(events: list[str], started: asyncio.Event | None = None) -> Starlette:
    """Answers /slow after 0.3 s (setting `started` on the way in); records its lifespan's end."""

    async def slow(request: Request) -> PlainTextResponse:
        events.append("request started")
        if started is not None:
            started.set()
        await asyncio.sleep(0.3)
        return PlainTextResponse("done")

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        events.append("lifespan ended")

    return Starlette(routes=[Route("/slow", slow)], lifespan=lifespan)


async def test_a_request_in_flight_at_stop_still_gets_its_answer() -> None:
    events: list[str] = []
    started = asyncio.Event()
    async with httpx.AsyncClient() as http:
        async with serve(slow_app(events, started)) as running:
            pending = asyncio.create_task(http.get(f"{running.url}/slow"))
            await started.wait()
        # The server stopped while /slow was being answered.
        response = await pending
    assert response.status_code == 200 and response.text == "done"
    assert events == ["request started", "lifespan ended"]


async def test_an_idle_keep_alive_connection_does_not_hold_the_stop() -> None:
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient() as http:
        async with serve(slow_app([])) as running:
            # A finished request leaves its connection open (keep-alive) in the pool.
            assert (await http.get(f"{running.url}/missing")).status_code == 404
            started = loop.time()
        stopped_in = loop.time() - started
    assert stopped_in < 2.0  # closed at once, not waited for until the 5 s graceful timeout
