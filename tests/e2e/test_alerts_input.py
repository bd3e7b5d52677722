"""Alerts: bad input to each command and button gets a clear message and changes nothing."""

from __future__ import annotations

from pathlib import Path

from bot.fakeslack import MessageRecord, RunningFakeSlack
from tests.conftest import EmulatorFactory
from tests.e2e.slack_harness import CHANNEL, USER
from tests.e2e.test_alerts import alert_bot, running

pytest_plugins = ["tests.fakes.fixtures"]

OTHER = "U0OTHER"
STRANGER = "U0STRANGER"
POLICY = f"""
channels:
  {CHANNEL}: [team-a]
projects:
  team-a:
    read: [{USER}, {OTHER}]
    scale: [{USER}]
"""


def _button(rule_id: str, action_id: str) -> MessageRecord:
    """A message carrying one button, as the bot would post it (the driver clicks it)."""
    return MessageRecord(
        channel=CHANNEL,
        ts="1700000000.000100",
        text="alert",
        blocks=[
            {
                "type": "actions",
                "block_id": "b_actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": action_id,
                        "text": {"type": "plain_text", "text": "x"},
                        "value": rule_id,
                    }
                ],
            }
        ],
    )


async def test_bad_alert_commands_store_nothing(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with alert_bot(emulator_factory, fake_slack, tmp_path) as bot:
        driver = bot.guarded.bot.driver
        await running(bot, "steady")
        for text, said in [
            ("alert", "needs"),
            ("alert steady", "needs a metric"),
            ("alert steady speed &gt; 5", "speed"),
            ("alert steady latency = 5", "="),
            ("alert steady latency &gt; lots", "lots"),
            ("alert steady gpu &gt; 150", "100"),
            ("alert steady latency &gt; 500 for 1s", "1m"),
            ("unalert", "unalert"),
            ("unalert <!channel>", "not an alert id"),
        ]:
            ack = await driver.command("/inference", text)
            assert said in ack.text, (text, ack.text)
        await driver.command("/inference", "alert nothing-here latency &gt; 500")
        await bot.guarded.bot.reply_with("no inference named nothing-here", wait=15)
        await driver.command("/inference", "alerts nothing-here")
        await bot.guarded.bot.reply(
            lambda m: "nothing-here" in m.text and "alert rule" not in m.text, wait=15
        )
        await driver.command("/inference", "unalert azzzzz")
        await bot.guarded.bot.reply_with("There is no alert azzzzz", wait=15)
        assert await bot.runtime.store.list_alert_rules(include_removed=True) == []
        assert await bot.runtime.watcher.watched_in(CHANNEL) == set()


async def test_bad_button_presses_change_nothing(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with alert_bot(emulator_factory, fake_slack, tmp_path, POLICY) as bot:
        driver = bot.guarded.bot.driver
        await running(bot, "steady")
        await driver.command("/inference", "alert steady latency &gt; 500")
        await bot.guarded.bot.reply_with("latency above 500 ms for 5 min", wait=15)
        [(rule, _)] = await bot.runtime.store.list_alert_rules()

        # A tampered value, an unknown id.
        await driver.click(
            _button("<!channel> &", "inference_alert_remove"), "inference_alert_remove"
        )
        await bot.guarded.bot.reply_with("That button names no alert", wait=15)
        await driver.click(_button("", "inference_alert_snooze_1h"), "inference_alert_snooze_1h")
        await bot.guarded.bot.reply(lambda m: m.text.count("names no alert") > 0, wait=15)
        await driver.click(
            _button("azzzzz", "inference_alert_snooze_24h"), "inference_alert_snooze_24h"
        )
        await bot.guarded.bot.reply_with("There is no alert azzzzz", wait=15)

        # Someone who may not read the workload here may not snooze it.
        await driver.click(
            _button(rule.id, "inference_alert_snooze_1h"),
            "inference_alert_snooze_1h",
            user=STRANGER,
        )

        def refused(user: str) -> MessageRecord | None:
            return next(
                (m for m in fake_slack.fake.messages if m.ephemeral_to == user and m.text),
                None,
            )

        said = await fake_slack.fake.wait_for(lambda: refused(STRANGER), timeout=15)
        assert "allowed" in said.all_text().lower() or "may not" in said.all_text().lower()
        # Someone who may read but not scale it may not remove another's rule.
        await driver.click(
            _button(rule.id, "inference_alert_remove"), "inference_alert_remove", user=OTHER
        )
        said = await fake_slack.fake.wait_for(lambda: refused(OTHER), timeout=15)
        assert "only its author" in said.all_text()

        state = await bot.runtime.store.alert_state_of(rule.id)
        assert state is not None and state.snoozed_until is None
        assert [r.id for r, _ in await bot.runtime.store.list_alert_rules()] == [rule.id]
        # Someone who may not read the workload here may not put a rule on it either.
        await driver.command("/inference", "alert steady latency &gt; 100", user=STRANGER)
        await fake_slack.fake.wait_for(
            lambda: (
                len([m for m in fake_slack.fake.ephemerals(STRANGER) if "Not allowed" in m.text])
                == 2
            ),
            timeout=15,
        )
        assert [r.id for r, _ in await bot.runtime.store.list_alert_rules()] == [rule.id]
        # The author removes it; a second press finds it gone.
        await driver.click(_button(rule.id, "inference_alert_remove"), "inference_alert_remove")
        await bot.guarded.bot.reply_with(f"Removed alert {rule.id}", wait=15)
        await driver.click(_button(rule.id, "inference_alert_remove"), "inference_alert_remove")
        await bot.guarded.bot.reply_with(f"There is no alert {rule.id}", wait=15)
        assert await bot.runtime.store.list_alert_rules() == []
