"""ASGI gateway in front of /api: count the call, apply faults, check the bearer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.emulator.errors import ApiError, error_body
from bot.emulator.faults import FAULT_MESSAGES
from bot.emulator.state import EmulatorState
from bot.emulator.tokens import TokenIssuer

API_PREFIX = "/api/"
UNMATCHED = "(unmatched)"
PARTIAL = 207  # a fault with this status makes a metrics answer partial instead of failing


class ApiGateway:
    """Stats, fault injection and authentication for every /api request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        state: EmulatorState,
        issuer: TokenIssuer,
        routes: Sequence[BaseRoute],
        public_paths: frozenset[str],
    ) -> None:
        self.app = app
        self.state = state
        self.issuer = issuer
        self.routes = [route for route in routes if isinstance(route, Route)]
        self.public_paths = public_paths

    def template(self, scope: Scope) -> str:
        """The route template a request matches (e.g. /api/v1/workloads/{workloadId}).

        The first route whose path and method match; else the first whose path matches
        (the router will answer 405). Only the compiled path patterns are consulted:
        `Route.matches` builds the path parameters too, which the router does again.
        """
        path, method = scope["path"], scope["method"]
        partial = None
        for route in self.routes:
            if route.path_regex.match(path):
                if route.methods is None or method in route.methods:
                    return route.path
                if partial is None:
                    partial = route.path
        return partial or UNMATCHED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        template = self.template(scope)
        query = scope.get("query_string", b"").decode("latin-1")
        self.state.stats.record(method, template, scope["path"], query)
        fault = self.state.faults.take(method, scope["path"])
        if fault is not None:
            if fault.latency_ms:
                await asyncio.sleep(fault.latency_ms / 1000)
            if fault.status == PARTIAL:
                # Served, but partly: the metrics endpoints answer 207 with one series.
                scope.setdefault("state", {})["partial"] = True
            elif fault.status:
                message = FAULT_MESSAGES.get(fault.status, "Injected fault.")
                await _send_error(send, ApiError(fault.status, message))
                return
        if template not in self.public_paths:
            headers = dict(scope["headers"])
            raw = headers.get(b"authorization")
            try:
                subject = self.issuer.verify(raw.decode("latin-1") if raw else None)
            except ApiError as error:
                await _send_error(send, error)
                return
            scope.setdefault("state", {})["subject"] = subject
        await self.app(scope, receive, send)


async def _send_error(send: Send, error: ApiError) -> None:
    body = error_body(error.code, error.message, error.details)
    payload = json.dumps(body, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
