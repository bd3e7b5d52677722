"""Repeats and forgeries: a Slack retry of the same command, a double-submitted modal and
a bad or stale signature each change nothing twice (or at all); denials reach threads."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlencode

from bot.fakeslack import RunningFakeSlack
from tests.access.harness import (
    CHANNEL,
    FORM,
    FORM_TYPE,
    USER,
    GuardedBot,
    guarded_bot,
    mutations,
    submission,
)
from tests.conftest import EmulatorFactory, RunningEmulator

pytest_plugins = ["tests.fakes.fixtures"]

POLICY = f"""
projects:
  team-a: {{create: [{USER}], scale: [{USER}], delete: [UBOSS]}}
"""


def command_body(g: GuardedBot, text: str) -> bytes:
    """One slash command body exactly as Slack sends it (and sends it again on a retry)."""
    fake = g.fake
    form = {
        "token": "fake-verification-token",
        "team_id": "T0001",
        "team_domain": "fake",
        "channel_id": CHANNEL,
        "channel_name": "general",
        "user_id": USER,
        "user_name": "user",
        "command": "/inference",
        "text": text,
        "api_app_id": "A0001",
        "is_enterprise_install": "false",
        "response_url": fake.issue_response_url(CHANNEL, USER),
        "trigger_id": fake.issue_trigger(USER, CHANNEL),
    }
    return urlencode(form).encode()


async def test_slack_retry_of_a_command_acts_once(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with guarded_bot(emulator, fake_slack, tmp_path, POLICY) as g:
        await g.bot.create("retried", project_id="1")
        before = mutations(emulator)
        body = command_body(g, "scale retried 2 2")
        form = "application/x-www-form-urlencoded"
        first = await g.bot.driver.post(body, form)
        retries = [
            await g.bot.driver.post(body, form, retry_num=n, retry_reason="http_timeout")
            for n in (1, 2, 3)
        ]
        assert first.status_code == 200 and all(r.status_code == 200 for r in retries)
        await g.wait_entry("ok", "scale")
        await g.bot.driver.command("/inference", "status retried")  # a later, new command
        await g.bot.reply_with("retried")
        assert mutations(emulator) == before + 1
        assert len([e for e in await g.entries() if e.action == "scale"]) == 1
        assert len(g.bot.watcher.records) == 1


async def test_double_submitted_create_modal_creates_once(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with (
        emulator_factory(phase_seconds=0.5) as emu,
        guarded_bot(emu, fake_slack, tmp_path, POLICY, real_watch=True) as g,
    ):
        await g.bot.driver.command("/inference", "create")
        view = await g.bot.view("inference_create")
        first, second = await asyncio.gather(
            g.bot.driver.submit_view(view, FORM), g.bot.driver.submit_view(view, FORM)
        )
        assert first.status_code == second.status_code == 200
        # Let every submission finish its work (a slow one answers in the modal later).
        await g.fake.wait_for(lambda: len(g.bot.deps.tasks) == 0 or None, timeout=15)
        assert not view.errors
        updates = " ".join(str(c.args) for c in g.fake.calls_to("views.update"))
        assert "Already used" not in updates and "Sorry" not in updates
        created = await g.bot.runai.find_inferences("qwen-guarded")
        assert len(created) == 1
        assert emu.state.stats.count("POST", "/api/v1/workloads/inferences") == 1

        def parents() -> list[object]:
            return [
                m
                for m in g.fake.channel_messages(CHANNEL)
                if "qwen-guarded" in m.text and m.ephemeral_to is None and not m.thread_ts
            ]

        await g.fake.wait_for(lambda: parents() or None)
        creates = [e for e in await g.entries() if e.action == "create"]
        assert [e.outcome for e in creates] == ["ok"]
        # Still one parent once the thread has moved on.
        ts = parents()[0].ts  # type: ignore[attr-defined]
        await g.fake.wait_for(
            lambda: any("Running" in m.text for m in g.fake.thread_replies(CHANNEL, ts)) or None,
            timeout=15,
        )
        assert len(parents()) == 1

        # A denial is told in the workload's thread (and attributes nothing).
        await g.bot.driver.command("/inference", "delete qwen-guarded")
        await g.bot.reply_with("Not allowed")
        note = await g.fake.wait_for(
            lambda: next(
                (m for m in g.fake.thread_replies(CHANNEL, ts) if "denied" in m.text), None
            ),
            timeout=15,
        )
        assert "projects.team-a.delete" in note.text and USER in str(note.blocks)


async def test_another_users_submission_of_the_same_modal_is_decided_for_them(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    other = "U0OTHER"  # may not create in team-a
    async with guarded_bot(emulator, fake_slack, tmp_path, POLICY) as g:
        await g.bot.driver.command("/inference", "create")
        view = await g.bot.view("inference_create")
        theirs = submission(view, FORM, user=other)  # the same view, the same values
        await g.bot.driver.submit_view(view, FORM)
        await g.wait_entry("ok", "create")

        response = await g.bot.driver.post(theirs, FORM_TYPE)
        assert response.status_code == 200
        assert "Not allowed" in response.text and "projects.team-a.create" in response.text
        denied = await g.wait_entry("denied", "create")
        assert denied.user_id == other
        assert emulator.state.stats.count("POST", "/api/v1/workloads/inferences") == 1
        assert len(await g.bot.runai.find_inferences("qwen-guarded")) == 1


async def test_watch_and_unwatch_are_audited(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with guarded_bot(emulator, fake_slack, tmp_path, POLICY) as g:
        created = await g.bot.create("followed", project_id="1")
        await g.bot.driver.command("/inference", "watch followed")
        watch = await g.wait_entry("ok", "watch")
        assert watch.workload_id == created.workload_id and watch.project == "team-a"
        await g.bot.driver.command("/inference", "unwatch followed")
        unwatch = await g.wait_entry("ok", "unwatch")
        assert unwatch.workload_id == created.workload_id


async def test_bad_or_stale_signature_is_401_and_does_nothing(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with guarded_bot(emulator, fake_slack, tmp_path, POLICY) as g:
        await g.bot.create("forged", project_id="1")
        before = mutations(emulator)
        bad = await g.bot.driver.command(
            "/inference", "scale forged 3 3", signing_secret="not-the-secret"
        )
        stale = await g.bot.driver.command(
            "/inference", "scale forged 3 3", timestamp=int(time.time()) - 600
        )
        assert bad.status_code == 401 and stale.status_code == 401
        view = await g.bot.driver.post(
            b"payload=%7B%22type%22%3A%22view_submission%22%7D",
            "application/x-www-form-urlencoded",
            signing_secret="not-the-secret",
        )
        assert view.status_code == 401
        await g.bot.driver.command("/inference", "status forged")  # a genuine one after
        await g.bot.reply_with("forged")
        assert mutations(emulator) == before
        assert await g.entries() == []
        assert g.fake.calls_to("views.open") == []
