"""The daily digest end to end: `/inference digest` over the real app (access control,
watch room, emulator, fake Slack); the daily post once per channel and day whoever ticks,
on the emulator's clock; bad input says so and stores nothing."""

from __future__ import annotations

import asyncio
import contextlib
import zoneinfo
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bot.fakeslack import MessageRecord, RunningFakeSlack
from bot.slack.care_desk import CareDesk
from bot.slack.commands.digest import NOT_IN_A_CHANNEL
from bot.slack.threads import thread_message
from bot.watch.care.digest_job import DigestJob
from tests.access.harness import CHANNEL, USER, GuardedBot, guarded_bot
from tests.conftest import EmulatorFactory, RunningEmulator
from tests.e2e.care_harness import gpu_endpoint

pytest_plugins = ["tests.fakes.fixtures"]


@dataclass
class Scene:
    g: GuardedBot
    emu: RunningEmulator
    job: DigestJob
    ids: dict[str, str]

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.emu.state.now(), UTC)

    def digests(self) -> list[MessageRecord]:
        return [
            m
            for m in self.g.fake.messages
            if m.channel == CHANNEL
            and m.thread_ts is None
            and m.ephemeral_to is None
            and m.text.startswith("Daily digest")
        ]

    async def delivered(self, count: int) -> None:
        """Wait until `count` daily digests are in the channel, then a moment for a
        double to show."""
        await self.g.fake.wait_for(lambda: len(self.digests()) >= count or None, timeout=10)
        await asyncio.sleep(0.3)
        assert len(self.digests()) == count

    async def private(self, text: str) -> MessageRecord:
        def found() -> MessageRecord | None:
            for m in self.g.fake.messages:
                if m.ephemeral_to == USER and (text in m.text or text in str(m.blocks)):
                    return m
            return None

        return await self.g.fake.wait_for(found, timeout=10)


async def _create(g: GuardedBot, name: str, gpus: int) -> str:
    created = await g.bot.runai.create_inference(gpu_endpoint(name, gpus=gpus))
    assert created.workload_id is not None
    return created.workload_id


@contextlib.asynccontextmanager
async def scene(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> AsyncIterator[Scene]:
    async with (
        emulator_factory(phase_seconds=0.1) as emu,
        guarded_bot(emu, fake_slack, tmp_path, real_watch=True) as g,
    ):
        assert g.runtime is not None
        ids = {name: await _create(g, name, gpus) for name, gpus in (("my-qwen", 2), ("llama", 1))}
        ids["not-followed"] = await _create(g, "not-followed", 4)
        # my-qwen never served a request: idle (its GPUs too) since it was created.
        emu.state.set_traffic(ids["my-qwen"], {"requestsPerSecond": 0, "gpuUtilization": 0})
        emu.state.set_traffic(ids["llama"], {"requestsPerSecond": 2, "latencyMs": 250})
        emu.state.clock.advance(3600)  # Running for an hour
        for name in ("my-qwen", "llama"):
            workload = await g.bot.runai.get_workload(ids[name])
            await g.runtime.watcher.watch(workload, channel=CHANNEL, user=USER, reason="watch")
        emu.state.clock.advance(3600)

        def clock() -> datetime:
            return datetime.fromtimestamp(emu.state.now(), UTC)

        job = DigestJob(
            g.runtime.store,
            g.bot.runai,
            g.bot.deps.slack,
            render=thread_message,
            holder="replica-a",
            price=Decimal("2.50"),
            clock=clock,
            wake=g.runtime.notifier.wake,
        )
        g.bot.deps.care = CareDesk(g.runtime.store, g.audit, digests=job, clock=clock)
        yield Scene(g, emu, job, ids)


async def test_digest_now_lists_what_the_channel_follows(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with scene(emulator_factory, fake_slack, tmp_path) as s:
        await s.g.bot.driver.command(text="digest now", user=USER, channel=CHANNEL)
        await s.private("Digest posted")
        (digest,) = s.digests()
        body = str(digest.blocks)
        assert "my-qwen" in body and "llama" in body and "not-followed" not in body
        assert "2 workloads · 1 idle · 3 GPUs now" in digest.text
        assert "6 GPU-hours in 24 h (15.00 USD)" in digest.text  # 3 GPUs for 2 hours
        lines = {line.split("*")[1]: line for line in body.split("\\n") if "* (" in line}
        assert "*idle*" in lines["my-qwen"] and "0 requests" in lines["my-qwen"]
        assert "p95 2" in lines["llama"] and "*idle*" not in lines["llama"]
        assert "GPU-hours in the last 24 h by project" in body


async def test_the_daily_digest_posts_once_a_day_whoever_ticks(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with scene(emulator_factory, fake_slack, tmp_path) as s:
        local = s.now().astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))
        at = (local + timedelta(minutes=10)).strftime("%H:%M")
        await s.g.bot.driver.command(text=f"digest {at}", user=USER, channel=CHANNEL)
        await s.private(f"Daily digest here at {at} (Europe/Berlin)")  # the user's Slack tz
        setting = await s.g.runtime.store.get_digest(CHANNEL)
        assert setting is not None and setting.tz == "Europe/Berlin" and setting.at_time == at
        assert await s.job.tick() == []  # not yet
        s.emu.state.clock.advance(11 * 60)
        other = DigestJob(
            s.g.runtime.store,
            s.g.bot.runai,
            s.g.bot.deps.slack,
            render=thread_message,
            holder="replica-b",
            clock=s.job.clock,
        )
        assert await s.job.tick() == [CHANNEL]  # queued; the outbox delivers it
        assert await other.tick() == [] and await s.job.tick() == []
        await s.delivered(1)
        s.emu.state.clock.advance(86400)  # the next day: once more
        assert await other.tick() == [CHANNEL] and await s.job.tick() == []
        await s.delivered(2)
        (first, second) = s.digests()
        assert "my-qwen" in str(first.blocks) and "Daily digest" in second.text
        items = [i for i in await s.g.runtime.store.all_items() if i.kind == "care_digest"]
        assert [i.state for i in items] == ["delivered", "delivered"]

        await s.g.bot.driver.command(text="digest off", user=USER, channel=CHANNEL)
        await s.private("Daily digest turned off here.")
        s.emu.state.clock.advance(86400)
        assert await s.job.tick() == []
        await s.g.bot.driver.command(text="digest off", user=USER, channel=CHANNEL)
        await s.private("This channel had no daily digest.")


async def test_bad_digest_input_says_so_and_stores_nothing(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with scene(emulator_factory, fake_slack, tmp_path) as s:
        cases = [
            ("digest", "needs a time"),
            ("digest 25:00", "24-hour HH:MM"),
            ("digest 9am", "24-hour HH:MM"),
            ("digest 09:00 --tz Mars/Olympus", "Mars/Olympus"),
            ("digest now please", "digest"),
        ]
        for text, words in cases:
            await s.g.bot.driver.command(text=text, user=USER, channel=CHANNEL)
            await s.private(words)
        await s.g.bot.driver.command(text="digest 09:00", user=USER, channel="D0DIRECT")
        await s.private(NOT_IN_A_CHANNEL)
        assert await s.g.runtime.store.get_digest(CHANNEL) is None
        assert await s.g.runtime.store.get_digest("D0DIRECT") is None
        assert s.digests() == []
