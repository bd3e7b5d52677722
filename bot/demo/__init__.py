"""`inference-bot demo`: the real bot between an embedded Run:ai emulator and a fake Slack.

Same code paths as production (the HTTP transport, signed requests, the watch room);
only Slack and Run:ai are simulated, and the user types into this terminal.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from pydantic import SecretStr

from bot.config import Settings
from bot.demo.console import Console, LineReader
from bot.emulator.server import app_from_settings
from bot.fakeslack import SlackDriver, serve_fake_slack
from bot.guard.install import guard_service
from bot.runai import RunaiClient
from bot.serving import serve
from bot.slack.app import build_app, build_http_app, make_slack_client
from bot.watch.runtime import start_watch

logger = logging.getLogger(__name__)

DEMO_SIGNING_SECRET = "demo-signing-secret"
DEMO_BOT_TOKEN = "xoxb-demo"
DEMO_POLL_SECONDS = 1.0

__all__ = ["run_demo"]


async def run_demo(
    settings: Settings,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    charts_dir: Path | None = None,
) -> int:
    """Run the demo console until `exit` or end of input; returns the exit code."""
    out = stdout or sys.stdout
    given = settings.model_fields_set
    async with contextlib.AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="inference-bot-")))
        client_id, client_secret = settings.runai_credentials()
        runai_url = settings.runai_url
        if runai_url is None:
            emulator = app_from_settings(settings)
            runai_url = (await stack.enter_async_context(serve(emulator))).url
        slack = await stack.enter_async_context(serve_fake_slack())
        bot_settings = settings.model_copy(
            update={
                "slack_bot_token": SecretStr(DEMO_BOT_TOKEN),
                "slack_signing_secret": SecretStr(DEMO_SIGNING_SECRET),
                "slack_app_token": None,
                "slack_api_url": slack.api_url,
                "runai_url": runai_url,
                "database_url": settings.database_url
                if "database_url" in given
                else f"sqlite+aiosqlite:///{workdir / 'demo.db'}",
                "poll_interval_seconds": settings.poll_interval_seconds
                if "poll_interval_seconds" in given
                else DEMO_POLL_SECONDS,
            }
        )
        runai = RunaiClient(
            runai_url,
            client_id,
            client_secret,
            model_info_path=settings.runai_model_info_path,
            timeout=settings.runai_timeout_seconds,
        )
        await stack.enter_async_context(runai)
        slack_client = make_slack_client(bot_settings)
        watch = await start_watch(bot_settings, runai, slack_client)
        stack.push_async_callback(watch.stop)
        app = build_app(bot_settings, runai, slack_client, watch.watcher)
        await guard_service(app, bot_settings, watch)  # POLICY_FILE, audit, repeats
        bot_server = await stack.enter_async_context(serve(build_http_app(app)))
        driver = SlackDriver(bot_server.url, DEMO_SIGNING_SECRET, slack.fake)
        stack.push_async_callback(driver.aclose)
        logger.info(
            "demo ready",
            extra={"bot": bot_server.url, "slack": slack.url, "runai": runai_url},
        )
        console = Console(
            slack.fake,
            driver,
            LineReader(stdin or sys.stdin, out),
            out,
            charts_dir or Path.cwd() / "charts",
        )
        return await console.run()
    return 0
