"""`inference-bot run`: wire Run:ai, Slack, the watch room and a transport, then serve."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette

from bot import telemetry
from bot.config import Settings
from bot.ops import Readiness, ops_app, ops_routes
from bot.runai import RunaiClient
from bot.serving import serve
from bot.slack.app import Listeners, build_app, build_http_app, make_slack_client
from bot.slack.deps import Deps
from bot.watch.runtime import WatchRuntime

if TYPE_CHECKING:
    from bot.access import Access

logger = logging.getLogger(__name__)

# All interfaces: Slack (or a proxy) reaches the bot from outside its container.
HTTP_HOST = "0.0.0.0"


async def _runai_url(settings: Settings, stack: contextlib.AsyncExitStack) -> str:
    if settings.runai_url:
        return settings.runai_url
    from bot.emulator.server import app_from_settings

    srv = await stack.enter_async_context(serve(app_from_settings(settings)))
    logger.warning(
        "RUNAI_URL is not set: started the embedded Run:ai emulator (no real cluster)",
        extra={"runai_url": srv.url},
    )
    return srv.url


def _observe_runai(op: str, status: int, seconds: float) -> None:
    telemetry.RUNAI_REQUESTS.labels(op, str(status)).observe(seconds)


def _stop_on_signals(stack: contextlib.ExitStack) -> asyncio.Event:
    """An event set by SIGTERM or SIGINT, so shutdown runs our cleanup, not the default."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        logger.info("shutting down", extra={"signal": sig.name})
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
        stack.callback(loop.remove_signal_handler, sig)
    return stop


@dataclass
class Assembled:
    """The running parts of one bot process, whatever its transport."""

    settings: Settings
    app: AsyncApp
    runai: RunaiClient
    runtime: WatchRuntime
    readiness: Readiness

    async def refresh_gauges(self) -> None:
        """Gauges read at scrape time."""
        telemetry.NOTIFICATIONS_PENDING.set(await self.runtime.store.count_open())

    def http_app(self) -> Starlette:
        """HTTP mode: Slack events, `/healthz`, `/readyz`, `/metrics`."""
        return build_http_app(
            self.app,
            drain_seconds=self.settings.shutdown_grace_seconds,
            extra_routes=ops_routes(self.readiness, self.refresh_gauges),
        )


async def assemble(settings: Settings, stack: contextlib.AsyncExitStack) -> Assembled:
    """Run:ai client (or the embedded emulator), the one Slack client, the watch room,
    access control (the policed Run:ai client, org cache and watcher) and the Bolt app
    built over it: everything `run` and `demo` share. Closed by `stack`.
    """
    from bot.access import access_for_service
    from bot.care import start_care
    from bot.slack.threads import thread_message
    from bot.watch.runtime import start_watch

    url = await _runai_url(settings, stack)
    client_id, client_secret = settings.runai_credentials()
    runai = RunaiClient(
        url,
        client_id,
        client_secret,
        model_info_path=settings.runai_model_info_path,
        timeout=settings.runai_timeout_seconds,
        observer=_observe_runai,
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
    runtime = await start_watch(settings, runai, slack, render=thread_message)
    stack.push_async_callback(runtime.stop)
    runtime.leadership.on_change(lambda leader: telemetry.LEADER.set(int(leader)))
    telemetry.LEADER.set(int(runtime.leadership.is_leader()))
    access = await access_for_service(settings, runtime, runai, slack)
    care = start_care(settings, runtime, runai, slack, access)
    listeners = home_and_approvals(settings, runtime, runai, slack, access)
    app = build_app(
        settings,
        access.runai,
        slack,
        access.watcher,
        orgs=access.orgs,
        access=access,
        care=care,
        listeners=listeners,
    )
    from bot.watch.db.migrate import HEAD, revision

    readiness = Readiness(
        {"store": runtime.store.ping, "runai": runai.check_auth},
        schema=lambda: revision(runtime.store.engine),
        head=HEAD,
        started=settings.slack_app_token is None,  # Socket Mode: once connected
    )
    return Assembled(settings, app, runai, runtime, readiness)


HOME_JOB = "app-home"


def home_and_approvals(
    settings: Settings,
    runtime: WatchRuntime,
    runai: RunaiClient,
    slack: AsyncWebClient,
    access: Access,
) -> list[Listeners]:
    """The App Home (published and kept current by the lease holder) and the approval
    buttons: their listeners for `build_app`."""
    from bot.access.approval_actions import register_approvals
    from bot.slack.home import HomeDesk, register_home
    from bot.watch.runtime import delivery_client

    listeners: list[Listeners] = []
    if access.audit is not None:
        home = HomeDesk(
            runtime.store,
            runai,
            access.gate.may_read,
            access.audit,
            delivery_client(slack),
            min_interval=timedelta(seconds=settings.home_republish_seconds),
            stuck_after=settings.stuck_after,
            is_leader=runtime.leadership.is_leader,
        )
        access.gate.listeners.append(lambda entry: home.want_for(entry.user_id, entry.workload_id))
        if access.approvals is not None:
            access.approvals.on_change = home.want

        async def home_job() -> None:
            try:
                await home.tick()
            except Exception as exc:
                logger.warning("home republish failed", extra={"error": type(exc).__name__})

        runtime.scheduler.add_job(home_job, "interval", seconds=1, id=HOME_JOB)
        listeners.append(register_home(home))
    if access.approvals is not None:
        listeners.append(register_approvals(access.approvals))
    return listeners


async def run_service(settings: Settings) -> None:
    """Run the bot until SIGTERM/SIGINT: Socket Mode with SLACK_APP_TOKEN, else HTTP on PORT.

    On a signal it stops taking requests, lets in-flight work finish (up to
    SHUTDOWN_GRACE_SECONDS) and gives up the watch lease so another replica takes over.
    """
    with contextlib.ExitStack() as signals:
        stop = _stop_on_signals(signals)
        async with contextlib.AsyncExitStack() as stack:
            bot = await assemble(settings, stack)
            bot.readiness.stopping = stop.is_set
            if settings.slack_app_token is not None:
                ops = await stack.enter_async_context(
                    serve(
                        ops_app(bot.readiness, bot.refresh_gauges), HTTP_HOST, settings.health_port
                    )
                )
                logger.info("health, readiness and metrics", extra={"port": ops.port})
                await _socket_mode(bot.app, settings, stop, bot.readiness)
            else:
                async with serve(bot.http_app(), HTTP_HOST, settings.port) as srv:
                    logger.info("serving HTTP", extra={"port": srv.port, "path": "/slack/events"})
                    await stop.wait()
    logger.info("stopped")


async def _socket_mode(
    app: AsyncApp, settings: Settings, stop: asyncio.Event, readiness: Readiness
) -> None:
    # Imported here: HTTP mode never needs the WebSocket client (bench/startup.py).
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    assert settings.slack_app_token is not None
    deps: Deps = app.deps  # type: ignore[attr-defined]
    handler = AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value())
    logger.info("serving over Socket Mode")
    try:
        await handler.connect_async()  # type: ignore[no-untyped-call]
        readiness.started = True
        await stop.wait()
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
        await deps.tasks.drain(settings.shutdown_grace_seconds)
