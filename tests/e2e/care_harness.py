"""The bot as `service.assemble` builds it (watch room, access control, schedule loop, the
Bolt app over HTTP), in-process, against the emulator and the fake Slack, with the care
loops on a clock the test moves (`ManualClock`): a cron minute passes in milliseconds."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bot.access import Access, access_for_service
from bot.config import Settings
from bot.fakeslack import FakeSlack, RunningFakeSlack, SlackDriver
from bot.runai import RunaiClient, models
from bot.serving import serve
from bot.slack.app import build_app, build_http_app, make_slack_client
from bot.slack.threads import thread_message
from bot.watch.runtime import WatchRuntime, start_watch
from tests.conftest import RunningEmulator

SECRET = "care-signing-secret"
CLUSTER = "71f69d83-ba66-4822-adf5-55ce55efd210"


def gpu_endpoint(
    name: str = "my-qwen", *, gpus: int = 2, autoscaling: models.AutoScaling | None = None
) -> models.InferenceCreationRequest:
    """The endpoint the care stories look after: a vLLM image holding `gpus` GPUs."""
    return models.InferenceCreationRequest(
        name=name,
        project_id="1",
        cluster_id=CLUSTER,
        spec=models.InferenceSpecSpec(
            image="vllm/vllm-openai:v0.6.3",
            serving_port=models.ServingPort(container=8000),
            compute=models.Compute(gpu_devices_request=gpus),
            autoscaling=autoscaling,
        ),
    )


async def running_endpoint(runai: RunaiClient, request: models.InferenceCreationRequest) -> str:
    """Create it and wait (up to 20 s) until it is Running; its id."""
    created = await runai.create_inference(request)
    workload_id = created.workload_id
    assert workload_id is not None
    for _ in range(400):
        if (await runai.get_workload(workload_id)).phase == "Running":
            return workload_id
        await asyncio.sleep(0.05)
    raise AssertionError(f"{request.name} never reached Running")


class ManualClock:
    """Now as the test sets it; `sleep` returns once the test has moved time past it."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._moved = asyncio.Condition()

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        target = self._now + timedelta(seconds=seconds)
        async with self._moved:
            await self._moved.wait_for(lambda: self._now >= target)

    async def set(self, when: datetime) -> None:
        async with self._moved:
            self._now = when
            self._moved.notify_all()


@dataclass
class CareBot:
    """The running bot and what a test pokes at."""

    driver: SlackDriver
    fake: FakeSlack
    emu: RunningEmulator
    runtime: WatchRuntime
    access: Access
    runai: RunaiClient

    async def patches(self) -> int:
        """PATCHes of inferences the emulator has seen (read in its process: tests poll
        this, and a new HTTP client costs ~20 ms of CPU in its TLS context)."""
        return sum(n for k, n in self.emu.state.stats.calls.items() if k.startswith("PATCH "))


@contextlib.asynccontextmanager
async def running_care_bot(
    emu: RunningEmulator,
    fake_slack: RunningFakeSlack,
    tmp_path: Path,
    clock: ManualClock,
    **settings: Any,
) -> AsyncIterator[CareBot]:
    """Serve the whole bot for the block; the schedule loop runs on `clock`."""
    config = Settings(
        slack_bot_token="xoxb-care",
        slack_signing_secret=SECRET,
        slack_api_url=fake_slack.api_url,
        runai_url=emu.url,
        runai_client_id=emu.client_id,
        runai_client_secret=emu.client_secret,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'care.db'}",
        poll_interval_seconds=0.2,
        **settings,
    )
    async with contextlib.AsyncExitStack() as stack:
        runai = await stack.enter_async_context(
            RunaiClient(emu.url, emu.client_id, emu.client_secret)
        )
        session = aiohttp.ClientSession()
        stack.push_async_callback(session.close)
        slack = make_slack_client(config, session)
        runtime = await start_watch(config, runai, slack, render=thread_message)
        stack.push_async_callback(runtime.stop)
        access = await access_for_service(
            config, runtime, runai, slack, clock=clock.now, sleep=clock.sleep
        )
        app = build_app(
            config, access.runai, slack, access.watcher, orgs=access.orgs, access=access
        )
        srv = await stack.enter_async_context(serve(build_http_app(app)))
        driver = SlackDriver(srv.url, SECRET, fake_slack.fake)
        stack.push_async_callback(driver.aclose)
        yield CareBot(driver, fake_slack.fake, emu, runtime, access, runai)
