"""The whole thread story driven as a user would: the create modal, `/inference scale`,
`/inference delete` and `/inference unwatch` through the real Slack app, with the real
watch room (SQLite) behind it, against the emulator and the fake Slack."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.fakeslack import MessageRecord, RunningFakeSlack
from bot.runai import RunaiClient
from bot.slack.app import make_slack_client
from bot.slack.threads import thread_message
from bot.watch.runtime import WatchTuning, start_watch
from tests.conftest import EmulatorFactory
from tests.e2e.slack_harness import CHANNEL, CREATE_FORM, USER, running_bot

pytest_plugins = ["tests.fakes.fixtures"]

FORM = {**CREATE_FORM, "f_name": "qwen-thread"}


def reply_with(
    fake_slack: RunningFakeSlack, ts: str, needle: str
) -> Callable[[], MessageRecord | None]:
    def find() -> MessageRecord | None:
        for m in fake_slack.fake.thread_replies(CHANNEL, ts):
            if needle in m.text or needle in str(m.blocks):
                return m
        return None

    return find


def watch_settings(fake_slack: RunningFakeSlack, tmp_path: Path) -> Settings:
    """The bot's settings for these stories: the fake Slack, a SQLite watch room, 0.3 s polls."""
    return Settings(
        slack_bot_token="xoxb-e2e",
        slack_api_url=fake_slack.api_url,
        database_url=f"sqlite:///{tmp_path / 'watch.db'}",
        poll_interval_seconds=0.3,
    )


# Real watch-room pacing (poll interval, Retry-After, republish pace): seconds of waiting.
@pytest.mark.slow
async def test_modal_create_scale_fail_delete_story(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    fake = fake_slack.fake
    async with emulator_factory(phase_seconds=1.0) as emu:
        settings = watch_settings(fake_slack, tmp_path)
        async with RunaiClient(emu.url, emu.client_id, emu.client_secret) as runai:
            runtime = await start_watch(
                settings,
                runai,
                make_slack_client(settings),
                WatchTuning(lease_renew_every=0.5, channel_interval=0.1, fast_interval=0.3),
                render=thread_message,
            )
            try:
                async with running_bot(emu, fake_slack, watcher=runtime.watcher) as bot:
                    await bot.driver.command("/inference", "create")
                    view = await bot.view("inference_create")
                    await bot.driver.submit_view(view, FORM)
                    assert view.closed

                    def parent() -> MessageRecord | None:
                        for m in fake.channel_messages(CHANNEL):
                            if "qwen-thread" in m.text and m.ephemeral_to is None:
                                return m
                        return None

                    ts = (await fake.wait_for(parent, timeout=15)).ts
                    init = await fake.wait_for(
                        reply_with(fake_slack, ts, "→ Initializing"), timeout=15
                    )
                    assert f"create by <@{USER}>" in str(init.blocks)
                    ready = await fake.wait_for(reply_with(fake_slack, ts, "→ Running"), 15)
                    assert "ready in" in ready.text
                    await fake.wait_for(
                        lambda: (
                            "is Running" in (fake.find_message(CHANNEL, ts) or ready).text or None
                        ),
                        timeout=10,
                    )

                    # Scale from Slack: recorded in the thread, the update attributed.
                    await bot.driver.command("/inference", "scale qwen-thread 1 3")
                    await fake.wait_for(reply_with(fake_slack, ts, "*scale* by"), timeout=15)
                    updated = await fake.wait_for(
                        reply_with(fake_slack, ts, "Running → Updating"), timeout=15
                    )
                    assert f"scale by <@{USER}>" in str(updated.blocks)
                    await fake.wait_for(
                        reply_with(fake_slack, ts, "Updating → Running"), timeout=15
                    )

                    # Forced failure: broadcast, message escaped.
                    [workload] = await runai.find_inferences("qwen-thread")
                    async with httpx.AsyncClient(base_url=emu.url) as http:
                        r = await http.post(
                            f"/emulator/workloads/{workload.id}/phase",
                            json={"phase": "Failed", "message": "boom <!here> & <@U999>"},
                        )
                        assert r.status_code == 200
                    failed = await fake.wait_for(
                        reply_with(fake_slack, ts, "Running → Failed"), timeout=15
                    )
                    assert failed.reply_broadcast
                    assert "boom &lt;!here&gt; &amp; &lt;@U999&gt;" in str(failed.blocks)

                    # Delete from Slack: recorded, then the final reply; the watch ends.
                    await bot.driver.command("/inference", "delete qwen-thread")
                    confirm = await bot.reply_with("Delete *qwen-thread*")
                    await bot.driver.click(confirm, confirm.blocks[1]["elements"][0]["action_id"])
                    final = await fake.wait_for(reply_with(fake_slack, ts, "→ Deleted"), timeout=20)
                    assert "watch has ended" in str(final.blocks)
                    assert await runtime.watcher.watched_in(CHANNEL) == set()

                    texts = [m.text for m in fake.thread_replies(CHANNEL, ts)]
                    assert len(texts) == len(set(texts)), texts
            finally:
                await runtime.stop()


async def test_watch_then_unwatch_from_slack(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    fake = fake_slack.fake
    async with emulator_factory(phase_seconds=0.2) as emu:
        settings = watch_settings(fake_slack, tmp_path)
        emu.state.seed_workloads(1, name_prefix="followed")
        async with RunaiClient(emu.url, emu.client_id, emu.client_secret) as runai:
            runtime = await start_watch(
                settings, runai, make_slack_client(settings),
                WatchTuning(lease_renew_every=0.5, channel_interval=0.1),
                render=thread_message,
            )  # fmt: skip
            try:
                async with running_bot(emu, fake_slack, watcher=runtime.watcher) as bot:
                    await bot.driver.command("/inference", "watch followed-0")

                    def parent() -> MessageRecord | None:
                        for m in fake.channel_messages(CHANNEL):
                            if "followed-0" in m.text and "is Running" in m.text:
                                return m
                        return None

                    ts = (await fake.wait_for(parent, timeout=15)).ts
                    await fake.wait_for(
                        lambda: [m for m in fake.messages if "Following followed-0" in m.text],
                        timeout=15,
                    )
                    await bot.driver.command("/inference", "unwatch followed-0")
                    bye = await fake.wait_for(
                        reply_with(fake_slack, ts, "stopped watching"), timeout=15
                    )
                    assert f"<@{USER}>" in str(bye.blocks)
                    await fake.wait_for(
                        lambda: (
                            "No longer watched"
                            in str((fake.find_message(CHANNEL, ts) or bye).blocks)
                            or None
                        ),
                        timeout=10,
                    )
                    assert await runtime.watcher.watched_in(CHANNEL) == set()
            finally:
                await runtime.stop()
