"""Why? and Roll back under the policy: the presser needs the read right in the channel
for Why?, and the update right (within the caps) for a rollback; a refusal is told,
audited, and changes nothing."""

from __future__ import annotations

from pathlib import Path

from bot.fakeslack import RunningFakeSlack
from bot.runai import models
from bot.slack.ids import Action
from tests.access.harness import CHANNEL, error_text, guarded_bot, mutations
from tests.conftest import RunningEmulator
from tests.e2e.test_quiet_why_history_inputs import buttons

pytest_plugins = ["tests.fakes.fixtures"]

POLICY = f"""
channels:
  {CHANNEL}: [team-a]
projects:
  team-a:
    create: ["*"]
    scale: ["*"]
    update: [UBOSS]
  team-b:
    create: ["*"]
"""


async def test_why_and_rollback_buttons_follow_the_policy(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with guarded_bot(emulator, fake_slack, tmp_path, POLICY) as g:
        elsewhere = await g.bot.create("in-b", project_id="2")
        here = await g.bot.create("in-a", project_id="1", image="vllm/vllm-openai:v0.6.0")
        message = await buttons(g.bot, Action.WHY, Action.ROLLBACK)

        # Why? on a workload of a project this channel does not act on: refused.
        await g.bot.driver.click(message, Action.WHY, value=elsewhere.workload_id)
        denied = await g.bot.reply_with("Not allowed")
        assert f"channels.{CHANNEL}" in error_text(denied)
        assert g.fake.thread_replies(CHANNEL, message.ts) == []

        # Roll back needs the update right: asking shows what would change, the PATCH
        # itself is refused for a user without it.
        [first] = await g.bot.runai.inference_revisions(here.workload_id)
        await g.bot.runai.update_inference(
            here.workload_id,
            models.InferenceUpdateRequest(spec=models.InferenceUpdateSpec(image="vllm/x:v2")),
        )
        before = mutations(emulator)
        await g.bot.driver.click(message, Action.ROLLBACK, value=first.id)
        ask = await g.bot.reply_with("This will change")
        await g.bot.driver.click(ask, Action.CONFIRM_ROLLBACK)
        refused = await g.bot.reply(lambda m: m is not denied and "Not allowed" in m.text)
        assert "update" in error_text(refused)
        assert mutations(emulator) == before
        entry = await g.wait_entry("denied", "update")
        assert entry.workload_id == here.workload_id
