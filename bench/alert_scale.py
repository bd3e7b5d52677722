"""Benchmark: one alert evaluation over 1,000 endpoints with 2 rules each.

    .venv/bin/python bench/alert_scale.py [--endpoints 1000] [--rounds 5] [--database URL]

The emulator runs as a subprocess (`python -m bot emulator`), seeded with N running
inference workloads and its clock moved two hours on (every rule's window is full of
samples). Each endpoint is watched in a channel and has two rules (rows written straight
into the store): even endpoints `latency > 500 for 5m` and `throughput < 1 for 30m` (one
route), odd ones `latency > 500 for 5m` and `gpu < 10 for 1h` (both routes). Goal: at
most one metrics call per endpoint with rules in every evaluation (N calls; the odd
endpoints read their two routes in turn), and at most 150 ms of CPU outside HTTP.

Measured, per evaluation (`AlertLoop.evaluate_once`, the loop the lease holder runs):
- Run:ai calls, by the emulator's own counter (`GET /emulator/stats`), over HTTP, and
  metrics calls per endpoint with rules;
- CPU of the evaluation outside the HTTP calls: the same evaluation, with the reads
  answering the answers recorded over HTTP (already parsed) instead of calling Run:ai,
  so what is left is the bot's own work (store reads and writes, verdicts, episodes).
  The recorded answers (every sample a parsed object, which the bot would have dropped
  after each evaluation) are frozen out of the garbage collector first (`gc.freeze`, as the
  CLI does with the bot's modules): otherwise every few rounds a full collection walks
  them and the round measures the benchmark's memory instead of the evaluation.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from bench.emulator_process import free_port, start_emulator  # noqa: E402
from bench.poll_scale import api_calls, seed_watches, wait_ready  # noqa: E402
from bot import aio  # noqa: E402
from bot.runai import RunaiClient, models  # noqa: E402
from bot.runai import observability as obs  # noqa: E402
from bot.slack.alert_cards import WORDS  # noqa: E402
from bot.watch.alert_loop import AlertLoop  # noqa: E402
from bot.watch.db.schema import alert_rules, alert_state  # noqa: E402
from bot.watch.store import Store  # noqa: E402

CLIENT_ID = "bench"
CLIENT_SECRET = "bench-secret"
INTERVAL = 60.0
RULES = {
    0: (("latency", ">", 500.0, 300), ("throughput", "<", 1.0, 1800)),
    1: (("latency", ">", 500.0, 300), ("gpu", "<", 10.0, 3600)),
}


class Leading:
    """The lease, held."""

    holder = "bench"

    def is_leader(self) -> bool:
        return True


class Recorded:
    """Run:ai reads that remember every answer (over HTTP), or replay them (no HTTP)."""

    def __init__(
        self, inner: RunaiClient | None, answers: dict[tuple[str, str], Any] | None = None
    ) -> None:
        self.inner = inner
        self.answers: dict[tuple[str, str], Any] = answers if answers is not None else {}

    async def inference_metrics(
        self,
        workload_id: str,
        start: datetime,
        end: datetime,
        *,
        metric_types: Sequence[models.MetricType | str],
        number_of_samples: int,
    ) -> models.MetricsResponse:
        key = (workload_id, "inference")
        if self.inner is not None:
            self.answers[key] = await self.inner.inference_metrics(
                workload_id,
                start,
                end,
                metric_types=metric_types,
                number_of_samples=number_of_samples,
            )
        answer: models.MetricsResponse = self.answers[key]
        return answer

    async def workload_metrics(
        self,
        workload_id: str,
        start: datetime,
        end: datetime,
        *,
        metric_types: Sequence[obs.WorkloadMetricType | str],
        number_of_samples: int,
    ) -> obs.MetricsCompositeResponse:
        key = (workload_id, "workload")
        if self.inner is not None:
            self.answers[key] = await self.inner.workload_metrics(
                workload_id,
                start,
                end,
                metric_types=metric_types,
                number_of_samples=number_of_samples,
            )
        answer: obs.MetricsCompositeResponse = self.answers[key]
        return answer

    async def workload_events(self, workload_id: str, *, limit: int = 50) -> obs.EventsPage:
        return obs.EventsPage(events=[])


async def seed_rules(store: Store, ids: list[str], now: datetime) -> int:
    rules: list[dict[str, Any]] = []
    for n, workload_id in enumerate(ids):
        for k, (metric, op, value, seconds) in enumerate(RULES[n % 2]):
            rules.append(
                {
                    "id": f"a{n:05d}{k}",
                    "workload_id": workload_id,
                    "workload_name": f"seeded-{n}",
                    "channel": f"C{n % 20:04d}",
                    "author": "UBENCH",
                    "metric": metric,
                    "op": op,
                    "value": value,
                    "for_seconds": seconds,
                    "created_at": now,
                }
            )
    async with store.engine.begin() as conn:
        await conn.execute(alert_rules.insert(), rules)
        await conn.execute(
            alert_state.insert(), [{"rule_id": r["id"], "state": "ok", "episode": 0} for r in rules]
        )
    return len(rules)


async def run(n: int, rounds: int, database: str | None) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_emulator(port, CLIENT_ID, CLIENT_SECRET, phase_seconds=0.1)
    tmp = tempfile.TemporaryDirectory()
    try:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            await wait_ready(http, proc)
            ids = (await http.post("/emulator/seed", json={"count": n})).json()["ids"]
            await http.post("/emulator/clock", json={"advanceSeconds": 7200})
            offset = 7200.0

            def clock() -> datetime:
                return datetime.fromtimestamp(time.time() + offset, UTC)

            # PostgreSQL: a schema of its own, dropped at the end.
            store = (
                Store(database, schema=f"alert_bench_{os.getpid()}")
                if database
                else Store(f"sqlite:///{tmp.name}/bench.db")
            )
            await store.create_schema()
            await seed_watches(store, ids)
            rules = await seed_rules(store, ids, clock())
            async with RunaiClient(url, CLIENT_ID, CLIENT_SECRET, timeout=120) as runai:
                await runai.list_workloads(limit=1)  # token + connection warm-up
                recorder = Recorded(runai)
                loop = AlertLoop(
                    store, recorder, Leading(), words=WORDS, interval=INTERVAL, clock=clock
                )
                # Three evaluations a minute apart: the odd endpoints read one route, then
                # the other, then the first again (so every answer is recorded for the
                # replay below).
                for label in ("first (cold)", "over HTTP", "over HTTP"):
                    before = await api_calls(http)
                    cpu = time.process_time()
                    wall = time.perf_counter()
                    stats = await loop.evaluate_once()
                    cpu_ms = (time.process_time() - cpu) * 1000
                    wall_ms = (time.perf_counter() - wall) * 1000
                    calls = await api_calls(http) - before
                    per_endpoint = stats.metrics_calls / max(1, stats.endpoints)
                    print(
                        f"N={n} endpoints, {rules} rules, {label:<12}: Run:ai calls={calls}"
                        f" (metrics {stats.metrics_calls}: {stats.calls_by_route};"
                        f" {per_endpoint:.2f} per endpoint with rules, goal <= 1;"
                        f" fired {stats.fired}), failed={stats.failed_calls},"
                        f" cpu={cpu_ms:7.1f} ms (with the HTTP client), wall={wall_ms:7.1f} ms"
                    )
                    offset += INTERVAL
                    await http.post("/emulator/clock", json={"advanceSeconds": INTERVAL})
                replay = AlertLoop(
                    store, Recorded(None), Leading(), words=WORDS, interval=INTERVAL, clock=clock
                )
                replay.runai.answers = recorder.answers  # type: ignore[attr-defined]
                gc.collect()
                gc.freeze()
                samples: list[float] = []
                per_endpoint = []
                for _ in range(rounds):
                    cpu = time.process_time()
                    stats = await replay.evaluate_once()
                    samples.append((time.process_time() - cpu) * 1000)
                    per_endpoint.append(stats.metrics_calls / max(1, stats.endpoints))
                print(
                    f"N={n} endpoints, {rules} rules: metrics calls per endpoint with rules"
                    f" {max(per_endpoint):.2f} at most (goal <= 1);"
                    f" CPU per evaluation outside the HTTP calls (goal <= 150 ms)"
                    f" median={statistics.median(samples):6.1f} ms max={max(samples):6.1f} ms"
                    f" over {rounds} rounds ({store.dialect};"
                    f" each: {', '.join(f'{x:.0f}' for x in samples)} ms)"
                )
            await store.drop_schema()
            await store.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        tmp.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", default=None, help="a database URL (default: SQLite)")
    args = parser.parse_args()
    aio.run(run(args.endpoints, args.rounds, args.database))


if __name__ == "__main__":
    main()
