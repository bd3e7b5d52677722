"""Alerts end to end: the real app (access control, the alert desk) over the emulator's
traffic control and the fake Slack, the real watch room, and the evaluation loop driven
on the emulator's clock (no test waits minutes: `evaluate_once` runs at the clock's now).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bot.access.alerts import start_alerts
from bot.fakeslack import MessageRecord, RunningFakeSlack
from bot.runai import RunaiClient, models
from bot.watch.alert_loop import AlertLoop
from bot.watch.runtime import WatchRuntime
from tests.access.harness import GuardedBot, guarded_bot
from tests.conftest import EmulatorFactory, RunningEmulator
from tests.e2e.slack_harness import CHANNEL, USER

pytest_plugins = ["tests.fakes.fixtures"]


@dataclass
class AlertBot:
    """The guarded bot with its watch room, the alert loop and the emulator."""

    guarded: GuardedBot
    runtime: WatchRuntime
    loop: AlertLoop
    emu: RunningEmulator
    runai: RunaiClient

    def now(self) -> datetime:
        """The emulator's clock: the loop's and the desk's."""
        return datetime.fromtimestamp(self.emu.state.clock.now(), UTC)


@contextlib.asynccontextmanager
async def alert_bot(
    emulator_factory: EmulatorFactory,
    fake_slack: RunningFakeSlack,
    tmp_path: Path,
    policy: str | None = None,
) -> AsyncIterator[AlertBot]:
    """The guarded bot (real watch room) with the alert desk and loop wired as the
    service wires them, on the emulator's clock."""
    async with (
        emulator_factory(phase_seconds=0.2) as emu,
        guarded_bot(emu, fake_slack, tmp_path, policy, real_watch=True) as guarded,
        RunaiClient(emu.url, emu.client_id, emu.client_secret) as runai,
    ):
        runtime = guarded.runtime
        assert runtime is not None

        def clock() -> datetime:
            return datetime.fromtimestamp(emu.state.clock.now(), UTC)

        alerting = start_alerts(
            runtime.store,
            runtime.leadership,
            runai,
            guarded.access.runai,
            guarded.access.gate,
            runtime.notifier.slack,
            interval=60,
            stuck_after=timedelta(minutes=15),
            posted=runtime.notifier.wake,
            clock=clock,
        )
        guarded.access.alerts = alerting.desk
        yield AlertBot(guarded, runtime, alerting.loop, emu, runai)


async def running(bot: AlertBot, name: str) -> str:
    """A Running inference (test setup)."""
    created = await bot.guarded.bot.create(name)
    wid = created.workload_id

    async def is_running() -> bool:
        return (await bot.runai.get_workload(wid)).phase == models.Phase.RUNNING

    for _ in range(200):
        if await is_running():
            return wid
        await _pause()
    raise AssertionError(f"{name} never ran")


async def _pause() -> None:
    import asyncio

    await asyncio.sleep(0.05)


def thread_of(bot: AlertBot, wid: str) -> str | None:
    """The parent ts of the workload's thread in the test channel, once posted."""
    parents = [
        m
        for m in bot.guarded.fake.messages
        if m.channel == CHANNEL and m.thread_ts is None and wid in str(m.blocks)
    ]
    return parents[0].ts if parents else None


def in_thread(bot: AlertBot, ts: str, text: str) -> list[MessageRecord]:
    """Replies of the thread whose text holds `text`."""
    return [m for m in bot.guarded.fake.thread_replies(CHANNEL, ts) if text in m.all_text()]


async def test_a_latency_rule_fires_once_is_snoozed_and_resolves_once(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with alert_bot(emulator_factory, fake_slack, tmp_path) as bot:
        fake = bot.guarded.fake
        driver = bot.guarded.bot.driver
        wid = await running(bot, "slow-qwen")
        # Slack sends `>` as `&gt;`; the workload is not followed here yet.
        await driver.command("/inference", "alert slow-qwen latency &gt; 500 for 5m")
        said = await bot.guarded.bot.reply_with("latency above 500 ms for 5 min", wait=15)
        assert "Following it here now" in said.text or "Following it here now" in str(said.blocks)
        ts = await fake.wait_for(lambda: thread_of(bot, wid), timeout=10)
        [(rule, _)] = await bot.runtime.store.list_alert_rules(channel=CHANNEL)
        assert (rule.metric, rule.op, rule.value, rule.for_seconds) == ("latency", ">", 500, 300)
        entries = [e for e in await bot.guarded.entries() if e.action == "alert"]
        assert entries and entries[0].user_id == USER

        bot.emu.state.clock.advance(600)  # ten calm minutes
        assert (await bot.loop.evaluate_once()).fired == 0
        bot.emu.state.set_traffic(wid, {"latencyMs": 900})
        bot.emu.state.clock.advance(120)
        stats = await bot.loop.evaluate_once()
        assert stats.fired == 0 and stats.metrics_calls == 1  # pending: not for 5 min yet
        bot.emu.state.clock.advance(240)
        assert (await bot.loop.evaluate_once()).fired == 1
        fired = await fake.wait_for(lambda: in_thread(bot, ts, ":rotating_light:"), timeout=15)
        assert len(fired) == 1 and fired[0].reply_broadcast
        body = fired[0].all_text()
        assert "latency above 500 ms for 5 min" in body and "since" in body.lower()
        images = [b for b in fired[0].blocks if b.get("type") == "image"]
        assert images and images[0]["slack_file"]["id"] in fake.files  # the window's chart
        # Later evaluations while it keeps firing say nothing more.
        bot.emu.state.clock.advance(60)
        assert (await bot.loop.evaluate_once()).fired == 0

        await driver.click(fired[0], "inference_alert_snooze_1h")
        await bot.guarded.bot.reply_with("Snoozed alert", wait=15)
        await fake.wait_for(lambda: in_thread(bot, ts, "snoozed until"), timeout=15)
        state = await bot.runtime.store.alert_state_of(rule.id)
        assert state is not None and state.snoozed_until is not None
        assert state.snoozed_by == USER
        assert [e for e in await bot.guarded.entries() if e.action == "snooze"]

        bot.emu.state.set_traffic(wid, {"latencyMs": 100})
        bot.emu.state.clock.advance(60)
        assert (await bot.loop.evaluate_once()).resolved == 1
        assert (await bot.loop.evaluate_once()).resolved == 0
        resolved = await fake.wait_for(lambda: in_thread(bot, ts, "resolved"), timeout=15)
        assert len(resolved) == 1 and not resolved[0].reply_broadcast
        assert len(in_thread(bot, ts, ":rotating_light:")) == 1

        # The list shows the rule with its Remove button; Remove takes it away.
        await driver.command("/inference", "alerts")
        listed = await bot.guarded.bot.reply_with("1 alert rule", wait=15)
        assert rule.id in listed.all_text() and "snoozed until" in listed.all_text()
        await driver.click(listed, "inference_alert_remove")
        await bot.guarded.bot.reply_with(f"Removed alert {rule.id}", wait=15)
        assert await bot.runtime.store.list_alert_rules(channel=CHANNEL) == []


async def test_a_workload_stuck_in_pending_gets_one_reply(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with alert_bot(emulator_factory, fake_slack, tmp_path) as bot:
        fake = bot.guarded.fake
        wid = await running(bot, "stuck-qwen")
        await bot.guarded.bot.driver.command("/inference", "watch stuck-qwen")
        ts = await fake.wait_for(lambda: thread_of(bot, wid), timeout=10)
        async with httpx.AsyncClient(base_url=bot.emu.url) as http:
            forced = await http.post(f"/emulator/workloads/{wid}/phase", json={"phase": "Pending"})
            assert forced.status_code == 200

        async def known_pending() -> bool:
            watch = await bot.runtime.store.get_watch(wid, CHANNEL)
            return watch is not None and watch.last_phase == "Pending"

        for _ in range(200):
            if await known_pending():
                break
            await _pause()
        assert await known_pending()
        bot.emu.state.clock.advance(14 * 60)
        assert (await bot.loop.evaluate_once()).stuck == 0
        bot.emu.state.clock.advance(2 * 60)
        assert (await bot.loop.evaluate_once()).stuck == 1
        assert (await bot.loop.evaluate_once()).stuck == 0
        stuck = await fake.wait_for(lambda: in_thread(bot, ts, "has been Pending"), timeout=15)
        assert len(stuck) == 1
        assert any(e.get("action_id") == "inference_why" for e in _elements(stuck[0]))
        # No rule was needed, and no metrics were asked for.
        assert await bot.runtime.store.list_alert_rules() == []


def _elements(message: MessageRecord) -> list[dict[str, object]]:
    return [e for b in message.blocks for e in b.get("elements", []) if isinstance(e, dict)]
