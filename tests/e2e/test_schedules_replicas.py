"""A schedule fires exactly once across SIGKILLs: two `python -m bot.worker` replicas
on the real PostgreSQL, the leader killed just before one fire and just after the next;
the emulator counts the PATCHes. The replicas' schedule clock runs three times real time
(`--care-clock-speed`, one anchor for all), so a cron minute passes in 20 s while the
lease, the kills and the takeovers keep real time. Real processes: marked slow."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.fakeslack import RunningFakeSlack
from bot.runai import RunaiClient
from bot.watch.care_store import FireOutcome
from bot.watch.store import Store
from bot.worker import fast_clock
from tests.conftest import EmulatorFactory, RunningEmulator
from tests.e2e.test_threads_replicas import leader_pid, workers_cleanup
from tests.watch.conftest import PG_URL, pg_available
from tests.watch.harness import (
    CHANNEL,
    USER,
    Worker,
    front_watcher,
    inference_request,
    spawn_worker,
    wait_until,
)

pytest_plugins = ["tests.fakes.fixtures"]


async def patches(emu: RunningEmulator) -> int:
    """PATCHes the emulator has answered (read in its process: polled every 50 ms, a new
    HTTP client per look cost the test ~8 s of CPU in TLS contexts)."""
    return sum(n for k, n in emu.state.stats.calls.items() if k.startswith("PATCH "))


SPEED = 3.0  # a cron minute in 20 s
ANCHOR = time.time()


def scheduled_now() -> datetime:
    """The replicas' schedule clock (bot.worker.fast_clock with the same anchor)."""
    now, _ = fast_clock(ANCHOR, SPEED)
    return now()


async def sleep_until(when: datetime) -> None:
    await asyncio.sleep(max(0.0, (when - scheduled_now()).total_seconds() / SPEED))


def next_minute(after: datetime) -> datetime:
    return after.replace(second=0, microsecond=0) + timedelta(minutes=1)


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_two_replicas_leader_sigkilled_around_the_fire_applies_it_once(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    if not pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (the tests need it)")
    schema = f"sched_e2e_{uuid.uuid4().hex[:12]}"
    store = Store(PG_URL, schema=schema)
    await store.create_schema()
    fake = fake_slack.fake
    try:
        async with emulator_factory(phase_seconds=0.2) as emu:
            async with RunaiClient(emu.url, "test-client", "test-secret") as runai:
                created = await runai.create_inference(inference_request("my-qwen"))
                workload = await runai.get_workload(created.workload_id)
            slack = AsyncWebClient(token="xoxb-test", base_url=fake_slack.api_url)
            ts = await front_watcher(store, slack).watch(
                workload, channel=CHANNEL, user=USER, reason="watch"
            )

            async def spawn(n: int) -> Worker:
                return await spawn_worker(
                    tmp_path / f"worker-{n}.log",
                    database_url=PG_URL,
                    emulator_url=emu.url,
                    slack_api_url=fake_slack.api_url,
                    schema=schema,
                    extra_args=[
                        "--care-clock-speed",
                        str(SPEED),
                        "--care-clock-anchor",
                        repr(ANCHOR),
                    ],
                )

            def notes() -> int:
                return sum("Scheduled: scaled" in m.text for m in fake.thread_replies(CHANNEL, ts))

            async with workers_cleanup() as workers:
                workers += [await spawn(0), await spawn(1)]
                killed: set[int] = set()

                async def has_leader() -> bool:
                    pid = await leader_pid(store)
                    return pid is not None and pid not in killed

                async def kill_leader() -> None:
                    pid = await leader_pid(store)
                    assert pid is not None
                    next(w for w in workers if w.pid == pid).kill()
                    killed.add(pid)

                await wait_until(has_leader, 30, "a leader")
                async with httpx.AsyncClient(base_url=emu.url) as http:
                    (await http.delete("/emulator/stats")).raise_for_status()
                first = next_minute(scheduled_now() + timedelta(seconds=12))
                # Dated a second before its first fire: no earlier minute counts.
                s = await store.add_schedule(
                    workload_id=workload.id,
                    workload_name=workload.name,
                    channel=CHANNEL,
                    author=USER,
                    cron="* * * * *",
                    tz="UTC",
                    min_replicas=0,
                    max_replicas=1,
                    at=first - timedelta(seconds=1),
                )

                # Fire 1: the leader dies a moment before it; the survivor takes over a few
                # seconds late (within the misfire grace) and applies it.
                await sleep_until(first - timedelta(seconds=1.2))  # 0.4 s real
                await kill_leader()
                workers.append(await spawn(2))
                await wait_until(has_leader, 30, "a new leader")
                await wait_until(lambda: _at_least(emu, 1), 30, "fire 1 applied")

                # Fire 2: the leader dies just after applying it; the next one must not. (On a
                # slow host the takeover above may outlast a minute; the missed minutes are
                # then applied together, so "fire 2" is whichever fire came next.)
                await wait_until(lambda: _at_least(emu, 2), 60, "fire 2 applied")
                await kill_leader()
                await wait_until(has_leader, 30, "a third leader")
                # Its lease ran out and a survivor leads: any double would be out by now.
                await asyncio.sleep(3)
                # Later minutes may have fired meanwhile (20 s each): end the schedule and
                # let a fire in flight on the survivor finish.
                await store.end_schedule(s.id, "removed", by=USER, at=scheduled_now(), posts=[])
                await asyncio.sleep(2)
                fires = {f.fire_at: f.outcome for f in await store.schedule_fires_of(s.id)}
                assert fires[first] is FireOutcome.APPLIED, fires
                done = sum(o is FireOutcome.APPLIED for o in fires.values())
                # A fire whose leader was killed between its PATCH and recording it stays
                # claimed without an outcome, and is never tried again (at most once: the
                # PATCH may have gone out). So each PATCH is an applied fire or one of
                # those, and no fire was PATCHed twice.
                cut_short = sum(o is None for o in fires.values())
                assert done + cut_short >= 2 and cut_short <= 2, fires
                sent = await patches(emu)
                assert done <= sent <= done + cut_short, (sent, fires, _logs(tmp_path))
                # Each applied fire is told in the thread once; a cut-short one is not.
                await fake.wait_for(lambda: notes() >= done or None, timeout=15)
                await asyncio.sleep(1)
                assert notes() == done
    finally:
        await store.drop_schema()
        await store.close()


async def _at_least(emu: RunningEmulator, n: int) -> bool:
    return await patches(emu) >= n


def _logs(tmp_path: Path) -> str:
    return "\n".join(p.read_text()[-3000:] for p in sorted(tmp_path.glob("worker-*.log")))
