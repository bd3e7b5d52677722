"""Operations: /healthz, /readyz, /metrics, and SIGTERM with a command in flight."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import httpx
import pytest

from bot.fakeslack import RunningFakeSlack, SlackDriver
from bot.ops import Readiness, ops_app
from bot.runai import RunaiClient
from bot.serving import serve
from bot.watch.db.migrate import HEAD, revision
from bot.watch.leader import LEASE_NAME
from bot.watch.store import Store
from tests.conftest import RunningEmulator, free_port
from tests.e2e.slack_harness import running_bot


async def test_readyz_passes_with_store_and_runai_up(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'ready.db'}")
    await store.create_schema()
    async with RunaiClient(emulator.url, emulator.client_id, emulator.client_secret) as runai:
        app = ops_app(
            Readiness(
                {"store": store.ping, "runai": runai.check_auth},
                schema=lambda: revision(store.engine),
                head=HEAD,
            )
        )
        async with serve(app) as srv, httpx.AsyncClient(base_url=srv.url) as http:
            ready = await http.get("/readyz")
            health = await http.get("/healthz")
    await store.close()
    assert health.status_code == 200
    assert ready.status_code == 200
    assert ready.json() == {
        "ready": True,
        "serving": {"started": "ok", "shutdown": "ok", "schema": "ok"},
        "checks": {"store": "ok", "runai": "ok"},
    }


async def test_readyz_reports_but_does_not_fail_when_store_and_runai_are_down(
    emulator: RunningEmulator,
) -> None:
    port = free_port()
    down_store = Store(f"postgresql+psycopg://postgres@127.0.0.1:{port}/test")
    bad_runai = RunaiClient(emulator.url, emulator.client_id, "wrong-secret", max_retries=0)
    async with bad_runai:
        readiness = Readiness(
            {"store": down_store.ping, "runai": bad_runai.check_auth},
            schema=lambda: revision(down_store.engine),
            head=HEAD,
        )
        async with serve(ops_app(readiness)) as srv, httpx.AsyncClient(base_url=srv.url) as http:
            ready = await http.get("/readyz")
            health = await http.get("/healthz")
    await down_store.close()
    assert health.status_code == 200, "the process is up even when its dependencies are not"
    # Both replicas staying in the Service is what lets users read the bot's own
    # "When things fail" sentences during the outage: the body says what is down.
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True and body["serving"]["schema"] == "ok"  # unknown: not a block
    assert body["checks"]["store"] != "ok" and body["checks"]["runai"] != "ok"
    assert "wrong-secret" not in ready.text


async def test_readyz_fails_while_starting_shutting_down_or_behind_on_migrations(
    tmp_path: Path,
) -> None:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}")  # never migrated
    readiness = Readiness(
        {"store": store.ping}, schema=lambda: revision(store.engine), head=HEAD, started=False
    )
    stopping = False
    readiness.stopping = lambda: stopping
    async with serve(ops_app(readiness)) as srv, httpx.AsyncClient(base_url=srv.url) as http:
        starting = await http.get("/readyz")
        readiness.started = True
        behind = await http.get("/readyz")
        await store.create_schema()
        migrated = await http.get("/readyz")
        stopping = True
        leaving = await http.get("/readyz")
    await store.close()
    assert starting.status_code == 503 and starting.json()["serving"]["started"] == "starting"
    assert behind.status_code == 503
    assert "migrations not applied" in behind.json()["serving"]["schema"]
    assert f"needs {HEAD}" in behind.json()["serving"]["schema"]
    assert migrated.status_code == 200 and migrated.json()["checks"] == {"store": "ok"}
    assert leaving.status_code == 503 and leaving.json()["serving"]["shutdown"] == "shutting down"


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_move_after_commands(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack
) -> None:
    async with running_bot(emulator, fake_slack) as bot, serve(ops_app()) as ops:
        await bot.create("metrics-probe")
        async with httpx.AsyncClient(base_url=ops.url) as http:
            before = (await http.get("/metrics")).text
            await bot.driver.command("/inference", "status metrics-probe")
            await bot.reply_with("metrics-probe")
            await bot.driver.command("/inference", "status no-such-thing")
            await bot.reply_with("no-such-thing")
            await bot.driver.command("/inference", "frobnicate")
            after = (await http.get("/metrics")).text
    name = "inference_bot_commands_total"
    assert _sample(after, name, subcommand="Status", outcome="ok") == (
        _sample(before, name, subcommand="Status", outcome="ok") + 1
    )
    failed_before = sum(
        _sample(before, name, subcommand="Status", outcome=o)
        for o in ("NoSuchWorkload", "NotFoundError")
    )
    failed_after = sum(
        _sample(after, name, subcommand="Status", outcome=o)
        for o in ("NoSuchWorkload", "NotFoundError")
    )
    assert failed_after == failed_before + 1
    assert _sample(after, name, subcommand="unparsed", outcome="usage_error") == (
        _sample(before, name, subcommand="unparsed", outcome="usage_error") + 1
    )


async def _wait_healthy(url: str, proc: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            if proc.returncode is not None:
                raise AssertionError(f"bot exited early with {proc.returncode}")
            try:
                if (await http.get(url + "/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("bot never became ready")


@pytest.mark.slow  # a real `inference-bot run` process, stopped by a real SIGTERM
async def test_sigterm_finishes_the_command_in_flight_and_hands_leadership_over(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    port = free_port()
    db = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RUNAI_"))}
    env.update(
        {
            "PORT": str(port),
            "SLACK_BOT_TOKEN": "xoxb-ops",
            "SLACK_SIGNING_SECRET": "ops-secret",
            "SLACK_API_URL": fake_slack.api_url,
            "RUNAI_URL": emulator.url,
            "RUNAI_CLIENT_ID": emulator.client_id,
            "RUNAI_CLIENT_SECRET": emulator.client_secret,
            "DATABASE_URL": db,
            "LOG_FORMAT": "json",
        }
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, stderr=asyncio.subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_healthy(url, proc)
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(url + "/metrics")).text
        assert _sample(metrics, "inference_bot_leader") == 1.0
        # Every Run:ai call of the command now takes 1.5 s: it is in flight at SIGTERM.
        emulator.state.add_fault(None, 3, latency_ms=1500, path_prefix="/api/v1/workloads")
        async with SlackDriver(url, "ops-secret", fake_slack.fake) as driver:
            ack = await driver.command("/inference", "status slow-one")
        assert ack.status_code == 200
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode()[-2000:]
    # The reply of the command that was in flight still reached the user.
    reply = await fake_slack.fake.wait_for(
        lambda: [m for m in fake_slack.fake.messages if "slow-one" in m.all_text()], timeout=5
    )
    assert reply
    logs = stderr.decode()
    assert all(line.startswith("{") for line in logs.splitlines() if line.strip()), logs[-2000:]
    # The lease was given up, so another replica can take over at once.
    store = Store(db)
    lease = await store.lease(LEASE_NAME)
    await store.close()
    assert lease is not None and lease[1] == 0.0
