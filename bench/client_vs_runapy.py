"""Benchmark: our async RunaiClient vs the official SDK runapy, against one emulator.

    .venv/bin/python bench/client_vs_runapy.py [--gets 1000] [--pairs 200] [--concurrency 20]

The emulator runs as a subprocess (`python -m bot emulator --port N`) so its CPU is not
spent in the measuring process. Each client makes the same calls at the same concurrency:
`--gets` GET /api/v1/workloads/inferences/{id} over a set of seeded workloads, then
`--pairs` create (POST) + delete (DELETE) pairs. Ours runs `--concurrency` asyncio tasks
on one event loop (uvloop when installed, as in the bot's processes and the emulator's);
runapy runs its sync `InferencesApi` on `--concurrency` threads, with
its urllib3 pool sized to match (its default of 4 discards connections under 20 threads),
and once more with that default pool.

The machine this runs on is shared, so load comes and goes. To keep the comparison fair
the clients take turns in small chunks (`--chunk` calls each, the order rotating every
chunk), so a burst of outside load hits all of them alike; `--rounds` repeats the whole
workload. Reported: requests/s over all rounds, this process's CPU time per request (only
one client runs at a time, the emulator's CPU is elsewhere), and the ratios, with the
spread of the per-round ratio, and how busy the emulator's process was while each client
ran (near 100 % means the emulator, not the client, set the pace). Prints numbers; it is
not a test and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from bench.emulator_process import free_port, start_emulator  # noqa: E402
from bot import aio  # noqa: E402
from bot.emulator import CLUSTER_ID  # noqa: E402
from bot.runai import RunaiClient, models  # noqa: E402

CLIENT_ID = "bench"
CLIENT_SECRET = "bench-secret"
IMAGE = "vllm/vllm-openai:v0.6.4"


@dataclass
class Tally:
    """Requests made, wall seconds and CPU seconds, per phase."""

    get_calls: int = 0
    get_seconds: float = 0.0
    pair_calls: int = 0  # requests, two per pair
    pair_seconds: float = 0.0
    cpu_seconds: float = 0.0
    server_cpu_seconds: float = 0.0  # the emulator's CPU while this client ran

    @property
    def get_rps(self) -> float:
        return self.get_calls / self.get_seconds

    @property
    def pair_rps(self) -> float:
        return self.pair_calls / self.pair_seconds

    @property
    def total_rps(self) -> float:
        return (self.get_calls + self.pair_calls) / (self.get_seconds + self.pair_seconds)

    @property
    def cpu_us(self) -> float:
        return self.cpu_seconds / (self.get_calls + self.pair_calls) * 1e6

    @property
    def server_busy(self) -> float:
        """Share of the wall time the emulator's process was on a CPU."""
        return self.server_cpu_seconds / (self.get_seconds + self.pair_seconds)


@dataclass
class Contender:
    """A client under test: runs a chunk of GETs or of create/delete pairs, blocking."""

    name: str
    gets: Callable[[Sequence[int]], None]
    pairs: Callable[[Sequence[int], str], None]
    close: Callable[[], None]
    rounds: list[Tally] = field(default_factory=list)

    def timed(
        self, phase: str, run: Callable[[], None], requests: int, server_cpu: Callable[[], float]
    ) -> None:
        cpu, wall, server = time.process_time(), time.perf_counter(), server_cpu()
        run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        tally = self.rounds[-1]
        tally.cpu_seconds += cpu
        tally.server_cpu_seconds += server_cpu() - server
        if phase == "get":
            tally.get_calls += requests
            tally.get_seconds += wall
        else:
            tally.pair_calls += requests
            tally.pair_seconds += wall

    def total(self) -> Tally:
        total = Tally()
        for tally in self.rounds:
            total.get_calls += tally.get_calls
            total.get_seconds += tally.get_seconds
            total.pair_calls += tally.pair_calls
            total.pair_seconds += tally.pair_seconds
            total.cpu_seconds += tally.cpu_seconds
            total.server_cpu_seconds += tally.server_cpu_seconds
        return total


# --- the emulator subprocess -------------------------------------------------------------


def process_cpu(pid: int | None) -> Callable[[], float]:
    """CPU seconds (user + system) used so far by process `pid`; 0 when unknown."""
    ticks = os.sysconf("SC_CLK_TCK")

    def read() -> float:
        if pid is None:
            return 0.0
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

    return read


def wait_ready(url: str, process: subprocess.Popen[bytes], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"emulator exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/emulator/stats", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("emulator did not start")


def seed(url: str, count: int) -> list[str]:
    response = httpx.post(
        f"{url}/emulator/seed", json={"count": count, "namePrefix": "bench-get"}, timeout=10
    )
    response.raise_for_status()
    ids: list[str] = response.json()["ids"]
    return ids


# --- our client --------------------------------------------------------------------------


async def _fan_out(
    indices: Sequence[int], concurrency: int, job: Callable[[int], Awaitable[None]]
) -> None:
    """Run job(i) for every index on `concurrency` workers."""
    pending = iter(indices)

    async def worker() -> None:
        for index in pending:
            await job(index)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def ours(url: str, ids: list[str], concurrency: int) -> Contender:
    """Our RunaiClient on a private event loop, kept between chunks: the loop the bot's
    processes run on (`bot.aio`: uvloop when installed)."""
    runner = asyncio.Runner(loop_factory=aio.loop_factory())
    client = runner.run(_make_client(url))

    async def get(index: int) -> None:
        await client.get_inference(ids[index % len(ids)])

    def gets(indices: Sequence[int]) -> None:
        runner.run(_fan_out(indices, concurrency, get))

    def pairs(indices: Sequence[int], tag: str) -> None:
        async def pair(index: int) -> None:
            created = await client.create_inference(
                models.InferenceCreationRequest(
                    name=f"ours-{tag}-{index}",
                    project_id="1",
                    cluster_id=CLUSTER_ID,
                    spec=models.InferenceSpecSpec(
                        image=IMAGE, serving_port=models.ServingPort(container=8000)
                    ),
                )
            )
            await client.delete_inference(created.workload_id)

        runner.run(_fan_out(indices, concurrency, pair))

    def close() -> None:
        runner.run(client.aclose())
        runner.close()

    return Contender("ours (RunaiClient)", gets, pairs, close)


async def _make_client(url: str) -> RunaiClient:
    return RunaiClient(url, CLIENT_ID, CLIENT_SECRET, timeout=30)


def aio_loop() -> asyncio.AbstractEventLoop:
    """A loop from the factory `bot.aio` uses (to name it in the report)."""
    factory = aio.loop_factory()
    loop = factory() if factory is not None else asyncio.new_event_loop()
    loop.close()
    return loop


# --- runapy ------------------------------------------------------------------------------


def runapy(url: str, ids: list[str], concurrency: int, pool_maxsize: int) -> Contender:
    """runapy's sync InferencesApi on `concurrency` threads."""
    import runai
    from runai.api.inferences_api import InferencesApi

    config = runai.Configuration(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        runai_base_url=url,
        pool_maxsize=pool_maxsize,
    )
    api_client = runai.ApiClient(config)
    api = InferencesApi(api_client)
    pool = ThreadPoolExecutor(max_workers=concurrency)

    def get(index: int) -> None:
        api.get_inference(ids[index % len(ids)])

    def gets(indices: Sequence[int]) -> None:
        list(pool.map(get, indices))

    def pairs(indices: Sequence[int], tag: str) -> None:
        def pair(index: int) -> None:
            created = api.create_inference1(
                runai.models.InferenceCreationRequest(
                    name=f"runapy{pool_maxsize}-{tag}-{index}",
                    project_id="1",
                    cluster_id=CLUSTER_ID,
                    spec=runai.models.InferenceSpecSpec(
                        image=IMAGE, serving_port=runai.models.ServingPort(container=8000)
                    ),
                )
            )
            api.delete_inference(created.data["workloadId"])

        list(pool.map(pair, indices))

    def close() -> None:
        pool.shutdown()
        api_client.close()

    return Contender(f"runapy pool={pool_maxsize}", gets, pairs, close)


# --- main --------------------------------------------------------------------------------


def chunks(count: int, size: int) -> list[range]:
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gets", type=int, default=1000)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=200, help="calls per turn")
    parser.add_argument("--url", help="use a running emulator instead of starting one")
    args = parser.parse_args()
    # runapy's default pool of 4 makes urllib3 warn on every discarded connection.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)

    process = None
    url = args.url
    if url is None:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = start_emulator(port, CLIENT_ID, CLIENT_SECRET, phase_seconds=0.5)
    contenders: list[Contender] = []
    server_cpu = process_cpu(process.pid if process is not None else None)
    try:
        if process is not None:
            wait_ready(url, process)
        ids = seed(url, 50)
        contenders = [
            ours(url, ids, args.concurrency),
            runapy(url, ids, args.concurrency, args.concurrency),
            runapy(url, ids, args.concurrency, 4),
        ]
        for contender in contenders:  # token, connections, imports
            contender.gets(range(args.concurrency * 2))
        turn = 0
        for round_ in range(args.rounds):
            for contender in contenders:
                contender.rounds.append(Tally())
            for part in chunks(args.gets, args.chunk):
                for contender in contenders[turn:] + contenders[:turn]:
                    contender.timed(
                        "get", lambda c=contender, p=part: c.gets(p), len(part), server_cpu
                    )
                turn = (turn + 1) % len(contenders)
            for part in chunks(args.pairs, max(1, args.chunk // 2)):
                for contender in contenders[turn:] + contenders[:turn]:
                    contender.timed(
                        "pair",
                        lambda c=contender, p=part, tag=f"r{round_}": c.pairs(p, tag),
                        2 * len(part),
                        server_cpu,
                    )
                turn = (turn + 1) % len(contenders)
            print(
                f"round {round_ + 1}: "
                + "  ".join(f"{c.name} {c.rounds[-1].total_rps:.0f}/s" for c in contenders),
                flush=True,
            )
    finally:
        for contender in contenders:
            contender.close()
        if process is not None:
            process.terminate()
            process.wait(timeout=10)

    first = contenders[0]
    print()
    print(
        f"{args.gets} GETs + {args.pairs} create/delete pairs per round, {args.rounds} rounds, "
        f"concurrency {args.concurrency}, clients taking turns every {args.chunk} calls; "
        f"emulator in a subprocess; our loop: {type(aio_loop()).__module__}"
    )
    print(
        f"{'client':22}{'GET/s':>8}{'create+delete/s':>17}{'all/s':>8}{'CPU us/req':>12}"
        f"{'emulator busy':>15}"
    )
    for contender in contenders:
        t = contender.total()
        print(
            f"{contender.name:22}{t.get_rps:8.0f}{t.pair_rps:17.0f}{t.total_rps:8.0f}"
            f"{t.cpu_us:12.0f}{t.server_busy:15.0%}"
        )
    mine = first.total()
    for other in contenders[1:]:
        theirs = other.total()
        per_round = [
            a.total_rps / b.total_rps for a, b in zip(first.rounds, other.rounds, strict=True)
        ]
        print(
            f"ours / {other.name}: {mine.total_rps / theirs.total_rps:.2f}x requests/s "
            f"(GET {mine.get_rps / theirs.get_rps:.2f}x, "
            f"create+delete {mine.pair_rps / theirs.pair_rps:.2f}x; per round "
            f"{min(per_round):.2f}-{max(per_round):.2f}x, median "
            f"{statistics.median(per_round):.2f}x), "
            f"{theirs.cpu_us / mine.cpu_us:.2f}x less CPU per request"
        )


if __name__ == "__main__":
    main()
