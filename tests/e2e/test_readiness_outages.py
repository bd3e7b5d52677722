"""`/readyz` during an outage of the database or Run:ai, over the real service: the
replica stays ready (so the Service keeps it and Slack keeps reaching it), the body names
what is down, and users get the bot's own sentence about it (README, "When things fail")."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from bot.fakeslack import MessageRecord, RunningFakeSlack, SlackDriver
from bot.runai import RunaiClient, models
from tests.conftest import RunningEmulator, free_port
from tests.e2e.service_harness import SECRET, running_service, service_settings, wait_healthy

pytest_plugins = ["tests.fakes.fixtures"]

USER = "U0001"
CHANNEL = "C0001"


@contextlib.asynccontextmanager
async def _serve(
    fake_slack: RunningFakeSlack, tmp_path: Path, **settings: Any
) -> AsyncIterator[tuple[str, SlackDriver]]:
    port = free_port()
    config = service_settings(fake_slack, tmp_path, port=port).model_copy(update=settings)
    async with running_service(config) as task:
        url = f"http://127.0.0.1:{port}"
        await wait_healthy(url, task)
        async with SlackDriver(url, SECRET, fake_slack.fake) as driver:
            yield url, driver


async def _said(fake_slack: RunningFakeSlack, text: str) -> MessageRecord:
    return await fake_slack.fake.wait_for(
        lambda: next((m for m in fake_slack.fake.ephemerals(USER) if text in m.all_text()), None),
        timeout=30,
    )


async def test_a_database_outage_keeps_the_replica_ready_and_users_answered(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with RunaiClient(emulator.url, emulator.client_id, emulator.client_secret) as runai:
        await runai.create_inference(
            models.InferenceCreationRequest(
                name="outage-model",
                project_id="1",
                cluster_id="71f69d83-ba66-4822-adf5-55ce55efd210",
                spec=models.InferenceSpecSpec(
                    image="vllm/vllm-openai:v0.6.3",
                    serving_port=models.ServingPort(container=8000),
                ),
            )
        )
    nothing_listens = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    async with _serve(
        fake_slack,
        tmp_path,
        database_url=nothing_listens,
        runai_url=emulator.url,
        runai_client_id=emulator.client_id,
        runai_client_secret=SecretStr(emulator.client_secret),
    ) as (url, driver):
        async with httpx.AsyncClient(base_url=url) as http:
            ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["ready"] is True
        assert body["checks"]["store"] != "ok" and body["checks"]["runai"] == "ok"
        # What needs no database still works; what does says so in the bot's words.
        await driver.command("/inference", "status outage-model", user=USER, channel=CHANNEL)
        await _said(fake_slack, "outage-model")
        await driver.command("/inference", "watch outage-model", user=USER, channel=CHANNEL)
        await _said(fake_slack, "my database does not answer")


async def test_a_runai_outage_keeps_the_replica_ready_and_users_answered(
    fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with _serve(
        fake_slack,
        tmp_path,
        runai_url=f"http://127.0.0.1:{free_port()}",
        runai_client_id="bot",
        runai_client_secret=SecretStr("secret"),
    ) as (url, driver):
        async with httpx.AsyncClient(base_url=url) as http:
            ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["ready"] is True and body["serving"]["schema"] == "ok"
        assert body["checks"]["runai"] != "ok" and body["checks"]["store"] == "ok"
        await driver.command("/inference", "status anything", user=USER, channel=CHANNEL)
        await _said(fake_slack, "Run:ai is unavailable, try again in a minute")
