"""`run_service` as `inference-bot run` starts it: embedded emulator (no RUNAI_URL), the watch
room, and each transport: HTTP (signed POST /slack/events, GET /healthz) and Socket Mode."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.fakeslack import RunningFakeSlack, SlackDriver, serve_socket_mode
from bot.service import run_service
from tests.conftest import free_port

pytest_plugins = ["tests.fakes.fixtures"]

SECRET = "service-signing-secret"


@contextlib.asynccontextmanager
async def _service(settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(run_service(settings))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _healthy(url: str, task: asyncio.Task[None]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    async with httpx.AsyncClient() as http:
        while True:
            assert not task.done(), task.exception() if task.done() else ""
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            assert loop.time() < deadline, "the bot never answered /healthz"
            await asyncio.sleep(0.05)


def _settings(fake_slack: RunningFakeSlack, tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        slack_bot_token="xoxb-service",
        slack_signing_secret=SECRET,
        slack_api_url=fake_slack.api_url,
        runai_url=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        emulator_phase_seconds=0.2,
        **extra,  # type: ignore[arg-type]
    )


async def test_http_mode_with_the_embedded_emulator(
    fake_slack: RunningFakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    port = free_port()
    async with _service(_settings(fake_slack, tmp_path, port=port)) as task:
        url = f"http://127.0.0.1:{port}"
        await _healthy(url, task)
        assert "embedded Run:ai emulator" in caplog.text
        async with SlackDriver(url, SECRET, fake_slack.fake) as driver:
            bad = await driver.command("/inference", "list", signing_secret="wrong-secret")
            assert bad.status_code == 401
            assert fake_slack.fake.calls_to("chat.postEphemeral") == []
            await driver.command("/inference", "list")

            def answered() -> object:
                return [
                    m
                    for m in fake_slack.fake.ephemerals("U0001")
                    if "inference workloads" in m.text.lower()
                ]

            await fake_slack.fake.wait_for(answered, timeout=15)
            assert not [m for m in fake_slack.fake.messages if "wrong" in m.text]


async def test_socket_mode(fake_slack: RunningFakeSlack, tmp_path: Path) -> None:
    async with serve_socket_mode(fake_slack.fake) as server:
        health_port = free_port()
        settings = _settings(
            fake_slack, tmp_path, slack_app_token="xapp-1-test", health_port=health_port
        )
        async with _service(settings) as task:
            await server.wait_connected(timeout=20)
            # Socket Mode has no HTTP server for Slack; probes and metrics get a side port.
            side = f"http://127.0.0.1:{health_port}"
            await _healthy(side, task)
            async with httpx.AsyncClient(base_url=side) as http:
                ready = await http.get("/readyz")
                metrics = await http.get("/metrics")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"store": "ok", "runai": "ok"}
            assert "inference_bot_leader 1.0" in metrics.text
            async with SlackDriver(
                "http://unused", SECRET, fake_slack.fake, socket_mode=server
            ) as driver:
                ack = await driver.command("/inference", "help")
                assert ack.status_code == 200
                await driver.command("/inference", "status nothing-here")

                def answered() -> object:
                    return [
                        m
                        for m in fake_slack.fake.ephemerals("U0001")
                        if "no inference named nothing-here" in m.text
                    ]

                await fake_slack.fake.wait_for(answered, timeout=15)
