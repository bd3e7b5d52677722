"""`run_service` in the test's event loop, as `inference-bot run` starts it.

`running_service(settings)` runs it as a task (cancelled at the end), `wait_healthy`
polls `/healthz`, `service_settings` points the bot at the fake Slack, the embedded
emulator and a SQLite file.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from bot.config import Settings
from bot.fakeslack import RunningFakeSlack
from bot.service import run_service

SECRET = "service-signing-secret"


@contextlib.asynccontextmanager
async def running_service(settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    """`run_service(settings)` as a task for the duration of the block."""
    task = asyncio.create_task(run_service(settings))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def wait_healthy(url: str, task: asyncio.Task[None], timeout: float = 20) -> None:  # noqa: ASYNC109
    """Poll `{url}/healthz` until it answers 200; fail if the service task ends first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with httpx.AsyncClient() as http:
        while True:
            assert not task.done(), task.exception() if task.done() else ""
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            assert loop.time() < deadline, "the bot never answered /healthz"
            await asyncio.sleep(0.05)


def service_settings(fake_slack: RunningFakeSlack, tmp_path: Path, **extra: object) -> Settings:
    """Settings for a service against the fake Slack and the embedded emulator."""
    return Settings(
        slack_bot_token="xoxb-service",
        slack_signing_secret=SECRET,
        slack_api_url=fake_slack.api_url,
        runai_url=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        emulator_phase_seconds=0.2,
        **extra,  # type: ignore[arg-type]
    )
