"""Run the watch room against a served emulator and fake Slack (shared by watch/e2e tests)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.emulator import CLUSTER_ID
from bot.fakeslack import FakeSlack, MessageRecord
from bot.runai import RunaiClient, models
from bot.watch.runtime import WatchRuntime, WatchTuning, start_watch

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
    tuning = tuning or WatchTuning(
        channel_interval=0.05, fast_interval=poll, overlap=5.0, send_timeout=5.0
    )
    runai = RunaiClient(emulator_url, client_id, client_secret, max_retries=0)
    slack = AsyncWebClient(token="xoxb-test", base_url=slack_api_url)
    runtime = await start_watch(settings, runai, slack, tuning)
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
