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
READY_TIMEOUT_SECONDS = 3.0


class Readiness:
    """Named checks (store reachable, Run:ai token obtainable) run on each probe."""

    def __init__(self, checks: Mapping[str, Check], timeout: float = READY_TIMEOUT_SECONDS):
        self._checks = dict(checks)
        self._timeout = timeout

    async def _one(self, name: str, check: Check) -> tuple[str, str | None]:
        try:
            await asyncio.wait_for(check(), timeout=self._timeout)
        except TimeoutError:
            return name, f"no answer within {self._timeout:g}s"
        except Exception as exc:  # a probe reports every failure, it never raises
            return name, f"{type(exc).__name__}: {exc}"[:300]
        return name, None

    async def problems(self) -> dict[str, str | None]:
        """Each check's problem, or None when it passed."""
        results = await asyncio.gather(*(self._one(n, c) for n, c in self._checks.items()))
        return dict(results)


def ops_routes(
    readiness: Readiness | None = None,
    refresh_gauges: Callable[[], Awaitable[None]] | None = None,
) -> list[Route]:
    """`/readyz` (when checks are given) and `/metrics`; `/healthz` stays with the app."""

    async def readyz(request: Request) -> Response:
        assert readiness is not None
        problems = await readiness.problems()
        failing = {k: v for k, v in problems.items() if v is not None}
        if failing:
            logger.warning("not ready", extra={"failing": ",".join(sorted(failing))})
        body = {"ready": not failing, "checks": {k: v or "ok" for k, v in problems.items()}}
        return JSONResponse(body, status_code=503 if failing else 200)

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
