"""Operations endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import telemetry

logger = logging.getLogger(__name__)

Check = Callable[[], Awaitable[None]]
Revision = Callable[[], Awaitable[str | None]]
READY_TIMEOUT_SECONDS = 3.0


class Readiness:
    """What `/readyz` answers: whether this process can serve Slack at all.

    Not ready (503) only while it starts (Socket Mode: until the WebSocket is up), once it
    shuts down, or while its database answers at a schema older than this version's
    migrations (`schema`, compared with `head`; the revisions are zero-padded numbers).
    The dependencies (`checks`: the database, Run:ai) are run on each probe and reported
    in the body, and never fail it: during an outage of either, every replica would leave
    the Service together and users would get Slack's timeout instead of the bot's own
    "When things fail" sentences, which it still sends. A database that does not answer
    leaves the schema unknown, which is not a reason to leave the Service either.
    """

    def __init__(
        self,
        checks: Mapping[str, Check],
        timeout: float = READY_TIMEOUT_SECONDS,
        *,
        schema: Revision | None = None,
        head: str | None = None,
        started: bool = True,
    ) -> None:
        self._checks = dict(checks)
        self._timeout = timeout
        self._schema = schema
        self._head = head
        self._schema_seen = False  # at head once: migrations never go back
        self.started = started
        self.stopping: Callable[[], bool] = lambda: False

    async def _one(self, name: str, check: Check) -> tuple[str, str | None]:
        try:
            await asyncio.wait_for(check(), timeout=self._timeout)
        except TimeoutError:
            return name, f"no answer within {self._timeout:g}s"
        except Exception as exc:  # a probe reports every failure, it never raises
            return name, f"{type(exc).__name__}: {exc}"[:300]
        return name, None

    async def problems(self) -> dict[str, str | None]:
        """Each dependency's problem, or None when it passed (reported, not failing)."""
        results = await asyncio.gather(*(self._one(n, c) for n, c in self._checks.items()))
        return dict(results)

    async def _schema_problem(self) -> str | None:
        if self._schema is None or self._head is None or self._schema_seen:
            return None
        try:
            revision = await asyncio.wait_for(self._schema(), timeout=self._timeout)
        except Exception:  # the database is away: its own check says so
            return None
        if revision is None or revision < self._head:
            return (
                f"the database schema is at {revision or 'no revision'}, this version needs "
                f"{self._head}: migrations not applied (they run at start, or run "
                "`inference-bot migrate`)"
            )
        self._schema_seen = True
        return None

    async def serving(self) -> dict[str, str | None]:
        """What keeps this process from serving Slack at all, by name (None: fine)."""
        return {
            "started": None if self.started else "starting",
            "shutdown": "shutting down" if self.stopping() else None,
            "schema": await self._schema_problem(),
        }


def ops_routes(
    readiness: Readiness | None = None,
    refresh_gauges: Callable[[], Awaitable[None]] | None = None,
) -> list[Route]:
    """`/readyz` (when checks are given) and `/metrics`; `/healthz` stays with the app."""

    async def readyz(request: Request) -> Response:
        assert readiness is not None
        serving, problems = await asyncio.gather(readiness.serving(), readiness.problems())
        blocking = sorted(k for k, v in serving.items() if v is not None)
        failing = sorted(k for k, v in problems.items() if v is not None)
        if blocking:
            logger.warning("not ready", extra={"failing": ",".join(blocking)})
        elif failing:
            logger.warning("ready, with a dependency down", extra={"failing": ",".join(failing)})
        body = {
            "ready": not blocking,
            "serving": {k: v or "ok" for k, v in serving.items()},
            "checks": {k: v or "ok" for k, v in problems.items()},
        }
        return JSONResponse(body, status_code=503 if blocking else 200)

    async def metrics(request: Request) -> Response:
        if refresh_gauges is not None:
            try:
                await refresh_gauges()
            except Exception:
                logger.warning("metrics gauges not refreshed", exc_info=True)
        payload, content_type = telemetry.exposition()
        return Response(payload, media_type=content_type)

    routes = [Route("/metrics", metrics, methods=["GET"])]
    if readiness is not None:
        routes.append(Route("/readyz", readyz, methods=["GET"]))
    return routes


def ops_app(
    readiness: Readiness | None = None,
    refresh_gauges: Callable[[], Awaitable[None]] | None = None,
) -> Starlette:
    """The side-port app of Socket Mode: `/healthz`, `/readyz`, `/metrics`."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            *ops_routes(readiness, refresh_gauges),
        ]
    )
