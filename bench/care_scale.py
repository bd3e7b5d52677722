"""Care at scale: how late schedule fires land (and, from the idle half, what one idle check
costs).

    python -m bench.care_scale [--schedules 100] [--database-url URL]

Schedules: `--schedules` inference workloads on the emulator (its own process), one
`* * * * *` schedule each, all due on the same second; the real schedule loop
(`bot.watch.care.schedule_loop`) with the real policed fires (`bot.access.schedules`:
the policy decision as the author, a Run:ai read and the PATCH, audited) against that
emulator, on a SQLite file (or `--database-url`, e.g. the PostgreSQL of the tests). The
loop's clock is the wall clock shifted so that the minute starts two seconds after setup:
nothing waits for a real minute, and the lag is measured on the same clock the loop
sleeps on. Lag = when a fire's PATCH and record finished, minus its scheduled second.
Goal: p99 ≤ 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.emulator_process import free_port, start_emulator
from bot import aio
from bot.access.gate import Gate
from bot.access.idempotency import Idempotency
from bot.access.policed import PolicedRunai
from bot.access.schedules import PolicedFires
from bot.emulator import CLUSTER_ID
from bot.policy import OPEN_POLICY
from bot.runai import RunaiClient, models
from bot.watch.care.schedule_loop import FireResult, ScheduleLoop
from bot.watch.care_store import FireOutcome, Schedule
from bot.watch.store import Store

CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret"


@dataclass
class Lead:
    """This process leads (one replica: the lease is not what is measured)."""

    holder: str = "bench:1"

    def is_leader(self) -> bool:
        return True


@dataclass(frozen=True)
class LagReport:
    """Lag of schedule fires after their scheduled second, in seconds."""

    fires: int
    applied: int
    patches: int
    min: float
    p50: float
    p99: float
    max: float

    def lines(self) -> list[str]:
        """What the benchmark prints."""
        return [
            f"schedule fires: {self.fires} ({self.applied} applied, {self.patches} PATCHes)",
            f"lag after the scheduled second: first {self.min * 1000:.0f} ms, "
            f"p50 {self.p50 * 1000:.0f} ms, "
            f"p99 {self.p99 * 1000:.0f} ms, max {self.max * 1000:.0f} ms (goal: p99 ≤ 2 s)",
        ]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def _wait_ready(runai: RunaiClient, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            await runai.list_projects()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def schedules_lag(
    schedules: int = 100, *, database_url: str | None = None, lead_in: float = 2.0
) -> LagReport:
    """`schedules` schedules due on the same second; the lag of their fires."""
    port = free_port()
    emulator = start_emulator(port, CLIENT_ID, CLIENT_SECRET, phase_seconds=0.2)
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        url_db = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        # PostgreSQL: tables in a schema of their own, dropped afterwards.
        schema = f"bench_{uuid.uuid4().hex[:12]}" if url_db.startswith("postgresql") else None
        store = Store(url_db, schema=schema)
        try:
            async with RunaiClient(url, CLIENT_ID, CLIENT_SECRET) as runai:
                await _wait_ready(runai)
                return await _measure(store, runai, url, schedules, lead_in)
        finally:
            if schema is not None:
                await store.drop_schema()
            await store.close()
            emulator.terminate()
            emulator.wait(10)


async def _measure(
    store: Store, runai: RunaiClient, url: str, count: int, lead_in: float
) -> LagReport:
    await store.create_schema()
    ids = []
    for i in range(count):
        created = await runai.create_inference(
            models.InferenceCreationRequest(
                name=f"bench-{i:04d}",
                project_id="1",
                cluster_id=CLUSTER_ID,
                spec=models.InferenceSpecSpec(
                    image="vllm/vllm-openai:latest",
                    serving_port=models.ServingPort(container=8000),
                    autoscaling=models.AutoScaling(
                        min_replicas=1, max_replicas=2, metric="throughput", metric_threshold=10
                    ),
                ),
            )
        )
        ids.append(created.workload_id)
    # The loop's clock: the wall clock shifted so that a minute starts `lead_in` from now.
    real = datetime.now(UTC)
    due = real.replace(second=0, microsecond=0) + timedelta(minutes=1)
    offset = due - (real + timedelta(seconds=lead_in))

    def clock() -> datetime:
        return datetime.now(UTC) + offset

    for i, workload_id in enumerate(ids):
        await store.add_schedule(
            workload_id=workload_id,
            workload_name=f"bench-{i:04d}",
            channel="C0BENCH",
            author="U0BENCH",
            cron="* * * * *",
            tz="UTC",
            min_replicas=0,
            max_replicas=1,
            at=due - timedelta(seconds=1),
        )
    gate = Gate(OPEN_POLICY, None, None)
    policed = PolicedRunai(runai, gate, Idempotency())
    lags: list[float] = []
    outcomes: list[FireOutcome] = []
    finished = asyncio.Event()

    def fired(schedule: Schedule, when: datetime, result: FireResult) -> None:
        lags.append((clock() - when).total_seconds())
        outcomes.append(result.outcome)
        if len(lags) >= count:
            finished.set()

    loop = ScheduleLoop(
        store, Lead(), PolicedFires(policed, gate), grace=300, clock=clock, fired=fired
    )
    task = asyncio.create_task(loop.run())
    try:
        await asyncio.wait_for(finished.wait(), timeout=lead_in + 60)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    async with httpx.AsyncClient(base_url=url) as http:
        calls: dict[str, int] = (await http.get("/emulator/stats")).json()["calls"]
    patches = sum(n for k, n in calls.items() if k.startswith("PATCH "))
    return LagReport(
        fires=len(lags),
        applied=outcomes.count(FireOutcome.APPLIED),
        patches=patches,
        min=min(lags),
        p50=statistics.median(lags),
        p99=_percentile(lags, 0.99),
        max=max(lags),
    )


def main() -> int:
    """Run the schedule part and print it."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--schedules", type=int, default=100)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    async def run() -> None:
        report = await schedules_lag(args.schedules, database_url=args.database_url)
        print("\n".join(report.lines()))

    aio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
