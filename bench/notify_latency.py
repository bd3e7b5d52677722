"""Benchmark: phase change in the emulator → thread reply received by the fake Slack.

    .venv/bin/python bench/notify_latency.py [--samples 120] [--workloads 10] [--interval 2]

The emulator and the fake Slack are served in this process; the bot's watch room runs as
its own process (`python -m bot.worker`, POLL_INTERVAL_SECONDS=--interval, default
tuning: 1 message/s per channel, lease renewals, SQLite store). Each watched workload has
its own channel. Every workload loops: pause uniform(0, interval), force a phase
(Running ↔ Degraded, neither transitional, so the plain poll interval applies), wait for
the reply.
Latency = time the fake Slack received the chat.postMessage minus time of the force
(both wall clock, one machine). Prints p50/p90/p99/max.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from slack_sdk.web.async_client import AsyncWebClient  # noqa: E402

from bot import aio  # noqa: E402
from bot.emulator import create_app  # noqa: E402
from bot.fakeslack import FakeSlack, serve_fake_slack  # noqa: E402
from bot.runai import RunaiClient  # noqa: E402
from bot.serving import serve  # noqa: E402
from bot.slack.threads import thread_message  # noqa: E402
from bot.watch.notifier import Notifier  # noqa: E402
from bot.watch.store import Store  # noqa: E402
from bot.watch.watcher import Watcher  # noqa: E402

CLIENT_ID = "bench"
CLIENT_SECRET = "bench-secret"


class NoLease:
    holder = "bench-front"
    name = "watch-leader"

    def is_leader(self) -> bool:
        return False


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=120)
    parser.add_argument("--workloads", type=int, default=10)
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args()

    app = create_app(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, phase_seconds=2.0)
    state = app.state.emulator
    fake = FakeSlack()
    tmp = tempfile.TemporaryDirectory()
    db = f"sqlite:///{tmp.name}/latency.db"
    async with serve(app) as emu, serve_fake_slack(fake) as slack_srv:
        ids = state.seed_workloads(args.workloads, name_prefix="lat")
        store = Store(db)
        await store.create_schema()
        slack = AsyncWebClient(token="xoxb-bench", base_url=slack_srv.api_url)
        watcher = Watcher(store, Notifier(store, slack, NoLease(), render=thread_message))
        threads: dict[str, tuple[str, str]] = {}
        async with RunaiClient(emu.url, CLIENT_ID, CLIENT_SECRET) as runai:
            for n, workload_id in enumerate(ids):
                channel = f"CLAT{n:04d}"
                fake.add_channel(channel, f"latency-{n}")
                workload = await runai.get_workload(workload_id)
                ts = await watcher.watch(workload, channel=channel, user=None, reason="watch")
                threads[workload_id] = (channel, ts)
        env = {
            **os.environ,
            "DATABASE_URL": db,
            "RUNAI_URL": emu.url,
            "RUNAI_CLIENT_ID": CLIENT_ID,
            "RUNAI_CLIENT_SECRET": CLIENT_SECRET,
            "SLACK_API_URL": slack_srv.api_url,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "POLL_INTERVAL_SECONDS": str(args.interval),
            "LOG_LEVEL": "WARNING",
        }
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.worker", cwd=str(ROOT), env=env,
            stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        latencies: list[float] = []
        try:
            # Wait for the worker to lead: it says so by posting nothing until it does,
            # so prime each thread with one change and wait for all of them.
            deadline = time.monotonic() + 60
            for workload_id in ids:
                state.force_phase(workload_id, "Degraded")
            while any(
                not fake.thread_replies(ch, ts) for ch, ts in threads.values()
            ):  # fmt: skip
                if time.monotonic() > deadline:
                    raise RuntimeError("the worker never delivered")
                await asyncio.sleep(0.05)
            per_workload = -(-args.samples // args.workloads)

            async def loop(workload_id: str) -> None:
                channel, ts = threads[workload_id]
                phase = "Degraded"
                rng = random.Random(workload_id)
                for _ in range(per_workload):
                    # A reply lands just after a poll; pausing uniform(0, interval) from it
                    # spreads the changes evenly over the poll cycle (no phase locking).
                    await asyncio.sleep(rng.uniform(0, args.interval))
                    phase = "Running" if phase == "Degraded" else "Degraded"
                    before = len(fake.thread_replies(channel, ts))
                    forced_at = time.time()
                    state.force_phase(workload_id, phase)
                    await fake.wait_for(
                        lambda: len(fake.thread_replies(channel, ts)) > before or None,  # noqa: B023
                        timeout=60,
                    )
                    posts = [
                        c
                        for c in fake.calls_to("chat.postMessage", ok=True)
                        if c.args.get("thread_ts") == ts and c.args.get("channel") == channel
                    ]
                    latencies.append(posts[-1].time - forced_at)

            await asyncio.gather(*(loop(i) for i in ids))
        finally:
            worker.terminate()
            await worker.wait()
            await store.close()
            tmp.cleanup()
    ms = [x * 1000 for x in latencies]
    print(
        f"poll interval {args.interval} s, {len(ms)} phase changes over {args.workloads} "
        f"workloads/channels"
    )
    print(
        f"latency ms: p50={percentile(ms, 50):.0f} p90={percentile(ms, 90):.0f} "
        f"p99={percentile(ms, 99):.0f} max={max(ms):.0f} mean={statistics.mean(ms):.0f}"
    )


if __name__ == "__main__":
    aio.run(main())  # the loop `inference-bot` runs on
