"""Schedules end to end: `/inference schedule …` typed in the fake Slack, the real app and
watch room, the emulator receiving the PATCH, the thread telling it; the schedule loop on
a clock the test moves, so a cron minute passes at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.fakeslack import MessageRecord, RunningFakeSlack
from bot.policy import parse_policy
from bot.runai import errors as runai_errors
from bot.slack.ids import Action
from bot.watch.care_store import FireOutcome, Schedule
from tests.conftest import EmulatorFactory
from tests.e2e.care_harness import CareBot, ManualClock, running_care_bot
from tests.watch.harness import inference_request

pytest_plugins = ["tests.fakes.fixtures"]

ALICE, BOB, CHANNEL = "U0001", "U0002", "C0001"
T0 = datetime(2026, 12, 2, 10, 0, 30, tzinfo=UTC)
"""The test clock's start: half a minute before a `* * * * *` rule fires."""

POLICY = """
projects:
  team-a:
    create: [U0001]
    scale: [U0001]
    caps: {max_replicas: 3}
"""
NO_SCALE = """
projects:
  team-a:
    create: [U0001]
    scale: [U0003]
"""


@pytest.fixture
async def care(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> AsyncIterator[tuple[CareBot, ManualClock]]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    clock = ManualClock(T0)
    async with (
        emulator_factory(phase_seconds=0.2) as emu,
        running_care_bot(emu, fake_slack, tmp_path, clock, policy_file=str(policy)) as bot,
    ):
        yield bot, clock


async def reply(
    bot: CareBot, text: str, user: str = ALICE, after: int = 0, wait: float = 10
) -> MessageRecord:
    """The first ephemeral message to `user` (past the first `after`) containing `text`."""

    def found() -> MessageRecord | None:
        mine = [m for m in bot.fake.messages if m.ephemeral_to == user]
        for m in mine[after:]:
            if text in m.text or text in str(m.blocks):
                return m
        return None

    return await bot.fake.wait_for(found, timeout=wait)


def ephemerals(bot: CareBot, user: str = ALICE) -> int:
    return sum(1 for m in bot.fake.messages if m.ephemeral_to == user)


async def command(bot: CareBot, text: str, user: str = ALICE) -> None:
    r = await bot.driver.command("/inference", text, user=user, channel=CHANNEL)
    assert r.status_code == 200


async def parent_ts(bot: CareBot, name: str) -> str:
    def found() -> str | None:
        for m in bot.fake.channel_messages(CHANNEL):
            if not m.ephemeral and not m.is_reply and name in m.text:
                return m.ts
        return None

    return await bot.fake.wait_for(found, timeout=10)


def thread_has(bot: CareBot, ts: str, text: str) -> Callable[[], list[MessageRecord] | None]:
    def found() -> list[MessageRecord] | None:
        hits = [m for m in bot.fake.thread_replies(CHANNEL, ts) if text in str(m.blocks)]
        return hits or None

    return found


async def scheduled(bot: CareBot, text: str, user: str = ALICE) -> Schedule:
    """Type a `schedule` command; the schedule it stored."""
    before = ephemerals(bot, user)
    await command(bot, text, user)
    await reply(bot, "Next:", user, after=before)
    (found,) = await bot.runtime.store.list_schedules(channel=CHANNEL)
    return found


async def clear_stats(bot: CareBot) -> None:
    async with httpx.AsyncClient(base_url=bot.emu.url) as http:
        (await http.delete("/emulator/stats")).raise_for_status()


async def until(predicate: Callable[[], object], within: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_every_minute_fires_within_the_minute_once_patches_and_records(
    care: tuple[CareBot, ManualClock],
) -> None:
    bot, clock = care
    created = await bot.runai.create_inference(inference_request("my-qwen"))
    s = await scheduled(bot, 'schedule my-qwen "* * * * *" 0 1')
    created_reply = await reply(bot, "Every minute")
    # Alice's Slack time zone (users.info) is the rule's; three fire times shown.
    assert "Every minute (Europe/Berlin): scale my-qwen to 0\u20131." in created_reply.text
    assert str(created_reply.blocks).count("CET") == 3
    assert s.tz == "Europe/Berlin" and s.author == ALICE
    ts = await parent_ts(bot, "my-qwen")  # the channel follows it now: the thread exists
    await clear_stats(bot)

    await clock.set(T0 + timedelta(seconds=30, milliseconds=5))  # 10:01:00.005
    await until(lambda: bot.patches(), 10)
    inference = await bot.runai.get_inference(created.workload_id)
    auto = inference.spec.autoscaling if inference.spec else None
    assert auto is not None and (auto.min_replicas, auto.max_replicas) == (0, 1)
    assert auto.metric == "throughput"  # kept: the new range still scales (to zero)
    note = await bot.fake.wait_for(thread_has(bot, ts, "Scheduled: scaled to 0\u20131"))
    assert f"<@{ALICE}>" in str(note[0].blocks)

    # Half a minute later nothing more: once only.
    await clock.set(T0 + timedelta(seconds=59))
    await asyncio.sleep(0.5)
    assert await bot.patches() == 1
    fires = await bot.runtime.store.schedule_fires_of(s.id)
    assert [(f.fire_at, f.outcome) for f in fires] == [
        (datetime(2026, 12, 2, 10, 1, tzinfo=UTC), FireOutcome.APPLIED)
    ]
    assert len(thread_has(bot, ts, "Scheduled:")() or []) == 1
    audit = bot.access.gate.audit
    assert audit is not None
    trail = await audit.trail(workload_id=created.workload_id)
    fired = [e for e in trail if e.action == "scale" and e.outcome == "ok"]
    assert len(fired) == 1 and fired[0].user_id == ALICE
    assert f"(by schedule {s.id})" in fired[0].summary
    assert any(e.action == "schedule" and e.outcome == "ok" for e in trail)


async def test_a_right_removed_since_stops_the_fire_and_the_thread_says_so(
    care: tuple[CareBot, ManualClock],
) -> None:
    bot, clock = care
    created = await bot.runai.create_inference(inference_request("my-qwen"))
    s = await scheduled(bot, 'schedule my-qwen "* * * * *" 0 1')
    ts = await parent_ts(bot, "my-qwen")
    bot.access.gate.policy = parse_policy(NO_SCALE)  # the policy changed meanwhile
    await clear_stats(bot)

    await clock.set(T0 + timedelta(seconds=30, milliseconds=5))
    note = await bot.fake.wait_for(thread_has(bot, ts, f"Schedule {s.id} did not run"))
    assert "Not allowed" in str(note[0].blocks)
    assert await bot.patches() == 0
    (fire,) = await bot.runtime.store.schedule_fires_of(s.id)
    assert fire.outcome is FireOutcome.DENIED
    assert bot.access.gate.audit is not None
    trail = await bot.access.gate.audit.trail(workload_id=created.workload_id)
    assert any(e.action == "scale" and e.outcome == "denied" for e in trail)
    stored = await bot.runtime.store.get_schedule(s.id)
    assert stored is not None and stored.active  # it stays until removed


async def test_a_deleted_workload_ends_its_schedule_said_once(
    care: tuple[CareBot, ManualClock],
) -> None:
    bot, clock = care
    created = await bot.runai.create_inference(inference_request("my-qwen"))
    s = await scheduled(bot, 'schedule my-qwen "* * * * *" 0 1')
    ts = await parent_ts(bot, "my-qwen")
    await bot.runai.delete_inference(created.workload_id)

    async def gone() -> bool:
        try:
            await bot.runai.get_inference(created.workload_id)
        except runai_errors.NotFoundError:
            return True
        return False

    await until(gone, 15)
    await clock.set(T0 + timedelta(seconds=30, milliseconds=5))
    await bot.fake.wait_for(thread_has(bot, ts, f"Schedule {s.id} ended"))
    stored = await bot.runtime.store.get_schedule(s.id)
    assert stored is not None and stored.ended_reason == "workload-deleted"
    await clock.set(T0 + timedelta(seconds=150))
    await asyncio.sleep(0.5)
    assert len(thread_has(bot, ts, f"Schedule {s.id} ended")() or []) == 1
    assert len(await bot.runtime.store.schedule_fires_of(s.id)) == 1


async def test_fires_missed_beyond_the_grace_are_reported_skipped(
    care: tuple[CareBot, ManualClock],
) -> None:
    bot, clock = care
    await bot.runai.create_inference(inference_request("my-qwen"))
    s = await scheduled(bot, 'schedule my-qwen "* * * * *" 0 1')
    ts = await parent_ts(bot, "my-qwen")
    await clear_stats(bot)
    # Ten minutes with no fire applied (as if no leader ran): 10:01 … 10:10 are due.
    await clock.set(T0 + timedelta(minutes=9, seconds=30, milliseconds=5))
    note = await bot.fake.wait_for(thread_has(bot, ts, "Skipped 5 scheduled scales"))
    assert "the bot was not running then" in str(note[0].blocks)
    # Within the default 300 s grace: 10:06 … 10:10; only the latest PATCHes.
    await bot.fake.wait_for(thread_has(bot, ts, "Scheduled: scaled"))
    assert await bot.patches() == 1
    fires = await bot.runtime.store.schedule_fires_of(s.id)
    outcomes = [f.outcome for f in fires]
    assert outcomes.count(FireOutcome.SKIPPED_MISFIRE) == 1
    assert fires[-1].fire_at == datetime(2026, 12, 2, 10, 10, tzinfo=UTC)


# --- bad input: every command and the button; a clear message, nothing stored ----------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('schedule nope "* * * * *" 0 1', "nope"),  # no such workload
        ('schedule my-qwen "* * * * *" 0 5', "Not allowed"),  # over the project's cap of 3
        ('schedule my-qwen "* * * * *" 1 --tz Mars/Base', "not a time zone I know"),
        ('schedule my-qwen "61 * * * *" 1', "minute field takes 0 to 59"),
        ('schedule my-qwen "* * * * *" 2 1', "can't be more than max"),
        ("unschedule s2222a", "There is no schedule s2222a"),
        ("unschedule 12", "not a schedule id"),
    ],
)
async def test_bad_input_answers_clearly_and_stores_nothing(
    care: tuple[CareBot, ManualClock], text: str, words: str
) -> None:
    bot, _ = care
    await bot.runai.create_inference(inference_request("my-qwen"))
    await command(bot, text)
    await reply(bot, words)
    assert await bot.runtime.store.list_schedules() == []


async def test_someone_without_the_scale_right_may_neither_schedule_nor_unschedule(
    care: tuple[CareBot, ManualClock],
) -> None:
    bot, _ = care
    created = await bot.runai.create_inference(inference_request("my-qwen"))
    await command(bot, 'schedule my-qwen "0 19 * * 1-5" 0 1', user=BOB)
    await reply(bot, "Not allowed", user=BOB)
    assert await bot.runtime.store.list_schedules() == []
    s = await scheduled(bot, 'schedule my-qwen "0 19 * * 1-5" 0 1 --tz UTC')
    assert s.tz == "UTC"
    await command(bot, f"unschedule {s.id}", user=BOB)
    await reply(bot, "only its author", user=BOB)
    stored = await bot.runtime.store.get_schedule(s.id)
    assert stored is not None and stored.active
    assert bot.access.gate.audit is not None
    trail = await bot.access.gate.audit.trail(workload_id=created.workload_id)
    assert [e.outcome for e in trail if e.user_id == BOB and e.action == "scale"] == ["denied"]


async def test_list_remove_button_and_unschedule(care: tuple[CareBot, ManualClock]) -> None:
    bot, _ = care
    await command(bot, "schedules")
    await reply(bot, "No schedules")
    await bot.runai.create_inference(inference_request("my-qwen"))
    s = await scheduled(bot, 'schedule my-qwen "0 19 * * 1-5" 0 1')
    ts = await parent_ts(bot, "my-qwen")
    before = ephemerals(bot)
    await command(bot, "schedules my-qwen")
    listing = await reply(bot, "Remove", after=before)
    assert s.id in str(listing.blocks) and "Next:" in str(listing.blocks)

    # A button whose value names no schedule.
    before = ephemerals(bot)
    await bot.driver.click(listing, Action.REMOVE_SCHEDULE, "<!channel>", user=ALICE)
    await reply(bot, "names no schedule", after=before)
    # The real button removes it; the thread hears of it; a second press is told.
    before = ephemerals(bot)
    await bot.driver.click(listing, Action.REMOVE_SCHEDULE, user=ALICE)
    await reply(bot, f"Removed schedule {s.id}", after=before)
    await bot.fake.wait_for(thread_has(bot, ts, f"Schedule {s.id} removed"))
    assert await bot.runtime.store.list_schedules() == []
    before = ephemerals(bot)
    await bot.driver.click(listing, Action.REMOVE_SCHEDULE, user=ALICE)
    await reply(bot, f"There is no schedule {s.id}", after=before)

    again = await scheduled(bot, 'schedule my-qwen "0 7 * * *" 1 2')
    await command(bot, f"unschedule {again.id}")
    await reply(bot, f"Removed schedule {again.id}")
    stored = await bot.runtime.store.get_schedule(again.id)
    assert stored is not None and stored.ended_reason == "removed" and stored.ended_by == ALICE
