"""Bad input for `watch --only`, `mute`, `unmute`, `why`, `history` and their buttons,
through the real app against the emulator: a clear message, and nothing changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.fakeslack import MessageRecord, RunningFakeSlack
from bot.runai import models
from bot.slack.commands.explain import OLD_BUTTON
from bot.slack.ids import Action
from tests.conftest import RunningEmulator
from tests.e2e.slack_harness import CHANNEL, Bot, RecordingWatcher, running_bot

pytest_plugins = ["tests.fakes.fixtures"]

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
async def bot(emulator: RunningEmulator, fake_slack: RunningFakeSlack) -> AsyncIterator[Bot]:
    async with running_bot(emulator, fake_slack) as running:
        yield running


def mutations(bot: Bot) -> int:
    """PATCH/DELETE calls and creates the emulator has seen."""
    return sum(
        n
        for key, n in bot.emu.state.stats.calls.items()
        if key.split(" ")[0] in ("PATCH", "DELETE")
        or (key.startswith("POST ") and "token" not in key)
    )


async def buttons(bot: Bot, *action_ids: str) -> MessageRecord:
    """A channel message carrying our buttons (as the bot's replies would), to press."""
    elements: list[dict[str, Any]] = [
        {
            "type": "button",
            "action_id": action_id,
            "text": {"type": "plain_text", "text": action_id},
            "value": "x",
        }
        for action_id in action_ids
    ]
    response = await bot.deps.slack.chat_postMessage(
        channel=CHANNEL, text="buttons", blocks=[{"type": "actions", "elements": elements}]
    )
    found = bot.fake.find_message(CHANNEL, str(response["ts"]))
    assert found is not None
    return found


async def test_quiet_commands_on_bad_input(bot: Bot) -> None:
    watcher = bot.watcher
    assert isinstance(watcher, RecordingWatcher)
    await bot.driver.command("/inference", "mute nothing-here for 1h")
    await bot.reply_with("There is no inference named nothing-here")
    await bot.driver.command("/inference", "watch nothing-here --only failed")
    await bot.reply_with("There is no inference named nothing-here")
    await bot.driver.command("/inference", "watch x --only pending")
    await bot.reply_with("--only takes a comma-separated list")
    assert watcher.quiet == [] and watcher.watched == []

    await bot.create("q-quiet")
    await bot.driver.command("/inference", "mute q-quiet")
    await bot.reply_with("This channel isn't following q-quiet")
    await bot.driver.command("/inference", "unmute q-quiet")
    await bot.reply_with("isn't following q-quiet: `/inference watch q-quiet` first")
    await bot.driver.command("/inference", "mute q-quiet for 0s")
    await bot.reply_with("between 1m and 30d")

    await bot.driver.command("/inference", "watch q-quiet --only failed,degraded")
    said = await bot.reply_with("hears only failed and degraded")
    assert "parent message still shows every phase" in said.text or "parent" in str(said.blocks)
    assert watcher.quiet[-1][0] == "only"
    assert watcher.quiet[-1][3] == frozenset({"Failed", "Degraded"})


async def test_why_and_history_on_bad_input(bot: Bot) -> None:
    await bot.driver.command("/inference", "why nothing-here")
    await bot.reply_with("There is no inference named nothing-here")
    await bot.driver.command("/inference", f"history {UNKNOWN_ID}")
    await bot.reply_with(f"There is no inference named {UNKNOWN_ID}")
    await bot.driver.command("/inference", "history")
    await bot.reply_with("needs a workload name or id")


async def test_why_button_with_bad_values(bot: Bot) -> None:
    message = await buttons(bot, Action.WHY)
    before = len(bot.fake.thread_replies(CHANNEL, message.ts))
    await bot.driver.click(message, Action.WHY, value="<!channel> not an id")
    await bot.reply_with("That button doesn't name a workload.")
    await bot.driver.click(message, Action.WHY, value=UNKNOWN_ID)
    await bot.reply_with(f"There is no inference named {UNKNOWN_ID}")
    assert len(bot.fake.thread_replies(CHANNEL, message.ts)) == before


async def test_why_button_answers_in_the_thread(bot: Bot) -> None:
    created = await bot.create("q-why")
    message = await buttons(bot, Action.WHY)
    await bot.driver.click(message, Action.WHY, value=created.workload_id)
    reply = await bot.fake.wait_for(
        lambda: next(iter(bot.fake.thread_replies(CHANNEL, message.ts)), None), timeout=10
    )
    assert "Why q-why is" in reply.text
    assert "*Latest events*" in str(reply.blocks)


async def test_rollback_buttons_with_stale_or_tampered_values(bot: Bot) -> None:
    created = await bot.create("q-roll", image="vllm/vllm-openai:v0.6.0")
    [first] = await bot.runai.inference_revisions(created.workload_id)
    message = await buttons(bot, Action.ROLLBACK, Action.CONFIRM_ROLLBACK, Action.CANCEL_ROLLBACK)
    start = mutations(bot)

    for value in ("", "a b c", "<!here>", "rev 12345", "x" * 300):
        await bot.driver.click(message, Action.ROLLBACK, value=value)
        await bot.reply_with(OLD_BUTTON)
        bot.fake.messages.clear()
    # A confirm without the fingerprint of what was shown is not a confirmation.
    await bot.driver.click(message, Action.CONFIRM_ROLLBACK, value=first.id)
    await bot.reply_with(OLD_BUTTON)
    await bot.driver.click(message, Action.CONFIRM_ROLLBACK, value="no-such-revision 0123456789ab")
    await bot.reply_with("That revision no longer exists")

    # Nothing differs: the confirmation says so, and has no button.
    await bot.driver.click(message, Action.ROLLBACK, value=first.id)
    same = await bot.reply_with("nothing to roll back")
    assert "actions" not in [b["type"] for b in same.blocks]

    # Changed since the confirmation was shown: refused, nothing sent.
    await bot.runai.update_inference(
        created.workload_id,
        models.InferenceUpdateRequest(spec=models.InferenceUpdateSpec(image="vllm/x:v2")),
    )
    start = mutations(bot)
    await bot.driver.click(message, Action.ROLLBACK, value=first.id)
    ask = await bot.reply_with("This will change")
    assert "`vllm/x:v2` → `vllm/vllm-openai:v0.6.0`" in str(ask.blocks)
    confirm_value = ask.blocks[1]["elements"][0]["value"]
    revision_id, said = confirm_value.split(" ")
    assert revision_id == first.id and len(said) == 12
    await bot.runai.update_inference(
        created.workload_id,
        models.InferenceUpdateRequest(spec=models.InferenceUpdateSpec(image="vllm/x:v3")),
    )
    start = mutations(bot)
    # (The answer replaces the message the button was in: here, our message of buttons.)
    await bot.driver.click(message, Action.CONFIRM_ROLLBACK, value=confirm_value)
    await bot.fake.wait_for(replaced(bot, message, "changed since this confirmation"), 10)
    assert mutations(bot) == start
    spec = (await bot.runai.get_inference(created.workload_id)).spec
    assert spec is not None and spec.image == "vllm/x:v3"

    message = await buttons(bot, Action.CANCEL_ROLLBACK)
    await bot.driver.click(message, Action.CANCEL_ROLLBACK, value="anything")
    await bot.fake.wait_for(replaced(bot, message, "nothing was rolled back"), 10)
    assert mutations(bot) == start


def replaced(bot: Bot, message: MessageRecord, text: str) -> Any:
    def check() -> bool | None:
        now = bot.fake.find_message(CHANNEL, message.ts)
        return (now is not None and text in now.text) or None

    return check
