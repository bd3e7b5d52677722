"""The flapping summary exactly once across a SIGKILL: two `python -m bot.watch.worker`
replicas on the real PostgreSQL, the leader killed right after the change that makes the
workload flap."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.fakeslack import RunningFakeSlack
from bot.runai import RunaiClient
from bot.watch.store import Store
from tests.conftest import EmulatorFactory
from tests.e2e.test_threads_replicas import (
    _delivered,
    _logs,
    force,
    leader_pid,
    workers_cleanup,
)
from tests.watch.conftest import PG_URL, pg_available
from tests.watch.harness import CHANNEL, USER, front_watcher, spawn_worker, wait_until

pytest_plugins = ["tests.fakes.fixtures"]
pytestmark = pytest.mark.slow


async def test_flapping_summary_once_when_the_leader_is_sigkilled(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    if not pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (the tests need it)")
    schema = f"watch_flap_{uuid.uuid4().hex[:12]}"
    store = Store(PG_URL, schema=schema)
    await store.create_schema()
    fake = fake_slack.fake
    try:
        async with emulator_factory(phase_seconds=1.0) as emu:
            emu.state.seed_workloads(1, name_prefix="flap")
            slack = AsyncWebClient(token="xoxb-test", base_url=fake_slack.api_url)
            async with RunaiClient(emu.url, "test-client", "test-secret") as runai:
                [workload] = (await runai.list_workloads()).workloads
                ts = await front_watcher(store, slack).watch(
                    await runai.get_workload(workload.id),
                    channel=CHANNEL,
                    user=USER,
                    reason="watch",
                )
            ids = [workload.id]

            def replies() -> list[str]:
                return [m.text for m in fake.thread_replies(CHANNEL, ts)]

            async with workers_cleanup() as workers:
                for n in range(2):
                    workers.append(
                        await spawn_worker(
                            tmp_path / f"worker-{n}.log",
                            database_url=PG_URL,
                            emulator_url=emu.url,
                            slack_api_url=fake_slack.api_url,
                            schema=schema,
                        )
                    )

                async def has_leader(excluded: set[int]) -> bool:
                    pid = await leader_pid(store)
                    return pid is not None and pid not in excluded

                await wait_until(lambda: has_leader(set()), 20, "a leader")
                phases = ["Degraded", "Running"] * 3
                for told, phase in enumerate(phases, start=1):
                    await force(emu.url, ids, phase)

                    async def seen(count: int = told) -> bool:
                        return len(replies()) >= count

                    await wait_until(seen, 30, f"change {told}")

                # The seventh change makes it flap; the leader dies right after it.
                await force(emu.url, ids, "Degraded")
                pid = await leader_pid(store)
                assert pid is not None
                next(w for w in workers if w.pid == pid).kill()
                await wait_until(lambda: has_leader({pid}), 30, "a new leader")

                async def summarised() -> bool:
                    return any("flapping" in text for text in replies())

                await wait_until(summarised, 30, "the flapping summary")
                # Folded into the spell: no reply, the new leader edits the summary.
                await force(emu.url, ids, "Running")
                await wait_until(lambda: _parent_shows(fake, ts, "Running"), 30, "parent")
                await wait_until(lambda: _delivered(store), 30, "the outbox to drain")
                texts = replies()
                assert len(texts) == 7, (texts, _logs(tmp_path))
                assert [t for t in texts if "flapping" in t] == [texts[-1]]
                assert "8 changes in 10 min" in texts[-1]
    finally:
        await store.drop_schema()
        await store.close()


async def _parent_shows(fake: object, ts: str, phase: str) -> bool:
    parent = fake.find_message(CHANNEL, ts)  # type: ignore[attr-defined]
    return parent is not None and f"is {phase}" in parent.text
