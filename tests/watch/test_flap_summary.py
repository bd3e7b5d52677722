"""A flapping summary kept current, end to end: the emulator forces the phase changes on
its own clock, the real poller reads them (its clock is the emulator's), the store
decides and queues, and the notifier (on hand-driven time) edits one summary message in
the fake Slack, served over HTTP: one message, its count and phases true, one edit for a
burst of changes, and "ended" once the workload has been quiet for 10 minutes, or once
it is deleted."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.fakeslack import FakeSlack, MessageRecord, RunningFakeSlack
from bot.runai import RunaiClient
from bot.slack.render import message_problems
from bot.slack.threads import thread_message
from bot.watch.diff import Observation
from bot.watch.notifier import Notifier
from bot.watch.poller import Poller
from bot.watch.store import Store
from tests.conftest import EmulatorFactory, RunningEmulator
from tests.watch.faketime import FakeTime

pytest_plugins = ["tests.fakes.fixtures"]

LEASE = "watch-leader"
CHANNEL = "C0001"
STEP = 75  # seconds between two changes: 8 in a 10-minute window, so it flaps


class Lease:
    holder, name = "A", LEASE

    def is_leader(self) -> bool:
        return True


@pytest.fixture
async def slack(fake_slack: RunningFakeSlack) -> AsyncIterator[AsyncWebClient]:
    yield AsyncWebClient(token="xoxb-test", base_url=fake_slack.api_url)


def edits_of(fake: FakeSlack, ts: str) -> int:
    return len([c for c in fake.calls_to("chat.update") if c.args.get("ts") == ts])


def summary_text(fake: FakeSlack, ts: str) -> str:
    found = fake.find_message(CHANNEL, ts)
    assert found is not None
    return found.text


def checked(fake: FakeSlack, ts: str) -> MessageRecord:
    """The message at `ts` as Slack holds it now, after the Block Kit checker passed it."""
    found = fake.find_message(CHANNEL, ts)
    assert found is not None
    assert message_problems({"text": found.text, "blocks": found.blocks}) == []
    return found


@dataclass
class FlappyThread:
    """One watched workload of the emulator, its thread in the fake Slack, the real
    poller on the emulator's clock and the notifier on hand-driven time."""

    emu: RunningEmulator
    store: Store
    poller: Poller
    notifier: Notifier
    time: FakeTime
    fake: FakeSlack
    workload_id: str
    parent_ts: str
    phases: Iterator[str] = field(default_factory=lambda: iter(["Degraded", "Running"] * 20))

    async def drain(self) -> None:
        for _ in range(200):
            if not await self.store.open_items():
                return
            await self.time.sleep(await self.notifier.drain_once())
        raise AssertionError("outbox did not drain")

    async def change(self, count: int, *, drained: bool = True) -> None:
        """`count` phase changes, STEP seconds apart, each seen by a poll (and delivered
        before the next one, unless not `drained`: a burst)."""
        for _ in range(count):
            self.emu.state.clock.advance(STEP)
            self.emu.state.force_phase(self.workload_id, next(self.phases))
            assert (await self.poller.poll()).notifications == 1
            if drained:
                await self.drain()

    def replies(self) -> list[MessageRecord]:
        return list(self.fake.thread_replies(CHANNEL, self.parent_ts))


@contextlib.asynccontextmanager
async def flappy_thread(
    emulator_factory: EmulatorFactory, store: Store, slack: AsyncWebClient, fake: FakeSlack
) -> AsyncIterator[FlappyThread]:
    async with emulator_factory() as emu:
        clock = emu.state.clock
        [wid] = emu.state.seed_workloads(1, name_prefix="flappy")
        parent = await slack.chat_postMessage(channel=CHANNEL, text="flappy")
        await store.add_watch(
            Observation(workload_id=wid, phase="Running", name="flappy",
                        phase_updated_at=datetime.fromtimestamp(clock.now(), UTC)),
            channel=CHANNEL, parent_ts=parent["ts"], reason="watch", user=None,
            workload_created_at=None,
        )  # fmt: skip
        await store.ensure_lease(LEASE)
        assert await store.acquire_lease(LEASE, "A", 600.0, time.time())
        t = FakeTime()
        notifier = Notifier(store, slack, Lease(), render=thread_message, clock=t, sleep=t.sleep)
        async with RunaiClient(emu.url, emu.client_id, emu.client_secret, clock=clock.now) as runai:
            poller = Poller(store, runai, clock=clock.now)
            await poller.poll()  # the first look is a full reconcile
            yield FlappyThread(emu, store, poller, notifier, t, fake, wid, parent["ts"])


async def test_one_summary_kept_current_then_ended_after_ten_quiet_minutes(
    emulator_factory: EmulatorFactory, store: Store, slack: AsyncWebClient,
    fake_slack: RunningFakeSlack,
) -> None:  # fmt: skip
    fake = fake_slack.fake
    async with flappy_thread(emulator_factory, store, slack, fake) as th:
        clock, poller, parent_ts = th.emu.state.clock, th.poller, th.parent_ts
        drain, change, replies = th.drain, th.change, th.replies
        # Six changes are told one by one; the seventh in 10 minutes is the summary.
        await change(7)
        await drain()
        told = replies()
        assert len(told) == 7
        summary = told[-1]
        assert summary.text == "flappy-0: flapping Degraded ↔ Running, 7 changes in 10 min"
        assert edits_of(fake, summary.ts) == 0

        # Each later change, drained at once, edits the summary: no new reply.
        await change(1)
        await drain()
        assert edits_of(fake, summary.ts) == 1
        assert summary_text(fake, summary.ts).endswith("8 changes in 10 min")

        # A burst of five changes queued before the notifier runs: one edit, not five,
        # and the summary counts the changes that left the 10-minute window too.
        parent_edits = edits_of(fake, parent_ts)
        await change(5, drained=False)
        await drain()
        assert edits_of(fake, summary.ts) == 2
        assert edits_of(fake, parent_ts) == parent_edits + 1
        # 13 changes (7 into Degraded) from the first (75 s) to the last (975 s): 15 min.
        assert summary_text(fake, summary.ts) == (
            "flappy-0: flapping Degraded ↔ Running, 13 changes in 15 min"
        )
        assert len(replies()) == 7  # still the one summary
        shown = fake.find_message(CHANNEL, parent_ts)
        assert shown is not None and "Degraded" in shown.text  # the parent is current
        checked(fake, summary.ts)

        # Nine quiet minutes: still flapping. Ten: it ends, once; the summary says so,
        # and the thread is told that replies resume.
        clock.advance(9 * 60)
        await poller.reconcile()
        await drain()
        assert len(replies()) == 7 and edits_of(fake, summary.ts) == 2
        clock.advance(61)
        await poller.reconcile()
        await poller.reconcile()
        await drain()
        assert edits_of(fake, summary.ts) == 3
        assert summary_text(fake, summary.ts) == (
            "flappy-0: was flapping Degraded ↔ Running, 13 changes in 15 min;"
            " steady again, phase replies resume"
        )
        told = replies()
        assert len(told) == 8 and "is steady again (Degraded)" in told[-1].text

        # Normal replies resume: the next change is a reply of its own, and the ended
        # summary is not touched again.
        await change(1)
        await drain()
        assert [m.text for m in replies()[8:]] == ["flappy-0: Degraded → Running"]
        assert edits_of(fake, summary.ts) == 3


async def test_a_workload_deleted_mid_spell_ends_its_summary_said_once(
    emulator_factory: EmulatorFactory, store: Store, slack: AsyncWebClient,
    fake_slack: RunningFakeSlack,
) -> None:  # fmt: skip
    fake = fake_slack.fake
    async with flappy_thread(emulator_factory, store, slack, fake) as th:
        await th.change(8)
        summary = th.replies()[-1]
        assert summary_text(fake, summary.ts).endswith(
            "flapping Degraded ↔ Running, 8 changes in 10 min"
        )

        # Deleted in the middle of the spell: Deleting folds into the summary, and once
        # the workload is gone the summary says it ended with it (no "flapping" left
        # behind) and the thread gets its one "deleted" reply.
        th.emu.state.clock.advance(STEP)
        th.emu.state.delete(th.workload_id)
        await th.poller.poll()
        th.emu.state.clock.advance(th.emu.state.phase_seconds + 1)
        await th.poller.poll()
        await th.drain()
        text = summary_text(fake, summary.ts)
        assert text.startswith("flappy-0: was flapping")
        assert text.endswith("; then it was deleted")
        assert "Why?" not in str(checked(fake, summary.ts).blocks)  # nothing left to explain
        told = th.replies()
        assert len(told) == 8  # six changes, the summary, and now the final reply
        assert told[-1].text == "flappy-0: Deleting → Deleted"

        # Ten quiet minutes later nothing more is said: no "steady again" for a workload
        # that is gone, and the summary is not edited again.
        edits = edits_of(fake, summary.ts)
        th.emu.state.clock.advance(11 * 60)
        await th.poller.reconcile()
        await th.drain()
        assert len(th.replies()) == 8 and edits_of(fake, summary.ts) == edits


async def test_unwatching_mid_spell_ends_its_summary(
    emulator_factory: EmulatorFactory, store: Store, slack: AsyncWebClient,
    fake_slack: RunningFakeSlack,
) -> None:  # fmt: skip
    fake = fake_slack.fake
    async with flappy_thread(emulator_factory, store, slack, fake) as th:
        await th.change(8)
        summary = th.replies()[-1]
        assert await store.end_watch(th.workload_id, CHANNEL, "U1")
        await th.drain()
        text = summary_text(fake, summary.ts)
        assert text == (
            "flappy-0: was flapping Degraded ↔ Running, 8 changes in 10 min;"
            " this channel no longer follows it"
        )
        checked(fake, summary.ts)
        # Later changes and quiet minutes say nothing more in this thread.
        edits, told = edits_of(fake, summary.ts), len(th.replies())
        th.emu.state.clock.advance(STEP)
        th.emu.state.force_phase(th.workload_id, "Degraded")
        await th.poller.poll()
        th.emu.state.clock.advance(11 * 60)
        await th.poller.reconcile()
        await th.drain()
        assert edits_of(fake, summary.ts) == edits and len(th.replies()) == told
