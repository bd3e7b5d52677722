"""`inference-bot run` with access control: POLICY_FILE enforced, and said loudly when
missing; the audit trail in the bot's database."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.fakeslack import RunningFakeSlack, SlackDriver
from bot.policy import PolicyFileError
from bot.service import run_service
from tests.conftest import free_port
from tests.e2e.service_harness import SECRET, running_service, service_settings, wait_healthy

pytest_plugins = ["tests.fakes.fixtures"]


async def test_run_with_a_policy_file(fake_slack: RunningFakeSlack, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("channels: {C0001: [team-b]}\nprojects: {team-b: {create: [U0001]}}\n")
    port = free_port()
    settings = service_settings(fake_slack, tmp_path, port=port, policy_file=str(policy))
    async with running_service(settings) as task:
        url = f"http://127.0.0.1:{port}"
        await wait_healthy(url, task)
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
    port = free_port()
    async with running_service(service_settings(fake_slack, tmp_path, port=port)) as task:
        await wait_healthy(f"http://127.0.0.1:{port}", task)
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert any("POLICY_FILE is not set" in r.getMessage() for r in warnings)


async def test_a_bad_policy_file_stops_the_start_with_the_reason(
    fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("admins: [alice]\n")
    settings = service_settings(fake_slack, tmp_path, port=free_port(), policy_file=str(policy))
    with pytest.raises(PolicyFileError, match="alice"):
        await run_service(settings)
