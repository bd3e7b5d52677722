"""The daily digest and the policy's automatic scale to zero, exactly once across SIGKILLs:
two `python -m bot.worker` replicas on the real PostgreSQL, the emulator and the fake
Slack over HTTP; the leader is killed around the digest and around the scale, and a new
leader finishes what it left. Real processes and lease expiry: marked slow."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import update

from bot.audit import AuditLog
from bot.fakeslack import FakeSlack, MessageRecord, RunningFakeSlack
from bot.runai import RunaiClient
from bot.watch.care.digest import digest_date
from bot.watch.db.schema import idle_episodes
from bot.watch.outbox import OutboxItem
from bot.watch.store import Store
from tests.conftest import EmulatorFactory, RunningEmulator
from tests.e2e.care_harness import gpu_endpoint, running_endpoint
from tests.e2e.test_threads_replicas import leader_pid, workers_cleanup
from tests.watch.conftest import PG_URL, pg_available
from tests.watch.harness import CHANNEL, USER, Worker, front_watcher, spawn_worker, wait_until

pytest_plugins = ["tests.fakes.fixtures"]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SETTLE = 2.0
"""Seconds to wait after a delivery for a double to show (the leaders tick every 0.3 s)."""


@dataclass
class Cluster:
    """Worker replicas on one schema, the emulator, the fake Slack; one watched workload."""

    store: Store
    emu: RunningEmulator
    fake: FakeSlack
    workload_id: str
    threads: dict[str, str]
    spawn: Callable[[], Awaitable[Worker]]
    workers: list[Worker]
    killed: set[int] = field(default_factory=set)

    async def has_leader(self) -> bool:
        pid = await leader_pid(self.store)
        return pid is not None and pid not in self.killed

    async def kill_leader(self) -> None:
        """SIGKILL the lease holder and start a replacement (two replicas stay up)."""
        pid = await leader_pid(self.store)
        assert pid is not None
        next(w for w in self.workers if w.pid == pid).kill()
        self.killed.add(pid)
        await self.spawn()

    async def new_leader(self) -> None:
        await wait_until(self.has_leader, 30, "a new leader")

    async def items(self, prefix: str) -> list[OutboxItem]:
        return [i for i in await self.store.all_items() if (i.dedupe_key or "").startswith(prefix)]

    def logs(self, tmp_path: Path) -> str:
        return "\n".join(p.read_text()[-3000:] for p in sorted(tmp_path.glob("worker-*.log")))


@contextlib.asynccontextmanager
async def cluster(
    emulator_factory: EmulatorFactory,
    fake_slack: RunningFakeSlack,
    tmp_path: Path,
    channels: tuple[str, ...] = (CHANNEL,),
) -> AsyncIterator[Cluster]:
    """Two workers leading in turn over one workload of 2 GPUs watched in `channels`."""
    if not pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (the tests need it)")
    schema = f"care_kill_{uuid.uuid4().hex[:12]}"
    store = Store(PG_URL, schema=schema)
    await store.create_schema()
    try:
        async with (
            emulator_factory(phase_seconds=0.1) as emu,
            RunaiClient(emu.url, "test-client", "test-secret") as runai,
        ):
            workload_id = await running_endpoint(runai, gpu_endpoint())
            slack = AsyncWebClient(token="xoxb-test", base_url=fake_slack.api_url)
            watcher = front_watcher(store, slack)
            workload = await runai.get_workload(workload_id)
            threads = {
                channel: await watcher.watch(workload, channel=channel, user=USER, reason="watch")
                for channel in channels
            }
            async with workers_cleanup() as workers:

                async def spawn() -> Worker:
                    w = await spawn_worker(
                        tmp_path / f"worker-{len(workers)}.log",
                        database_url=PG_URL,
                        emulator_url=emu.url,
                        slack_api_url=fake_slack.api_url,
                        schema=schema,
                        extra_args=["--digest-tick", "0.3"],
                    )
                    workers.append(w)
                    return w

                c = Cluster(store, emu, fake_slack.fake, workload_id, threads, spawn, workers)
                await spawn()
                await spawn()
                await wait_until(c.has_leader, 30, "a leader")
                yield c
    finally:
        await store.drop_schema()
        await store.close()


def daily_digests(fake: FakeSlack, channel: str) -> list[MessageRecord]:
    """The digest messages in the channel itself (not in a thread, not ephemeral)."""
    return [
        m
        for m in fake.messages
        if m.channel == channel
        and m.thread_ts is None
        and m.ephemeral_to is None
        and m.text.startswith("Daily digest")
    ]


def due_now() -> tuple[str, datetime]:
    """A digest time (HH:MM, UTC) that has just passed today, and that moment."""
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    at = max(now.replace(second=0, microsecond=0) - timedelta(minutes=1), midnight)
    return at.strftime("%H:%M"), at


async def test_the_daily_digest_is_posted_once_when_leaders_die_around_it(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    channels = ("C0002", "C0003", "C0004")
    async with cluster(emulator_factory, fake_slack, tmp_path, channels) as c:

        async def turn_on(channel: str) -> str:
            """Turn the channel's digest on, due at once; its outbox key."""
            hhmm, at = due_now()
            await c.store.set_digest(channel, hhmm, "UTC", USER, at=at - timedelta(seconds=1))
            return f"digest:{channel}:{digest_date(at, 'UTC').isoformat()}"

        async def sent_once(channel: str, key: str) -> None:
            async def delivered() -> bool:
                items = await c.items(key)
                return bool(daily_digests(c.fake, channel)) and [i.state for i in items] == [
                    "delivered"
                ]

            await wait_until(delivered, 30, f"the digest of {channel} delivered")
            deadline = time.monotonic() + SETTLE
            while time.monotonic() < deadline:
                assert len(daily_digests(c.fake, channel)) <= 1, c.logs(tmp_path)
                await asyncio.sleep(0.2)
            [digest] = daily_digests(c.fake, channel)
            assert "my-qwen" in str(digest.blocks)
            [item] = await c.items(key)
            assert item.reply_ts == digest.ts

        # 1. Claimed and queued, Slack down: the leader dies with the digest unsent.
        c.fake.fail_next("chat.postMessage", status=500, count=10_000)
        key = await turn_on("C0002")

        async def tried() -> bool:
            return any(i.attempts >= 1 for i in await c.items(key))

        await wait_until(tried, 30, "a first attempt at the digest")
        assert await c.store.digest_claimed("C0002", digest_date(due_now()[1], "UTC"))
        await c.kill_leader()
        c.fake.clear_faults()
        await c.new_leader()
        await sent_once("C0002", key)

        # 2. The leader dies the moment Slack has the digest (its record may not be in).
        key = await turn_on("C0003")
        await c.fake.wait_for(lambda: daily_digests(c.fake, "C0003") or None, timeout=30)
        await c.kill_leader()
        await c.new_leader()
        await sent_once("C0003", key)

        # 3. The leader dies before its tick saw the digest: the next one posts it.
        await c.kill_leader()
        key = await turn_on("C0004")
        await c.new_leader()
        await sent_once("C0004", key)
        # Every digest was sent once in all; none of the channels got a second.
        for channel in channels:
            assert len(daily_digests(c.fake, channel)) == 1


async def test_the_policys_scale_to_zero_is_finished_once_by_the_next_leader(
    emulator_factory: EmulatorFactory,
    fake_slack: RunningFakeSlack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        f'channels:\n  {CHANNEL}:\n    projects: ["1"]\n'
        "    idle: {after: 2s, action: scale-to-zero}\n"
    )
    monkeypatch.setenv("POLICY_FILE", str(policy))
    monkeypatch.setenv("IDLE_AFTER", "2s")
    monkeypatch.setenv("IDLE_CHECK_INTERVAL_SECONDS", "0.3")
    async with cluster(emulator_factory, fake_slack, tmp_path) as c:
        c.emu.state.set_traffic(c.workload_id, {"requestsPerSecond": 0, "gpuUtilization": 0})

        async def nudged() -> bool:
            e = await c.store.idle_episode(c.workload_id)
            return e is not None and e.auto_action_due_at is not None

        await wait_until(nudged, 40, "the nudge announcing the scale")
        episode = await c.store.idle_episode(c.workload_id)
        assert episode is not None
        # The leader's PATCH will hang in the emulator: it dies with the scale started.
        c.emu.state.add_fault(
            None,
            1,
            latency_ms=20_000,
            path_prefix=f"/api/v1/workloads/inferences/{c.workload_id}",
            method="PATCH",
        )
        # An hour passes (for the due time only).
        async with c.store.engine.begin() as conn:
            await conn.execute(
                update(idle_episodes)
                .where(idle_episodes.c.id == episode.id)
                .values(auto_action_due_at=datetime.now(UTC) - timedelta(seconds=1))
            )

        async def started() -> bool:
            e = await c.store.get_idle_episode(episode.id)
            return e is not None and e.auto_action_started_at is not None

        await wait_until(started, 30, "the scale to zero started")
        await asyncio.sleep(0.5)  # its GET done, its PATCH held by the emulator
        unfinished = await c.store.get_idle_episode(episode.id)
        assert unfinished is not None and unfinished.action_unfinished
        await c.kill_leader()
        await c.new_leader()

        async def done() -> bool:
            e = await c.store.get_idle_episode(episode.id)
            return e is not None and e.auto_action_done_at is not None

        await wait_until(done, 30, "the scale to zero finished")
        finished = await c.store.get_idle_episode(episode.id)
        assert finished is not None and finished.auto_action_outcome == "done", c.logs(tmp_path)
        async with RunaiClient(c.emu.url, "test-client", "test-secret") as runai:
            spec = (await runai.get_inference(c.workload_id)).spec
        assert spec is not None and spec.autoscaling is not None
        assert spec.autoscaling.min_replicas == 0

        def notes() -> list[MessageRecord]:
            return [
                m
                for m in c.fake.thread_replies(CHANNEL, c.threads[CHANNEL])
                if "Scaled my-qwen to zero" in m.text
            ]

        await c.fake.wait_for(lambda: notes() or None, timeout=30)
        await asyncio.sleep(SETTLE)
        assert len(notes()) == 1
        nudges = [
            m
            for m in c.fake.thread_replies(CHANNEL, c.threads[CHANNEL])
            if "served no requests" in m.text
        ]
        assert len(nudges) == 1
        trail = await AuditLog(c.store.engine).trail(workload_id=c.workload_id)
        assert [(e.user_id, e.action, e.outcome) for e in trail] == [("policy", "scale", "ok")]
