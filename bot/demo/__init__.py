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
from bot.fakeslack import SlackDriver, serve_fake_slack
from bot.service import assemble
from bot.serving import serve

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
        slack = await stack.enter_async_context(serve_fake_slack())
        bot_settings = settings.model_copy(
            update={
                "slack_bot_token": SecretStr(DEMO_BOT_TOKEN),
                "slack_signing_secret": SecretStr(DEMO_SIGNING_SECRET),
                "slack_app_token": None,
                "slack_api_url": slack.api_url,
                "database_url": settings.database_url
                if "database_url" in given
                else f"sqlite+aiosqlite:///{workdir / 'demo.db'}",
                "poll_interval_seconds": settings.poll_interval_seconds
                if "poll_interval_seconds" in given
                else DEMO_POLL_SECONDS,
            }
        )
        # The same assembly and HTTP app as `inference-bot run` (no RUNAI_URL: the
        # embedded emulator), served on a loopback port the driver signs requests to.
        bot = await assemble(bot_settings, stack)
        bot_server = await stack.enter_async_context(serve(bot.http_app()))
        driver = SlackDriver(bot_server.url, DEMO_SIGNING_SECRET, slack.fake)
        stack.push_async_callback(driver.aclose)
        logger.info("demo ready", extra={"bot": bot_server.url, "slack": slack.url})
        console = Console(
            slack.fake,
            driver,
            LineReader(stdin or sys.stdin, out),
            out,
            charts_dir or Path.cwd() / "charts",
        )
        return await console.run()
    return 0
