"""The real Slack app in HTTP mode, in-process, against the fake Slack and the emulator.

`running_bot(emu, fake_slack)` serves `build_http_app(build_app(...))` to a `SlackDriver`
that plays the user. The driver reaches the app in-process (`httpx.ASGITransport`): these
tests are about what the app does, not its socket (tests/e2e/test_commands_service.py and
test_ops.py serve the bot over real HTTP). The emulator and the fake Slack stay real
servers. The app's Slack client waits between retries through `Bot.slack_sleep`, which
records the wait (a 429's Retry-After) instead of spending it. `RecordingWatcher` stands in for the
watch room where a test only needs to see what the app asked of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

import aiohttp
import httpx
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.fakeslack import FakeSlack, MessageRecord, RunningFakeSlack, SlackDriver, ViewRecord
from bot.runai import RunaiCalls, RunaiClient, models
from bot.slack.app import build_app, build_http_app, make_slack_client
from bot.slack.deps import AccessLike, Deps, OrgsLike, WatcherLike
from tests.asgi import asgi_transport
from tests.conftest import TLS, RunningEmulator
from tests.timing import RecordedSleep

SIGNING_SECRET = "e2e-signing-secret"
BOT_TOKEN = "xoxb-e2e"
USER = "U0001"
CHANNEL = "C0001"
BOT_URL = "http://bot.test"  # in-process: the driver's requests never leave the loop
HOSTILE = "<!channel> <@U123> <https://evil|click> &"
# A valid create form (values by block id), for tests that submit the modal.
CREATE_FORM = {
    "f_name": "qwen-small",
    "f_project": "1",
    "f_image": "vllm/vllm-openai:v0.6.3",
    "f_args": "--model Qwen/Qwen2.5-0.5B-Instruct",
    "f_port": "8000",
    "f_gpu_memory": "2GiB",
    "f_min_replicas": "1",
    "f_max_replicas": "2",
    "f_metric": "concurrency",
    "f_threshold": "4",
    "f_env": "HF_HUB_OFFLINE=1",
}


@dataclass
class RecordingWatcher:
    """A watcher that remembers calls (and posts nothing)."""

    watched: list[tuple[str, str, str | None, str]] = field(default_factory=list)
    unwatched: list[tuple[str, str]] = field(default_factory=list)
    records: list[tuple[str, str, str, str]] = field(default_factory=list)
    following: dict[str, set[str]] = field(default_factory=dict)
    quiet: list[tuple[str, str, str, object]] = field(default_factory=list)

    async def watch(
        self,
        workload: models.Workload | models.Inference,
        *,
        channel: str,
        user: str | None,
        reason: Literal["create", "watch"],
    ) -> str:
        wid = workload.id if isinstance(workload, models.Workload) else workload.workload_id
        self.watched.append((wid, channel, user, reason))
        self.following.setdefault(channel, set()).add(wid)
        return "1.000001"

    async def unwatch(self, workload_id: str, *, channel: str, user: str) -> bool:
        self.unwatched.append((workload_id, channel))
        ids = self.following.get(channel, set())
        if workload_id in ids:
            ids.discard(workload_id)
            return True
        return False

    async def record(
        self,
        workload_id: str,
        *,
        action: Literal["scale", "update", "delete"],
        user: str,
        summary: str,
    ) -> None:
        self.records.append((workload_id, action, user, summary))

    async def watched_in(self, channel: str) -> set[str]:
        return set(self.following.get(channel, set()))

    async def follow_only(
        self, workload_id: str, *, channel: str, phases: frozenset[str] | None
    ) -> bool:
        self.quiet.append(("only", workload_id, channel, phases))
        return workload_id in self.following.get(channel, set())

    async def mute(self, workload_id: str, *, channel: str, until: datetime | None) -> bool:
        self.quiet.append(("mute", workload_id, channel, until))
        return workload_id in self.following.get(channel, set())

    async def unmute(self, workload_id: str, *, channel: str) -> bool:
        self.quiet.append(("unmute", workload_id, channel, None))
        return workload_id in self.following.get(channel, set())


class AccessParts(AccessLike, Protocol):
    """Access control as `build_app` takes it (`bot.access.Access`)."""

    runai: RunaiCalls
    watcher: WatcherLike
    orgs: OrgsLike


@dataclass
class Bot:
    """A running bot and the things a test pokes at."""

    url: str
    app: AsyncApp
    deps: Deps
    driver: SlackDriver
    fake: FakeSlack
    emu: RunningEmulator
    runai: RunaiClient
    watcher: Any
    slack_sleep: RecordedSleep = field(default_factory=RecordedSleep)

    async def fault(self, status: int, count: int = 20, path_prefix: str = "/api") -> None:
        """Make the emulator fail the next `count` API calls."""
        async with httpx.AsyncClient(base_url=self.emu.url, verify=TLS) as http:
            r = await http.post(
                "/emulator/faults",
                json={"status": status, "count": count, "latencyMs": 0, "pathPrefix": path_prefix},
            )
            r.raise_for_status()

    async def clear_faults(self) -> None:
        async with httpx.AsyncClient(base_url=self.emu.url, verify=TLS) as http:
            (await http.delete("/emulator/faults")).raise_for_status()

    async def create(self, name: str, project_id: str = "1", **spec: Any) -> models.Inference:
        """Create an inference straight through the API (test setup)."""
        spec.setdefault("image", "vllm/vllm-openai:v0.6.3")
        spec.setdefault("serving_port", models.ServingPort(container=8000))
        return await self.runai.create_inference(
            models.InferenceCreationRequest(
                name=name,
                project_id=project_id,
                cluster_id="71f69d83-ba66-4822-adf5-55ce55efd210",
                spec=models.InferenceSpecSpec(**spec),
            )
        )

    async def reply(
        self, predicate: Callable[[MessageRecord], bool] | None = None, wait: float = 10.0
    ) -> MessageRecord:
        """The first message to the user (ephemeral) matching `predicate`."""

        def found() -> MessageRecord | None:
            for m in self.fake.messages:
                if m.ephemeral_to == USER and (predicate is None or predicate(m)):
                    return m
            return None

        return await self.fake.wait_for(found, timeout=wait)

    async def reply_with(self, text: str, wait: float = 10.0) -> MessageRecord:
        """The first ephemeral reply whose text or blocks contain `text`."""
        return await self.reply(lambda m: text in m.text or text in str(m.blocks), wait)

    async def view(
        self,
        callback_id: str,
        predicate: Callable[[ViewRecord], bool] | None = None,
        wait: float = 10.0,
    ) -> ViewRecord:
        """The open modal with `callback_id` (and matching `predicate`)."""

        def found() -> ViewRecord | None:
            for v in self.fake.iter_open_views():
                if v.callback_id == callback_id and (predicate is None or predicate(v)):
                    return v
            return None

        return await self.fake.wait_for(found, timeout=wait)


@contextlib.asynccontextmanager
async def running_bot(
    emu: RunningEmulator,
    fake_slack: RunningFakeSlack,
    *,
    watcher: WatcherLike | None = None,
    submit_budget: float = 1.5,
    max_retries: int = 1,
    app_runai: RunaiClient | None = None,
    access: Callable[[RunaiClient, AsyncWebClient, WatcherLike], AccessParts] | None = None,
) -> AsyncIterator[Bot]:
    """Serve the bot (HTTP mode) for the block (`app_runai`: the app's own Run:ai client;
    `access`: builds access control over the app's client, Slack client and watcher,
    passed to `build_app` as `service.assemble` does)."""
    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake_slack.api_url,
        runai_url=emu.url,
        runai_client_id=emu.client_id,
        runai_client_secret=emu.client_secret,
    )
    runai = RunaiClient(
        emu.url, emu.client_id, emu.client_secret, max_retries=max_retries, backoff_base=0.01
    )
    session = aiohttp.ClientSession()
    slack_sleep = RecordedSleep()
    slack = make_slack_client(settings, session, sleep=slack_sleep)
    watcher = watcher if watcher is not None else RecordingWatcher()
    if access is None:
        app = build_app(settings, app_runai or runai, slack, watcher, submit_budget=submit_budget)
    else:
        parts = access(app_runai or runai, slack, watcher)
        app = build_app(
            settings,
            parts.runai,
            slack,
            parts.watcher,
            orgs=parts.orgs,
            access=parts,
            submit_budget=submit_budget,
        )
    http_app = build_http_app(app)
    # The app's lifespan as a server runs it: at the end, background work is drained.
    async with runai, http_app.router.lifespan_context(http_app):
        driver = SlackDriver(
            BOT_URL, SIGNING_SECRET, fake_slack.fake, transport=asgi_transport(http_app)
        )
        try:
            yield Bot(
                url=BOT_URL,
                app=app,
                deps=app.deps,  # type: ignore[attr-defined]
                driver=driver,
                fake=fake_slack.fake,
                emu=emu,
                runai=runai,
                watcher=watcher,
                slack_sleep=slack_sleep,
            )
        finally:
            await driver.aclose()
            await session.close()
