"""Idle endpoints end to end: the real app with access control, the watch room, the
emulator and the fake Slack. An endpoint whose traffic is set to 0 gets ONE nudge after
IDLE_AFTER=30s (the emulator's clock moves, not the test's), a member without the scale
right is refused privately and audited, Keep silences it, Scale to zero PATCHes min 0, and
stale or tampered buttons change nothing. The idle check runs as the leader's scheduled
job."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.audit import auto_scaled_row
from bot.fakeslack import MessageRecord, RunningFakeSlack
from bot.runai import models
from bot.slack.care_desk import CARE_OFF, CareDesk
from bot.slack.idle_buttons import NOT_A_WORKLOAD, OUT_OF_DATE
from bot.slack.ids import Action
from bot.watch.care.idle_check import IdleCheck, schedule_idle_check
from tests.access.harness import CHANNEL, USER, GuardedBot, guarded_bot, mutations
from tests.conftest import EmulatorFactory, RunningEmulator
from tests.e2e.care_harness import gpu_endpoint

pytest_plugins = ["tests.fakes.fixtures"]

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
VIEWER = "U0VIEWER"  # a member of the channel with no scale right
POLICY = f"""
channels:
  {CHANNEL}: [team-a]
projects:
  team-a:
    scale: [{USER}]
    delete: [{USER}]
"""


@dataclass
class Scene:
    g: GuardedBot
    emu: RunningEmulator
    workload_id: str
    parent_ts: str
    check: IdleCheck

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.emu.state.now(), UTC)

    def nudges(self) -> list[MessageRecord]:
        return [
            m
            for m in self.g.fake.messages
            if m.thread_ts == self.parent_ts and "served no requests" in m.text
        ]

    async def nudge(self) -> MessageRecord:
        def found() -> MessageRecord | None:
            return self.nudges()[0] if self.nudges() else None

        return await self.g.fake.wait_for(found, timeout=15)

    async def private(self, user: str, text: str) -> MessageRecord:
        def found() -> MessageRecord | None:
            for m in self.g.fake.messages:
                if m.ephemeral_to == user and (text in m.text or text in str(m.blocks)):
                    return m
            return None

        return await self.g.fake.wait_for(found, timeout=10)

    async def thread_note(self, text: str) -> MessageRecord:
        def found() -> MessageRecord | None:
            for m in self.g.fake.messages:
                if m.thread_ts == self.parent_ts and text in str(m.blocks):
                    return m
            return None

        return await self.g.fake.wait_for(found, timeout=10)


@contextlib.asynccontextmanager
async def scene(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> AsyncIterator[Scene]:
    async with (
        emulator_factory(phase_seconds=0.1) as emu,
        guarded_bot(emu, fake_slack, tmp_path, POLICY, real_watch=True) as g,
    ):
        assert g.runtime is not None
        created = await g.bot.runai.create_inference(
            gpu_endpoint(
                autoscaling=models.AutoScaling(
                    min_replicas=1, max_replicas=2, metric="concurrency", metric_threshold=4
                )
            )
        )
        assert created.workload_id is not None
        emu.state.clock.advance(60)  # Running
        workload = await g.bot.runai.get_workload(created.workload_id)
        ts = await g.runtime.watcher.watch(workload, channel=CHANNEL, user=USER, reason="watch")
        g.bot.deps.care = CareDesk(g.runtime.store, g.audit, wake=g.runtime.notifier.wake)
        s = Scene(
            g,
            emu,
            created.workload_id,
            ts,
            IdleCheck(
                g.runtime.store,
                g.bot.runai,
                idle_after=timedelta(seconds=30),
                policy=g.access.gate.policy,
                audit_row=auto_scaled_row,
                clock=lambda: datetime.fromtimestamp(emu.state.now(), UTC),
                wake=g.runtime.notifier.wake,
            ),
        )
        schedule_idle_check(g.runtime, s.check, 0.2)
        yield s


async def test_idle_endpoint_one_nudge_refusal_keep_scale_to_zero(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with scene(emulator_factory, fake_slack, tmp_path) as s:
        s.emu.state.set_traffic(s.workload_id, {"requestsPerSecond": 0, "gpuUtilization": 0})
        s.emu.state.clock.advance(31)
        nudge = await s.nudge()
        assert nudge.reply_broadcast
        assert "my-qwen served no requests in the last 30 s while holding 2 GPUs" in nudge.text
        # Checks go on (the leader's job and these): the episode is nudged once.
        for _ in range(3):
            s.emu.state.clock.advance(31)
            assert (await s.check.run()).nudged == ()
        assert len(s.nudges()) == 1

        # A member without the scale right: refused privately, audited, nothing PATCHed.
        patches = mutations(s.emu)
        await s.g.bot.driver.click(nudge, Action.IDLE_SCALE_TO_ZERO.value, user=VIEWER)
        refusal = await s.private(VIEWER, "Not allowed")
        assert refusal.ephemeral_to == VIEWER
        denied = await s.g.wait_entry("denied", "scale")
        assert denied.user_id == VIEWER
        assert mutations(s.emu) == patches

        # Tampered and stale values: a clear message, nothing changed.
        await s.g.bot.driver.click(nudge, Action.IDLE_KEEP.value, value="../../etc", user=USER)
        await s.private(USER, NOT_A_WORKLOAD.split(";")[0])
        await s.g.bot.driver.click(nudge, Action.IDLE_KEEP.value, value=UNKNOWN_ID, user=USER)
        await s.private(USER, OUT_OF_DATE.split(":")[0])
        assert await s.g.runtime.store.idle_kept_until(s.workload_id) is None

        # Keep: silenced for 7 days, audited, noted in the thread.
        await s.g.bot.driver.click(nudge, Action.IDLE_KEEP.value, user=USER)
        await s.private(USER, "no idle nudge until")
        kept = await s.g.runtime.store.idle_kept_until(s.workload_id)
        assert kept is not None and kept > datetime.now(UTC) + timedelta(days=6)
        assert (await s.g.wait_entry("ok", "keep-idle")).user_id == USER
        await s.thread_note("kept my-qwen for 7 days")

        # Scale to zero, as the presser: min 0, max kept.
        await s.g.bot.driver.click(nudge, Action.IDLE_SCALE_TO_ZERO.value, user=USER)
        await s.private(USER, "Scaled my-qwen to zero")
        auto = (await s.g.bot.runai.get_inference(s.workload_id)).spec.autoscaling  # type: ignore[union-attr]
        assert auto is not None and (auto.min_replicas, auto.max_replicas) == (0, 2)
        assert (await s.g.wait_entry("ok", "scale")).user_id == USER
        await s.thread_note("scaled my-qwen to zero from the idle nudge")


async def test_keep_silences_the_next_idle_spell(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with scene(emulator_factory, fake_slack, tmp_path) as s:
        s.emu.state.set_traffic(s.workload_id, {"requestsPerSecond": 0, "gpuUtilization": 0})
        s.emu.state.clock.advance(31)
        nudge = await s.nudge()
        await s.g.bot.driver.click(nudge, Action.IDLE_KEEP.value, user=USER)
        await s.private(USER, "no idle nudge until")
        # It serves again (the episode ends), then idles again: kept, so no nudge.
        s.emu.state.set_traffic(s.workload_id, {"requestsPerSecond": 5, "gpuUtilization": 50})
        s.emu.state.clock.advance(5)
        report = await s.check.run()
        assert (
            report.ended == (s.workload_id,)
            or await s.g.runtime.store.idle_episode(s.workload_id) is None
        )
        s.emu.state.set_traffic(s.workload_id, {"requestsPerSecond": 0, "gpuUtilization": 0})
        s.emu.state.clock.advance(120)
        assert (await s.check.run()).nudged == ()
        assert len(s.nudges()) == 1


async def test_delete_opens_the_usual_confirmation_for_the_presser(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with scene(emulator_factory, fake_slack, tmp_path) as s:
        s.emu.state.set_traffic(s.workload_id, {"requestsPerSecond": 0, "gpuUtilization": 0})
        s.emu.state.clock.advance(31)
        nudge = await s.nudge()
        await s.g.bot.driver.click(nudge, Action.IDLE_DELETE.value, user=VIEWER)
        await s.private(VIEWER, "Not allowed")
        await s.g.bot.driver.click(nudge, Action.IDLE_DELETE.value, user=USER)
        confirm = await s.private(USER, Action.CONFIRM_DELETE.value)
        assert "my-qwen" in str(confirm.blocks)
        assert (await s.g.wait_entry("ok", "idle-delete")).user_id == USER
        assert s.workload_id in {w.id for w in (await s.g.bot.runai.list_workloads()).workloads}


async def test_every_button_refuses_tampered_and_stale_values(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with scene(emulator_factory, fake_slack, tmp_path) as s:
        s.emu.state.set_traffic(s.workload_id, {"requestsPerSecond": 0, "gpuUtilization": 0})
        s.emu.state.clock.advance(31)
        nudge = await s.nudge()
        patches = mutations(s.emu)
        buttons = (Action.IDLE_SCALE_TO_ZERO, Action.IDLE_DELETE, Action.IDLE_KEEP)
        for button in buttons:
            for value, words in (
                ("", NOT_A_WORKLOAD),
                ("my-qwen; drop table", NOT_A_WORKLOAD),
                (UNKNOWN_ID, OUT_OF_DATE),
            ):
                before = len(s.g.fake.messages)
                await s.g.bot.driver.click(nudge, button.value, value=value or " ", user=USER)

                def told(before: int = before, words: str = words) -> bool:
                    return any(
                        m.ephemeral_to == USER and words in m.text
                        for m in s.g.fake.messages[before:]
                    )

                await s.g.fake.wait_for(told, timeout=10)
        # The episode ends (its GPUs are busy again): the old nudge's buttons are stale.
        s.emu.state.set_traffic(s.workload_id, {"requestsPerSecond": 5, "gpuUtilization": 50})
        s.emu.state.clock.advance(5)
        assert (await s.check.run()).ended == (s.workload_id,)
        for button in buttons:
            before = len(s.g.fake.messages)
            await s.g.bot.driver.click(nudge, button.value, user=USER)
            await s.g.fake.wait_for(
                lambda before=before: any(
                    m.ephemeral_to == USER and OUT_OF_DATE in m.text
                    for m in s.g.fake.messages[before:]
                ),
                timeout=10,
            )
        assert mutations(s.emu) == patches
        assert await s.g.runtime.store.idle_kept_until(s.workload_id) is None
        assert [e for e in await s.g.entries() if e.action in ("keep-idle", "idle-delete")] == []


async def test_buttons_without_the_care_desk_say_so(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with scene(emulator_factory, fake_slack, tmp_path) as s:
        s.emu.state.set_traffic(s.workload_id, {"requestsPerSecond": 0, "gpuUtilization": 0})
        s.emu.state.clock.advance(31)
        nudge = await s.nudge()
        s.g.bot.deps.care = None
        await s.g.bot.driver.click(nudge, Action.IDLE_KEEP.value, user=USER)
        await s.private(USER, CARE_OFF)
        assert await s.g.runtime.store.idle_kept_until(s.workload_id) is None
