"""Crashes and replicas: real `python -m bot.worker` processes, killed with SIGKILL,
against the emulator and the fake Slack over HTTP. Every transition is told exactly once."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.fakeslack import RunningFakeSlack
from bot.runai import RunaiClient
from bot.watch.leader import LEASE_NAME
from bot.watch.store import Store
from tests.conftest import EmulatorFactory
from tests.watch.conftest import PG_URL, pg_available
from tests.watch.harness import (
    CHANNEL,
    USER,
    Worker,
    front_watcher,
    spawn_worker,
    transition_paths,
    wait_until,
)

pytest_plugins = ["tests.fakes.fixtures"]
# Real worker processes, real SIGKILLs and real lease expiry: the timing is what they prove.
pytestmark = pytest.mark.slow

WORKLOADS = 3


@contextlib.asynccontextmanager
async def workers_cleanup() -> AsyncIterator[list[Worker]]:
    started: list[Worker] = []
    try:
        yield started
    finally:
        for w in started:
            await w.stop()


async def force(emu_url: str, ids: list[str], phase: str, message: str | None = None) -> None:
    async with httpx.AsyncClient(base_url=emu_url) as http:
        for workload_id in ids:
            r = await http.post(
                f"/emulator/workloads/{workload_id}/phase",
                json={"phase": phase, "message": message},
            )
            assert r.status_code == 200, r.text


async def leader_pid(store: Store) -> int | None:
    lease = await store.lease(LEASE_NAME)
    if lease is None or not lease[0]:
        return None
    if lease[1] < time.time():
        return None
    return int(lease[0].split(":")[1])


async def run_story(
    store: Store,
    database_url: str,
    schema: str | None,
    emu_url: str,
    fake_slack: RunningFakeSlack,
    tmp_path: Path,
    replicas: int,
) -> None:
    """Watch 3 workloads; push 4 rounds of phase changes, SIGKILL the leader twice."""
    fake = fake_slack.fake
    slack = AsyncWebClient(token="xoxb-test", base_url=fake_slack.api_url)
    watcher = front_watcher(store, slack)
    async with RunaiClient(emu_url, "test-client", "test-secret") as runai:
        page = await runai.list_workloads()
        ids = sorted(w.id for w in page.workloads)
        threads = {}
        for workload_id in ids:
            workload = await runai.get_workload(workload_id)
            threads[workload_id] = await watcher.watch(
                workload, channel=CHANNEL, user=USER, reason="watch"
            )

    async def spawn(n: int) -> Worker:
        return await spawn_worker(
            tmp_path / f"worker-{n}.log",
            database_url=database_url,
            emulator_url=emu_url,
            slack_api_url=fake_slack.api_url,
            schema=schema,
        )

    def told(expected: list[str]) -> bool:
        return all(
            transition_paths(fake, ts)[: len(expected)] == expected for ts in threads.values()
        )

    async def all_told(expected: list[str]) -> bool:
        return told(expected)

    async def has_leader(excluded: set[int]) -> bool:
        pid = await leader_pid(store)
        return pid is not None and pid not in excluded

    async with workers_cleanup() as workers:
        for _ in range(replicas):
            workers.append(await spawn(len(workers)))
        await wait_until(lambda: has_leader(set()), 20, "a leader")
        killed: set[int] = set()

        expected = ["Running → Degraded"]
        await force(emu_url, ids, "Degraded", "1 of 2 replicas down")
        await wait_until(lambda: all_told(expected), 30, "round 1")

        # Round 2: change, then kill the leader while it is (probably) at work.
        expected.append("Degraded → Running")
        await force(emu_url, ids, "Running")
        pid = await leader_pid(store)
        assert pid is not None
        victim = next(w for w in workers if w.pid == pid)
        victim.kill()
        killed.add(pid)
        if replicas == 1:
            workers.append(await spawn(len(workers)))
        await wait_until(lambda: has_leader(killed), 30, "a new leader")
        await wait_until(lambda: all_told(expected), 30, "round 2 after the kill")

        # Round 3: kill the new leader right after the change, start a fresh one.
        expected.append("Running → Failed")
        await force(emu_url, ids, "Failed", "CrashLoopBackOff <oops>")
        pid = await leader_pid(store)
        assert pid is not None
        next(w for w in workers if w.pid == pid).kill()
        killed.add(pid)
        workers.append(await spawn(len(workers)))
        await wait_until(lambda: has_leader(killed), 30, "a third leader")
        await wait_until(lambda: all_told(expected), 30, "round 3 after the kill")

        expected.append("Failed → Running")
        await force(emu_url, ids, "Running")
        await wait_until(lambda: all_told(expected), 30, "round 4")

        # Everything delivered: a doubled post would have arrived by now.
        await wait_until(lambda: _delivered(store), 30, "the outbox to drain")
        for workload_id, ts in threads.items():
            paths = transition_paths(fake, ts)
            assert paths == expected, (workload_id, paths, _logs(tmp_path))
            failed = [m for m in fake.thread_replies(CHANNEL, ts) if "Failed" in m.text]
            assert len(failed) == 2 and failed[0].reply_broadcast


async def _delivered(store: Store) -> bool:
    return all(i.state == "delivered" for i in await store.all_items())


def _logs(tmp_path: Path) -> str:
    return "\n".join(p.read_text()[-3000:] for p in sorted(tmp_path.glob("worker-*.log")))


async def test_sigkill_and_restart_single_process_sqlite(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'watch.db'}"
    store = Store(url)
    await store.create_schema()
    async with emulator_factory(phase_seconds=1.0) as emu:
        emu.state.seed_workloads(WORKLOADS, name_prefix="svc")
        try:
            await run_story(store, url, None, emu.url, fake_slack, tmp_path, replicas=1)
        finally:
            await store.close()


async def test_two_replicas_on_postgresql_leader_sigkilled(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    if not pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (the tests need it)")
    schema = f"watch_e2e_{uuid.uuid4().hex[:12]}"
    store = Store(PG_URL, schema=schema)
    await store.create_schema()
    async with emulator_factory(phase_seconds=1.0) as emu:
        emu.state.seed_workloads(WORKLOADS, name_prefix="svc")
        try:
            await run_story(store, PG_URL, schema, emu.url, fake_slack, tmp_path, replicas=2)
        finally:
            await store.drop_schema()
            await store.close()
