"""`/inference` end to end: signed requests to the real app, replies read from the fake Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.fakeslack import RunningFakeSlack
from tests.conftest import RunningEmulator
from tests.e2e.slack_harness import Bot, running_bot

pytest_plugins = ["tests.fakes.fixtures"]


@pytest.fixture
async def bot(emulator: RunningEmulator, fake_slack: RunningFakeSlack) -> AsyncIterator[Bot]:
    async with running_bot(emulator, fake_slack) as running:
        yield running


async def test_help_is_in_the_ack(bot: Bot) -> None:
    response = await bot.driver.command("/inference", "help")
    assert response.status_code == 200
    message = await bot.reply_with("/inference help")
    assert "scale" in str(message.blocks)


async def test_unknown_subcommand_gets_short_help(bot: Bot) -> None:
    await bot.driver.command("/inference", "frobnicate now")
    message = await bot.reply_with("frobnicate")
    assert "I don't know" in message.text
    assert "Traceback" not in str(message.blocks)


async def test_status_of_a_named_workload(bot: Bot) -> None:
    await bot.create("llama-chat")
    await bot.driver.command("/inference", "status llama-chat")
    message = await bot.reply_with("llama-chat is")
    assert "team-a" in str(message.blocks)
