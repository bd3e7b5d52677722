"""Benchmark: our async RunaiClient vs the official SDK runapy, against one emulator.

    .venv/bin/python bench/client_vs_runapy.py [--gets 1000] [--pairs 200] [--concurrency 20]

The emulator runs as a subprocess (`python -m bot emulator --port N`) so its CPU is not
spent in the measuring process. Each client makes the same calls at the same concurrency:
`--gets` GET /api/v1/workloads/inferences/{id} over a set of seeded workloads, then
`--pairs` create (POST) + delete (DELETE) pairs. Ours runs `--concurrency` asyncio tasks
on one event loop; runapy runs its sync `InferencesApi` on `--concurrency` threads, with
its urllib3 pool sized to match (its default of 4 would discard connections and make it
look worse than it is); runapy with that default pool is measured too. Both warm up
(token, connections) before the clock starts. The clients alternate over `--rounds`
rounds; the best round of each and the medians are reported, with this process's CPU
time per request (the emulator's CPU is in its own process). Prints numbers; it is not
a test and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from bot.emulator import CLUSTER_ID  # noqa: E402
from bot.runai import RunaiClient, models  # noqa: E402

CLIENT_ID = "bench"
CLIENT_SECRET = "bench-secret"
IMAGE = "vllm/vllm-openai:v0.6.4"


@dataclass
class Result:
    """Wall and CPU time of each phase for one client and one round."""

    gets: int
    pairs: int
    get_seconds: float
    pair_seconds: float
    cpu_seconds: float  # this process's CPU over both phases (the emulator is elsewhere)

    @property
    def get_rps(self) -> float:
        return self.gets / self.get_seconds

    @property
    def pair_rps(self) -> float:
        return 2 * self.pairs / self.pair_seconds

    @property
    def requests(self) -> int:
        return self.gets + 2 * self.pairs

    @property
    def total_rps(self) -> float:
        return self.requests / (self.get_seconds + self.pair_seconds)

    @property
    def cpu_us(self) -> float:
        return self.cpu_seconds / self.requests * 1e6


class Clock:
    """Wall and CPU time of the phases of one run."""

    def __init__(self) -> None:
        self.cpu = time.process_time()
        self.wall = time.perf_counter()
        self.laps: list[float] = []

    def lap(self) -> None:
        now = time.perf_counter()
        self.laps.append(now - self.wall)
        self.wall = now

    def result(self, gets: int, pairs: int) -> Result:
        return Result(gets, pairs, self.laps[0], self.laps[1], time.process_time() - self.cpu)


# --- the emulator subprocess -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_emulator(port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "RUNAI_CLIENT_ID": CLIENT_ID,
        "RUNAI_CLIENT_SECRET": CLIENT_SECRET,
        "EMULATOR_PHASE_SECONDS": "0.5",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "emulator", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


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


async def _fan_out(count: int, concurrency: int, job: Callable[[int], Awaitable[None]]) -> None:
    """Run job(0..count-1) on `concurrency` workers."""
    counter = iter(range(count))

    async def worker() -> None:
        for index in counter:
            await job(index)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _ours(url: str, ids: list[str], args: argparse.Namespace, tag: str) -> Result:
    async with RunaiClient(url, CLIENT_ID, CLIENT_SECRET, timeout=30) as client:

        async def get(index: int) -> None:
            await client.get_inference(ids[index % len(ids)])

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

        await _fan_out(args.concurrency * 2, args.concurrency, get)  # token + connections
        clock = Clock()
        await _fan_out(args.gets, args.concurrency, get)
        clock.lap()
        await _fan_out(args.pairs, args.concurrency, pair)
        clock.lap()
    return clock.result(args.gets, args.pairs)


def run_ours(url: str, ids: list[str], args: argparse.Namespace, tag: str) -> Result:
    return asyncio.run(_ours(url, ids, args, tag))


# --- runapy ------------------------------------------------------------------------------


def run_runapy(
    url: str, ids: list[str], args: argparse.Namespace, tag: str, pool_maxsize: int
) -> Result:
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

    def get(index: int) -> None:
        api.get_inference(ids[index % len(ids)])

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

    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        list(pool.map(get, range(args.concurrency * 2)))  # connections
        clock = Clock()
        list(pool.map(get, range(args.gets)))
        clock.lap()
        list(pool.map(pair, range(args.pairs)))
        clock.lap()
    api_client.close()
    return clock.result(args.gets, args.pairs)


# --- main --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gets", type=int, default=1000)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--url", help="use a running emulator instead of starting one")
    args = parser.parse_args()
    # runapy's default pool of 4 makes urllib3 warn on every discarded connection.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)

    process = None
    url = args.url
    if url is None:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = start_emulator(port)
    runners: dict[str, Callable[[str, list[str], argparse.Namespace, str], Result]] = {
        "ours": run_ours,
        f"runapy pool={args.concurrency}": lambda u, i, a, t: run_runapy(u, i, a, t, a.concurrency),
        "runapy pool=4 (default)": lambda u, i, a, t: run_runapy(u, i, a, t, 4),
    }
    best: dict[str, Result] = {}
    every: dict[str, list[Result]] = {name: [] for name in runners}
    try:
        if process is not None:
            wait_ready(url, process)
        ids = seed(url, 50)
        for round_ in range(args.rounds):
            for name, run in runners.items():
                result = run(url, ids, args, f"r{round_}")
                print(
                    f"round {round_ + 1} {name:>24}: GET {result.get_rps:6.0f}/s  "
                    f"create+delete {result.pair_rps:6.0f}/s  all {result.total_rps:6.0f}/s  "
                    f"CPU {result.cpu_us:5.0f} us/request",
                    flush=True,
                )
                every[name].append(result)
                if name not in best or result.total_rps > best[name].total_rps:
                    best[name] = result
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)

    ours = best["ours"]
    print()
    print(
        f"{args.gets} GETs + {args.pairs} create/delete pairs at concurrency {args.concurrency}, "
        f"best of {args.rounds} rounds; emulator in a subprocess"
    )
    header = f"{'client':26}{'GET/s':>8}{'create+delete/s':>17}{'all/s':>8}{'CPU us/req':>12}"
    print(header)
    for name, result in best.items():
        print(
            f"{name:26}{result.get_rps:8.0f}{result.pair_rps:17.0f}{result.total_rps:8.0f}"
            f"{result.cpu_us:12.0f}"
        )
    for name, result in best.items():
        if name == "ours":
            continue
        print(
            f"ours / {name}: throughput {ours.total_rps / result.total_rps:.2f}x "
            f"(GET {ours.get_rps / result.get_rps:.2f}x, "
            f"create+delete {ours.pair_rps / result.pair_rps:.2f}x), "
            f"CPU per request {result.cpu_us / ours.cpu_us:.2f}x less"
        )
    # A shared machine makes single rounds noisy: the medians are the steadier figure.
    median = {name: statistics.median(r.total_rps for r in runs) for name, runs in every.items()}
    print(
        "median all/s over rounds: "
        + ", ".join(f"{name} {value:.0f}" for name, value in median.items())
        + "; ours / runapy pool="
        + f"{args.concurrency}: {median['ours'] / median[f'runapy pool={args.concurrency}']:.2f}x"
    )


if __name__ == "__main__":
    main()
