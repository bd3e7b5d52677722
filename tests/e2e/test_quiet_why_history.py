"""Quieter threads, Why? and history, driven as a user would: the real app with access
control and the real watch room (SQLite), against the emulator (its phase and clock
controls) and the fake Slack."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bot.fakeslack import MessageRecord, RunningFakeSlack
from tests.access.harness import CHANNEL, GuardedBot, guarded_bot, mutations
from tests.conftest import EmulatorFactory

pytest_plugins = ["tests.fakes.fixtures"]
pytestmark = pytest.mark.slow


def parent_of(g: GuardedBot, name: str) -> Callable[[], MessageRecord | None]:
    def find() -> MessageRecord | None:
        for m in g.fake.channel_messages(CHANNEL):
            if name in m.text and m.ephemeral_to is None and not m.thread_ts:
                return m
        return None

    return find


def replies(g: GuardedBot, ts: str) -> list[MessageRecord]:
    return list(g.fake.thread_replies(CHANNEL, ts))


def reply_with(g: GuardedBot, ts: str, needle: str) -> Callable[[], MessageRecord | None]:
    def find() -> MessageRecord | None:
        for m in replies(g, ts):
            if needle in m.text or needle in str(m.blocks):
                return m
        return None

    return find


def parent_shows(g: GuardedBot, ts: str, phase: str) -> Callable[[], bool | None]:
    def check() -> bool | None:
        p = g.fake.find_message(CHANNEL, ts)
        return (p is not None and f"is {phase}" in p.text) or None

    return check


async def force(emu_url: str, workload_id: str, phase: str, message: str | None = None) -> None:
    body: dict[str, str] = {"phase": phase}
    if message is not None:
        body["message"] = message
    async with httpx.AsyncClient(base_url=emu_url) as http:
        r = await http.post(f"/emulator/workloads/{workload_id}/phase", json=body)
        assert r.status_code == 200, r.text


async def running(g: GuardedBot, name: str) -> str:
    """Create `name` through the API and wait until Run:ai says Running; its id."""
    created = await g.bot.create(name)
    for _ in range(300):
        workload = await g.bot.runai.get_workload(created.workload_id)
        if str(workload.phase) == "Running":
            return created.workload_id
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never ran")


async def test_only_failed_then_mute_unmute_then_why(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with (
        emulator_factory(phase_seconds=0.3) as emu,
        guarded_bot(emu, fake_slack, tmp_path, real_watch=True) as g,
    ):
        fake = g.fake
        wid = await running(g, "q-only")
        await force(emu.url, wid, "Initializing")  # so that Running is a change to come
        await g.bot.driver.command("/inference", "watch q-only --only failed")
        await g.bot.reply_with("hears only failed")
        ts = (await fake.wait_for(parent_of(g, "q-only"), timeout=10)).ts

        # Running is not followed: the parent shows it, the thread says nothing.
        await force(emu.url, wid, "Running")
        await fake.wait_for(parent_shows(g, ts, "Running"), timeout=15)
        await force(emu.url, wid, "Failed", "CUDA out of memory <!channel> & <@U999>")
        failed = await fake.wait_for(reply_with(g, ts, "Running → Failed"), timeout=15)
        assert failed.reply_broadcast
        assert not [m for m in replies(g, ts) if m.text.rstrip().endswith("Running")]
        assert len(replies(g, ts)) == 1

        # The Why? button of the Failed reply answers in the thread, message escaped.
        why_id = "inference_why"
        await g.bot.driver.click(failed, why_id)
        why = await fake.wait_for(reply_with(g, ts, "Latest events"), timeout=15)
        body = str(why.blocks)
        assert "Failed" in why.text
        assert "CUDA out of memory &lt;!channel&gt; &amp; &lt;@U999&gt;" in body
        assert "<!channel>" not in body and "Warning" in body

        # `why` typed: the same answer, to the asker.
        await g.bot.driver.command("/inference", "why q-only")
        typed = await g.bot.reply_with("Latest events", wait=15)
        assert "CUDA out of memory &lt;!channel&gt;" in str(typed.blocks)
        assert "*Pods*" in str(typed.blocks) and "*Phase changes*" in str(typed.blocks)

        # Watching again resets: every phase; then a mute silences the thread.
        await g.bot.driver.command("/inference", "watch q-only")
        await g.bot.reply_with("phase changes go to its thread")
        await g.bot.driver.command("/inference", "mute q-only for 2h")
        muted = await g.bot.reply_with("Muted q-only")
        assert "alerts are held" in muted.text or "alerts are held" in str(muted.blocks)
        before = len(replies(g, ts))
        await force(emu.url, wid, "Degraded")
        await fake.wait_for(parent_shows(g, ts, "Degraded"), timeout=15)
        await force(emu.url, wid, "Running")
        await fake.wait_for(parent_shows(g, ts, "Running"), timeout=15)
        assert len(replies(g, ts)) == before

        # Unmuted: the next change is told again.
        await g.bot.driver.command("/inference", "unmute q-only")
        await g.bot.reply_with("Unmuted q-only")
        await force(emu.url, wid, "Degraded", "1 of 2 replicas ready")
        degraded = await fake.wait_for(reply_with(g, ts, "Running → Degraded"), timeout=15)
        assert len(replies(g, ts)) == before + 1
        assert any(
            e.get("action_id") == why_id
            for b in degraded.blocks
            for e in b.get("elements", [])
            if isinstance(e, dict)
        )
        actions = [e.action for e in await g.entries()]
        assert "mute" in actions and "unmute" in actions


async def test_flapping_one_summary_then_normal_after_quiet_minutes(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with (
        emulator_factory(phase_seconds=0.3) as emu,
        guarded_bot(emu, fake_slack, tmp_path, real_watch=True) as g,
    ):
        fake = g.fake
        wid = await running(g, "q-flap")
        await g.bot.driver.command("/inference", "watch q-flap")
        ts = (await fake.wait_for(parent_of(g, "q-flap"), timeout=10)).ts
        phases = ["Degraded", "Running"] * 5  # ten changes in well under 10 minutes
        for phase in phases:
            await force(emu.url, wid, phase)
            await fake.wait_for(parent_shows(g, ts, phase), timeout=15)
        # The seventh change posts the summary; the next three edit it (no new reply).
        summary = await fake.wait_for(reply_with(g, ts, "10 changes in 10 min"), timeout=15)
        assert "Running ↔ Degraded" in summary.text or "Degraded ↔ Running" in summary.text
        assert summary.edits and "7 changes in 10 min" in summary.edits[0]["text"]
        told = replies(g, ts)
        # Six changes told one by one, then the one summary, then nothing.
        assert len(told) == 7 and told[-1].ts == summary.ts
        assert len([m for m in told if "flapping" in m.text]) == 1

        # Ten quiet minutes later (the emulator's clock), a change is told as usual.
        async with httpx.AsyncClient(base_url=emu.url) as http:
            r = await http.post("/emulator/clock", json={"advanceSeconds": 11 * 60})
            assert r.status_code == 200
        await force(emu.url, wid, "Degraded")
        later = await fake.wait_for(lambda: replies(g, ts)[7:], timeout=15)
        assert [m.text for m in later] == ["q-flap: Running → Degraded"]
        # The summary's last edit says the spell is over.
        await fake.wait_for(reply_with(g, ts, "was flapping"), timeout=15)
        assert "10 changes in 10 min" in summary.text and len(replies(g, ts)) == 8


async def test_history_of_three_revisions_and_a_rollback_to_the_first_image(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    first, second, third = (f"vllm/vllm-openai:v0.{n}.0" for n in (6, 7, 8))
    async with (
        emulator_factory(phase_seconds=0.3) as emu,
        guarded_bot(emu, fake_slack, tmp_path, real_watch=True) as g,
    ):
        bot = g.bot
        created = await bot.create("q-hist", image=first)
        for image in (second, third):
            await bot.driver.command("/inference", "update q-hist")
            view = await bot.view("inference_update", lambda v: not v.closed)
            await bot.driver.submit_view(view, {"f_image": image})
            assert view.closed
            await g.wait_entry("ok", "update")

        await bot.driver.command("/inference", "history q-hist")
        card = await bot.reply_with("Revisions of", wait=15)
        sections = [b for b in card.blocks if b.get("type") == "section"][1:]
        assert len(sections) == 3
        texts = [b["text"]["text"] for b in sections]
        assert texts[0].startswith("*#3*") and "in force" in texts[0]
        assert third in texts[0] and "by <@U0001>" in texts[0]
        assert "by <@U0001>" in texts[1] and second in texts[1]
        assert "made outside Slack" in texts[2] and "created with" in texts[2]
        assert "accessory" not in sections[0] and "accessory" in sections[2]

        patches = mutations(emu)
        oldest = sections[2]["accessory"]["value"]
        await bot.driver.click(card, "inference_rollback", value=oldest)
        confirm = await bot.reply_with("Roll *q-hist* back", wait=15)
        assert f"`{third}` → `{first}`" in str(confirm.blocks)
        assert mutations(emu) == patches  # asking changes nothing

        await bot.driver.click(confirm, "inference_confirm_rollback")
        await bot.reply_with("Rolling q-hist back", wait=15)
        spec = (await bot.runai.get_inference(created.workload_id)).spec
        assert spec is not None and spec.image == first
        assert mutations(emu) == patches + 1
        # Audited as the update it is (the third one), by the user who confirmed it.
        updates = [e for e in await g.entries() if e.action == "update"]
        assert len(updates) == 3 and (updates[-1].outcome, updates[-1].user_id) == ("ok", "U0001")
        assert "image" in updates[-1].summary
