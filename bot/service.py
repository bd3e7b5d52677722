"""`inference-bot run`: wire Run:ai, Slack, the watch room and a transport, then serve."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
import uvicorn
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from bot.config import Settings
from bot.runai import RunaiClient
from bot.serving import serve
from bot.slack.app import build_app, build_http_app, make_slack_client
from bot.slack.deps import Deps

logger = logging.getLogger(__name__)

# All interfaces: Slack (or a proxy) reaches the bot from outside its container.
HTTP_HOST = "0.0.0.0"


async def _runai_url(settings: Settings, stack: contextlib.AsyncExitStack) -> str:
    if settings.runai_url:
        return settings.runai_url
    from bot.emulator import create_app

    client_id, client_secret = settings.runai_credentials()
    emulator = create_app(
        client_id=client_id,
        client_secret=client_secret,
        phase_seconds=settings.emulator_phase_seconds,
    )
    srv = await stack.enter_async_context(serve(emulator))
    logger.warning(
        "RUNAI_URL is not set: started the embedded Run:ai emulator (no real cluster)",
        extra={"runai_url": srv.url},
    )
    return srv.url


async def run_service(settings: Settings) -> None:
    """Run the bot until interrupted: Socket Mode with SLACK_APP_TOKEN, else HTTP on PORT."""
    from bot.watch.runtime import start_watch

    async with contextlib.AsyncExitStack() as stack:
        url = await _runai_url(settings, stack)
        client_id, client_secret = settings.runai_credentials()
        runai = RunaiClient(
            url,
            client_id,
            client_secret,
            model_info_path=settings.runai_model_info_path,
            timeout=settings.runai_timeout_seconds,
        )
        await stack.enter_async_context(runai)
        if settings.slack_bot_token is None:
            logger.warning(
                "Slack is not configured: SLACK_BOT_TOKEN unset, replies will fail",
                extra={"slack_api_url": settings.slack_api_url},
            )
        session = aiohttp.ClientSession()
        stack.push_async_callback(session.close)
        slack = make_slack_client(settings, session)
        runtime = await start_watch(settings, runai, slack)
        stack.push_async_callback(runtime.stop)
        app = build_app(settings, runai, slack, runtime.watcher)
        from bot.guard.install import guard_service

        await guard_service(app, settings, runtime)
        if settings.slack_app_token is not None:
            await _socket_mode(app, settings.slack_app_token.get_secret_value())
        else:
            await _http_mode(app, settings.port)


async def _socket_mode(app: AsyncApp, app_token: str) -> None:
    deps: Deps = app.deps  # type: ignore[attr-defined]
    handler = AsyncSocketModeHandler(app, app_token)
    logger.info("serving over Socket Mode")
    try:
        await handler.connect_async()  # type: ignore[no-untyped-call]
        await asyncio.Event().wait()
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
        await deps.tasks.drain()


async def _http_mode(app: AsyncApp, port: int) -> None:
    config = uvicorn.Config(
        build_http_app(app), host=HTTP_HOST, port=port, log_level="warning", access_log=False
    )
    logger.info("serving HTTP", extra={"port": port, "path": "/slack/events"})
    await uvicorn.Server(config).serve()
