"""Run the watch room against a served emulator and fake Slack (shared by watch/e2e tests)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.emulator import CLUSTER_ID
from bot.fakeslack import FakeSlack, MessageRecord
from bot.runai import RunaiClient, models
from bot.slack.threads import thread_message
from bot.watch.notifier import Notifier
from bot.watch.runtime import WatchRuntime, WatchTuning, start_watch
from bot.watch.store import Store
from bot.watch.watcher import Watcher

ROOT = Path(__file__).resolve().parents[2]

CHANNEL = "C0001"
USER = "U0001"


@dataclass
class Room:
    """A running watch room plus the clients it uses."""

    runtime: WatchRuntime
    runai: RunaiClient
    slack: AsyncWebClient


@contextlib.asynccontextmanager
async def watch_room(
    database_url: str,
    emulator_url: str,
    slack_api_url: str,
    *,
    client_id: str = "test-client",
    client_secret: str = "test-secret",
    poll: float = 0.2,
    reconcile: float = 30.0,
    tuning: WatchTuning | None = None,
) -> AsyncIterator[Room]:
    """Start `start_watch` on the given database, emulator and fake Slack."""
    settings = Settings(
        database_url=database_url,
        poll_interval_seconds=poll,
        reconcile_interval_seconds=reconcile,
    )
    # The stories prove order and exactly-once through Slack failures, not the backoff's
    # length (test_notifier.test_classify does): retry 5xx after 50 ms, not 0.5 s doubling.
    tuning = tuning or WatchTuning(
        channel_interval=0.05,
        fast_interval=poll,
        overlap=5.0,
        send_timeout=5.0,
        retry_backoff=0.05,
        retry_backoff_max=1.0,
    )
    runai = RunaiClient(emulator_url, client_id, client_secret, max_retries=0)
    slack = AsyncWebClient(token="xoxb-test", base_url=slack_api_url)
    runtime = await start_watch(settings, runai, slack, tuning, render=thread_message)
    try:
        yield Room(runtime=runtime, runai=runai, slack=slack)
    finally:
        await runtime.stop()
        await runai.aclose()


def inference_request(name: str, image: str = "vllm/vllm-openai:latest") -> Any:
    """A valid create request for the emulator."""
    return models.InferenceCreationRequest(
        name=name,
        project_id="1",
        cluster_id=CLUSTER_ID,
        spec=models.InferenceSpecSpec(
            image=image,
            serving_port=models.ServingPort(container=8000),
            autoscaling=models.AutoScaling(
                min_replicas=1, max_replicas=2, metric="throughput", metric_threshold=10
            ),
        ),
    )


def replies(fake: FakeSlack, thread_ts: str, channel: str = CHANNEL) -> list[MessageRecord]:
    """Thread replies under a parent, oldest first."""
    return fake.thread_replies(channel, thread_ts)


def replies_matching(
    fake: FakeSlack, thread_ts: str, predicate: Callable[[MessageRecord], bool]
) -> list[MessageRecord]:
    """Replies that satisfy `predicate`."""
    return [m for m in replies(fake, thread_ts) if predicate(m)]


def mentions(fake: FakeSlack, thread_ts: str, needle: str) -> Callable[[], MessageRecord | None]:
    """A `wait_for` predicate: the first reply whose text contains `needle`."""

    def find() -> MessageRecord | None:
        for m in replies(fake, thread_ts):
            if needle in m.text:
                return m
        return None

    return find


class NoLease:
    """A lease that is never held: a Watcher that only posts parents (the Slack app side)."""

    holder = "test-front"
    name = "watch-leader"

    def is_leader(self) -> bool:
        """Never the leader."""
        return False


@dataclass
class Worker:
    """A `python -m bot.worker` subprocess."""

    proc: asyncio.subprocess.Process
    log: Path

    @property
    def pid(self) -> int:
        """Its process id."""
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, the lease is left to expire."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        """SIGTERM and wait (or SIGKILL after 10 s)."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def spawn_worker(
    log: Path,
    *,
    database_url: str,
    emulator_url: str,
    slack_api_url: str,
    schema: str | None = None,
    lease_ttl: float = 4.0,
    renew_every: float = 1.0,
    extra_args: Sequence[str] = (),
) -> Worker:
    """Start a watch worker subprocess against the emulator and the fake Slack over HTTP."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "RUNAI_URL": emulator_url,
        "RUNAI_CLIENT_ID": "test-client",
        "RUNAI_CLIENT_SECRET": "test-secret",
        "SLACK_API_URL": slack_api_url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "POLL_INTERVAL_SECONDS": "0.2",
        "RECONCILE_INTERVAL_SECONDS": "5",
        "LOG_LEVEL": "INFO",
    }
    args = [
        sys.executable,
        "-m",
        "bot.worker",
        "--lease-ttl",
        str(lease_ttl),
        "--renew-every",
        str(renew_every),
        "--lease-safety",
        "1",
        "--channel-interval",
        "0.05",
        "--fast-interval",
        "0.2",
        "--overlap",
        "5",
        "--send-timeout",
        "2",
    ]
    if schema is not None:
        args += ["--db-schema", schema]
    args += list(extra_args)
    handle = log.open("ab")
    proc = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=handle, stderr=asyncio.subprocess.STDOUT, cwd=str(ROOT)
    )
    handle.close()
    return Worker(proc=proc, log=log)


def front_watcher(store: Store, slack: AsyncWebClient) -> Watcher:
    """The Slack app's side of the room: posts parents, writes watches, never delivers."""
    return Watcher(store, Notifier(store, slack, NoLease(), render=thread_message))


async def wait_until(predicate: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    """Poll an async predicate until it holds or the deadline passes."""
    deadline = time.monotonic() + within
    while True:
        if await predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def transition_paths(fake: FakeSlack, thread_ts: str, channel: str = CHANNEL) -> list[str]:
    """`Old → New` of each transition reply in a thread, oldest first."""
    out = []
    for m in replies(fake, thread_ts, channel):
        if "→" in m.text:
            out.append(m.text.split(": ", 1)[1].split(",")[0])
    return out
