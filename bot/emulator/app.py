"""`create_app`: the emulator as a Starlette app (state at `app.state.emulator`)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.emulator.api import TOKEN_PATH, api_routes
from bot.emulator.controls import control_routes
from bot.emulator.errors import ApiError, error_body
from bot.emulator.gateway import ApiGateway
from bot.emulator.state import EmulatorState
from bot.emulator.tokens import TokenIssuer
from bot.runai.client import DEFAULT_MODEL_INFO_PATH


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"Route not found: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return JSONResponse(error_body(exc.status_code, message), status_code=exc.status_code)


async def _server_error(request: Request, exc: Exception) -> Response:
    return JSONResponse(error_body(500, "Something went wrong."), status_code=500)


def create_app(
    *,
    client_id: str = "demo",
    client_secret: str = "demo",
    phase_seconds: float = 2.0,
    token_ttl_seconds: float = 3600,
    model_info_path: str = DEFAULT_MODEL_INFO_PATH,
    state: EmulatorState | None = None,
) -> Starlette:
    """A Run:ai control plane in memory: the schema subset's API plus /emulator controls."""
    state = state or EmulatorState(phase_seconds=phase_seconds)
    issuer = TokenIssuer(client_id, client_secret, token_ttl_seconds, state.clock)
    routes = [*api_routes(state, issuer, model_info_path), *control_routes(state)]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                ApiGateway,
                state=state,
                issuer=issuer,
                routes=routes,
                public_paths=frozenset({TOKEN_PATH}),
            )
        ],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    app.state.emulator = state
    app.state.token_issuer = issuer
    return app
