"""The idle nudge exactly once across SIGKILLs: two `python -m bot.worker` replicas
on the real PostgreSQL run the idle check (only the lease holder acts); the leader is
killed before the nudge and again right after it was claimed. One nudge reaches Slack."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.fakeslack import RunningFakeSlack
from bot.runai import RunaiClient
from bot.watch.store import Store
from tests.conftest import EmulatorFactory
from tests.e2e.care_harness import gpu_endpoint, running_endpoint
from tests.e2e.test_threads_replicas import leader_pid, workers_cleanup
from tests.watch.conftest import PG_URL, pg_available
from tests.watch.harness import CHANNEL, USER, Worker, front_watcher, spawn_worker, wait_until

pytest_plugins = ["tests.fakes.fixtures"]


@pytest.mark.slow
async def test_one_nudge_when_the_leader_of_two_is_sigkilled(
    emulator_factory: EmulatorFactory,
    fake_slack: RunningFakeSlack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (the tests need it)")
    # The workers read these like the bot: a 2 s idle window, a check every 0.3 s.
    monkeypatch.setenv("IDLE_AFTER", "2s")
    monkeypatch.setenv("IDLE_CHECK_INTERVAL_SECONDS", "0.3")
    schema = f"idle_e2e_{uuid.uuid4().hex[:12]}"
    store = Store(PG_URL, schema=schema)
    await store.create_schema()
    fake = fake_slack.fake
    try:
        async with (
            emulator_factory(phase_seconds=0.1) as emu,
            RunaiClient(emu.url, "test-client", "test-secret") as runai,
        ):
            workload_id = await running_endpoint(runai, gpu_endpoint())
            slack = AsyncWebClient(token="xoxb-test", base_url=fake_slack.api_url)
            watcher = front_watcher(store, slack)
            ts = await watcher.watch(
                await runai.get_workload(workload_id), channel=CHANNEL, user=USER, reason="watch"
            )

            def nudges() -> list[object]:
                return [
                    m for m in fake.thread_replies(CHANNEL, ts) if "served no requests" in m.text
                ]

            async with workers_cleanup() as workers:

                async def spawn() -> Worker:
                    w = await spawn_worker(
                        tmp_path / f"worker-{len(workers)}.log",
                        database_url=PG_URL,
                        emulator_url=emu.url,
                        slack_api_url=fake_slack.api_url,
                        schema=schema,
                    )
                    workers.append(w)
                    return w

                async def kill_leader(killed: set[int]) -> None:
                    pid = await leader_pid(store)
                    assert pid is not None
                    next(w for w in workers if w.pid == pid).kill()
                    killed.add(pid)

                async def has_leader(excluded: set[int]) -> bool:
                    pid = await leader_pid(store)
                    return pid is not None and pid not in excluded

                killed: set[int] = set()
                await spawn()
                await spawn()
                await wait_until(lambda: has_leader(set()), 20, "a leader")

                # Idle from now; the leader dies before the window has passed.
                emu.state.set_traffic(workload_id, {"requestsPerSecond": 0, "gpuUtilization": 0})
                await asyncio.sleep(1.0)
                await kill_leader(killed)
                await wait_until(lambda: has_leader(killed), 30, "a second leader")

                # The second leader claims the nudge; it dies the moment the claim is seen.
                async def claimed() -> bool:
                    episode = await store.idle_episode(workload_id)
                    return episode is not None and episode.nudged_at is not None

                await wait_until(claimed, 30, "the nudge claimed")
                await kill_leader(killed)
                await spawn()
                await wait_until(lambda: has_leader(killed), 30, "a third leader")

                async def delivered() -> bool:
                    return bool(nudges()) and all(
                        i.state == "delivered" for i in await store.all_items()
                    )

                await wait_until(delivered, 30, "the nudge delivered")
                # The third leader keeps checking the still idle endpoint: no second nudge.
                deadline = time.monotonic() + 3
                while time.monotonic() < deadline:
                    await asyncio.sleep(0.3)
                    assert len(nudges()) <= 1
                assert len(nudges()) == 1
                (episode,) = [e for e in await store.open_idle_episodes()]
                assert episode.workload_id == workload_id
    finally:
        await store.drop_schema()
        await store.close()
