"""`/inference model` when Run:ai has no model-info route: the answer comes from the Hub.

Over the real app, the fake Slack, the emulator with its model-info route moved away (it
answers 404 where the bot asks) and the fake Hub (`HF_ENDPOINT`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.fakeslack import RunningFakeSlack
from tests.conftest import EmulatorFactory
from tests.e2e.slack_harness import Bot, running_bot
from tests.fakehub.harness import GATED_MODEL, GRANTED_TOKEN, RunningHub, running_fake_hub

MOVED = "/api/v2/somewhere-else/model-info"


@pytest.fixture
async def hub() -> AsyncIterator[RunningHub]:
    async with running_fake_hub() as running:
        yield running


@pytest.fixture
async def bot(
    emulator_factory: EmulatorFactory,
    fake_slack: RunningFakeSlack,
    hub: RunningHub,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Bot]:
    monkeypatch.setenv("HF_ENDPOINT", hub.url)  # read by Settings in running_bot
    async with emulator_factory(model_info_path=MOVED) as emu, running_bot(emu, fake_slack) as b:
        yield b


async def test_model_falls_back_to_the_hub_and_says_so(bot: Bot, hub: RunningHub) -> None:
    await bot.driver.command("/inference", "model Qwen/Qwen2.5-7B-Instruct")
    card = await bot.reply_with("Qwen2ForCausalLM")
    blocks = str(card.blocks)
    assert "Source: the Hugging Face Hub" in blocks
    assert "18 GiB" in blocks  # ceil(17431 MiB / 1024): the emulator's rule, from the Hub
    assert hub.state.calls


async def test_gated_model_from_the_hub_asks_for_a_token(bot: Bot) -> None:
    await bot.driver.command("/inference", f"model {GATED_MODEL}")
    view = await bot.view("inference_hf_token")
    await bot.driver.submit_view(view, {"f_hf_token": GRANTED_TOKEN})
    assert view.closed
    card = await bot.reply_with("LlamaForCausalLM")
    assert "Source: the Hugging Face Hub" in str(card.blocks) and "Gated" in str(card.blocks)
    for call in bot.fake.calls:
        assert GRANTED_TOKEN not in str(call.args)


async def test_unknown_model_on_the_hub(bot: Bot) -> None:
    await bot.driver.command("/inference", "model nobody/nothing-here")
    await bot.reply_with("Hugging Face has no model nobody/nothing-here")
