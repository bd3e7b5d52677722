"""`inference-bot run` with the guard rails: POLICY_FILE enforced, and said loudly when
missing; the audit trail in the bot's database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.fakeslack import RunningFakeSlack, SlackDriver
from bot.policy import PolicyFileError
from bot.service import run_service

SECRET = "guard-service-signing-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
        slack_bot_token="xoxb-guard-service",
        slack_signing_secret=SECRET,
        slack_api_url=fake_slack.api_url,
        runai_url=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        emulator_phase_seconds=0.2,
        **extra,  # type: ignore[arg-type]
    )


pytest_plugins = ["tests.fakes.fixtures"]


async def test_run_with_a_policy_file(fake_slack: RunningFakeSlack, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("channels: {C0001: [team-b]}\nprojects: {team-b: {create: [U0001]}}\n")
    port = _free_port()
    settings = _settings(fake_slack, tmp_path, port=port, policy_file=str(policy))
    async with _service(settings) as task:
        url = f"http://127.0.0.1:{port}"
        await _healthy(url, task)
        fake = fake_slack.fake
        async with SlackDriver(url, SECRET, fake) as driver:
            await driver.command("/inference", "policy")
            answer = await fake.wait_for(
                lambda: next((m for m in fake.messages if "What you may do" in m.text), None),
                timeout=20,
            )
            text = str(answer.blocks)
            assert "team-b" in text and "read, create" in text and "team-a" not in text
            await driver.command("/inference", "create", user="U0002")
            denied = await fake.wait_for(
                lambda: next((m for m in fake.messages if "Not allowed" in m.text), None)
            )
            assert "projects.team-b.create" in denied.text
            await driver.command("/inference", "audit nothing-here")
            trail = await fake.wait_for(
                lambda: next((m for m in fake.messages if "Audit trail" in m.text), None)
            )
            assert "Nothing recorded" in str(trail.blocks)


async def test_run_without_a_policy_file_says_so_loudly(
    fake_slack: RunningFakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    port = _free_port()
    async with _service(_settings(fake_slack, tmp_path, port=port)) as task:
        await _healthy(f"http://127.0.0.1:{port}", task)
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert any("POLICY_FILE is not set" in r.getMessage() for r in warnings)


async def test_a_bad_policy_file_stops_the_start_with_the_reason(
    fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("admins: [alice]\n")
    settings = _settings(fake_slack, tmp_path, port=_free_port(), policy_file=str(policy))
    with pytest.raises(PolicyFileError, match="alice"):
        await run_service(settings)
