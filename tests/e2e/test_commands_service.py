"""`run_service` as `inference-bot run` starts it: embedded emulator (no RUNAI_URL), the watch
room, and each transport: HTTP (signed POST /slack/events, GET /healthz) and Socket Mode."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from bot.fakeslack import RunningFakeSlack, SlackDriver, serve_socket_mode
from tests.conftest import free_port
from tests.e2e.service_harness import SECRET, running_service, service_settings, wait_healthy

pytest_plugins = ["tests.fakes.fixtures"]


async def test_http_mode_with_the_embedded_emulator(
    fake_slack: RunningFakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    port = free_port()
    async with running_service(service_settings(fake_slack, tmp_path, port=port)) as task:
        url = f"http://127.0.0.1:{port}"
        await wait_healthy(url, task)
        assert "embedded Run:ai emulator" in caplog.text
        async with SlackDriver(url, SECRET, fake_slack.fake) as driver:
            bad = await driver.command("/inference", "list", signing_secret="wrong-secret")
            assert bad.status_code == 401
            assert fake_slack.fake.calls_to("chat.postEphemeral") == []
            await driver.command("/inference", "list")

            def answered() -> object:
                return [
                    m
                    for m in fake_slack.fake.ephemerals("U0001")
                    if "inference workloads" in m.text.lower()
                ]

            await fake_slack.fake.wait_for(answered, timeout=15)
            assert not [m for m in fake_slack.fake.messages if "wrong" in m.text]


async def test_socket_mode(fake_slack: RunningFakeSlack, tmp_path: Path) -> None:
    async with serve_socket_mode(fake_slack.fake) as server:
        health_port = free_port()
        settings = service_settings(
            fake_slack, tmp_path, slack_app_token="xapp-1-test", health_port=health_port
        )
        async with running_service(settings) as task:
            await server.wait_connected(timeout=20)
            # Socket Mode has no HTTP server for Slack; probes and metrics get a side port.
            side = f"http://127.0.0.1:{health_port}"
            await wait_healthy(side, task)
            async with httpx.AsyncClient(base_url=side) as http:
                ready = await http.get("/readyz")
                metrics = await http.get("/metrics")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"store": "ok", "runai": "ok"}
            assert "inference_bot_leader 1.0" in metrics.text
            async with SlackDriver(
                "http://unused", SECRET, fake_slack.fake, socket_mode=server
            ) as driver:
                ack = await driver.command("/inference", "help")
                assert ack.status_code == 200
                await driver.command("/inference", "status nothing-here")

                def answered() -> object:
                    return [
                        m
                        for m in fake_slack.fake.ephemerals("U0001")
                        if "no inference named nothing-here" in m.text
                    ]

                await fake_slack.fake.wait_for(answered, timeout=15)

                # The project search's options travel back in the envelope's ack.
                await driver.command("/inference", "create")
                view = await fake_slack.fake.wait_for(
                    lambda: next(
                        (v for v in driver.open_views if v.callback_id == "inference_create"),
                        None,
                    ),
                    timeout=15,
                )
                found = await driver.suggest(view, "f_project", "TEAM-B")
                assert [o["text"]["text"] for o in found.json()["options"]] == ["team-b"]
