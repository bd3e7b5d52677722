"""Benchmark: the watch poller at 1,000 and 10,000 watched workloads vs a naive poller.

    .venv/bin/python bench/poll_scale.py [--sizes 1000 10000] [--cycles 5] [--interval 5]

The emulator runs as a subprocess (`python -m bot emulator`), seeded with N running
inference workloads, all watched (rows written straight into a SQLite store). Each cycle
advances the emulator clock by `--interval` seconds (the bot's clock follows), forces 1%
of the workloads into another phase, then runs one poll and measures:

- Run:ai API calls of the poll (the emulator's own call counter, `GET /emulator/stats`);
- CPU ms of the poll in this process (`time.process_time`, the driver's calls excluded);
- the process RSS afterwards.

The naive poller is what a script on the official SDK does: GET every watched workload
(`GET /api/v1/workloads/{id}`, 32 at a time) and compare phases. It is measured for one
cycle. The full reconcile (slower interval, 60 s by default) is reported on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from bench.emulator_process import free_port, start_emulator  # noqa: E402
from bot import aio  # noqa: E402
from bot.runai import RunaiClient  # noqa: E402
from bot.watch.db.schema import watches  # noqa: E402
from bot.watch.poller import Poller  # noqa: E402
from bot.watch.store import Store  # noqa: E402

CLIENT_ID = "bench"
CLIENT_SECRET = "bench-secret"


async def wait_ready(http: httpx.AsyncClient, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("emulator exited")
        try:
            await http.get("/emulator/stats")
            return
        except httpx.TransportError:
            await asyncio.sleep(0.1)
    raise RuntimeError("emulator did not start")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def api_calls(http: httpx.AsyncClient) -> int:
    calls = (await http.get("/emulator/stats")).json()["calls"]
    return sum(n for key, n in calls.items() if " /api/" in key and "/token" not in key)


class Clock:
    """The bot's clock, moved forward with the emulator's."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


async def seed_watches(
    store: Store, ids: list[str], *, channels: int = 20, name: str = "seeded-{n}"
) -> None:
    """Active watches of `ids`, spread over `channels` channels, written in one INSERT."""
    now = datetime.now(UTC)
    rows = [
        {
            "workload_id": workload_id,
            "channel": f"C{n % channels:04d}",
            "parent_ts": f"{n}.000100",
            "name": name.format(n=n),
            "last_phase": "Running",
            "phase_updated_at": None,
            "reason": "watch",
            "created_at": now,
            "ready_announced": False,
            "active": True,
            "version": 0,
        }
        for n, workload_id in enumerate(ids)
    ]
    async with store.engine.begin() as conn:
        await conn.execute(watches.insert(), rows)


async def force(http: httpx.AsyncClient, ids: list[str], phase: str) -> None:
    sem = asyncio.Semaphore(16)

    async def one(workload_id: str) -> None:
        async with sem:
            r = await http.post(f"/emulator/workloads/{workload_id}/phase", json={"phase": phase})
            r.raise_for_status()

    await asyncio.gather(*(one(i) for i in ids))


async def naive_cycle(runai: RunaiClient, ids: list[str], known: dict[str, str]) -> int:
    sem = asyncio.Semaphore(32)
    changed = 0

    async def one(workload_id: str) -> None:
        nonlocal changed
        async with sem:
            w = await runai.get_workload(workload_id)
        if known.get(workload_id) != w.phase:
            changed += 1
            known[workload_id] = str(w.phase)

    await asyncio.gather(*(one(i) for i in ids))
    return changed


async def run_size(n: int, cycles: int, interval: float, overlap: float, naive: bool) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_emulator(port, CLIENT_ID, CLIENT_SECRET, phase_seconds=2)
    tmp = tempfile.TemporaryDirectory()
    try:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            await wait_ready(http, proc)
            ids = (await http.post("/emulator/seed", json={"count": n})).json()["ids"]
            store = Store(f"sqlite:///{tmp.name}/bench.db")
            await store.create_schema()
            await seed_watches(store, ids)
            clock = Clock()
            async with RunaiClient(url, CLIENT_ID, CLIENT_SECRET, timeout=120) as runai:
                await runai.list_workloads(limit=1)  # token + connection warm-up
                poller = Poller(
                    store,
                    runai,
                    interval=interval,
                    reconcile_interval=3600,
                    overlap=overlap,
                    clock=clock,
                )
                # Seeding is one burst of phase changes; start the cycles well after it.
                await http.post("/emulator/clock", json={"advanceSeconds": overlap + interval})
                clock.offset += overlap + interval
                # The first reconcile also records every workload's phaseUpdatedAt (the
                # seeded watches do not know it); the second is the steady state.
                for label in ("first reconcile", "reconcile"):
                    before = await api_calls(http)
                    cpu = time.process_time()
                    wall = time.perf_counter()
                    await poller.reconcile()
                    rec_cpu = (time.process_time() - cpu) * 1000
                    rec_wall = (time.perf_counter() - wall) * 1000
                    rec_calls = await api_calls(http) - before
                    print(
                        f"N={n:>6} {label:<16} calls={rec_calls:>5}  cpu={rec_cpu:8.1f} ms"
                        f"  wall={rec_wall:8.1f} ms  (full list, every 60 s)"
                    )
                per_cycle = max(1, n // 100)
                cpu_ms: list[float] = []
                calls: list[int] = []
                for c in range(cycles):
                    await http.post("/emulator/clock", json={"advanceSeconds": interval})
                    clock.offset += interval
                    batch = ids[c * per_cycle : (c + 1) * per_cycle]
                    await force(http, batch, "Degraded" if c % 2 == 0 else "Updating")
                    before = await api_calls(http)
                    cpu = time.process_time()
                    stats = await poller.poll()
                    cpu_ms.append((time.process_time() - cpu) * 1000)
                    calls.append(await api_calls(http) - before)
                    assert stats.notifications == len(batch), (stats, len(batch))
                cpu_ms.sort()
                print(
                    f"N={n:>6} watch poller     calls/cycle={max(calls):>5}"
                    f"  cpu/cycle median={cpu_ms[len(cpu_ms) // 2]:6.1f} ms"
                    f" max={cpu_ms[-1]:6.1f} ms  notifications/cycle={per_cycle}"
                    f"  rss={rss_mb():6.1f} MB"
                )
                if naive:
                    known = {i: "Running" for i in ids}
                    await force(http, ids[:per_cycle], "Running")
                    before = await api_calls(http)
                    cpu = time.process_time()
                    wall = time.perf_counter()
                    changed = await naive_cycle(runai, ids, known)
                    naive_cpu = (time.process_time() - cpu) * 1000
                    naive_wall = (time.perf_counter() - wall) * 1000
                    naive_calls = await api_calls(http) - before
                    print(
                        f"N={n:>6} naive GET each   calls/cycle={naive_calls:>5}"
                        f"  cpu/cycle={naive_cpu:8.1f} ms  wall={naive_wall:8.1f} ms"
                        f"  changed seen={changed}  rss={rss_mb():6.1f} MB"
                    )
            await store.close()
    finally:
        proc.terminate()
        proc.wait(10)
        tmp.cleanup()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--interval", type=float, default=5.0, help="poll interval (s)")
    parser.add_argument("--overlap", type=float, default=10.0, help="filter overlap (s)")
    parser.add_argument("--no-naive", action="store_true")
    args = parser.parse_args()
    print(
        f"poll interval {args.interval} s, overlap {args.overlap} s, 1% of workloads change "
        f"per cycle, {args.cycles} cycles"
    )
    for n in args.sizes:
        await run_size(n, args.cycles, args.interval, args.overlap, not args.no_naive)


if __name__ == "__main__":
    aio.run(main())  # the loop `inference-bot` runs on
