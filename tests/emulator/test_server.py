"""`inference-bot emulator`: serve_forever logs where it listens and what it accepts."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from bot.config import Settings
from bot.emulator.server import serve_forever
from tests.conftest import free_port


async def test_serve_forever_uses_settings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.emulator.server")
    settings = Settings(
        runai_client_id="svc", runai_client_secret="s3cret", emulator_phase_seconds=0.5
    )
    port = free_port()
    task = asyncio.create_task(serve_forever(settings, "127.0.0.1", port))
    try:
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url) as client:
            deadline = asyncio.get_running_loop().time() + 10
            while True:
                try:
                    response = await client.post(
                        "/api/v1/token",
                        json={
                            "grantType": "client_credentials",
                            "clientID": "svc",
                            "clientSecret": "s3cret",
                        },
                    )
                    break
                except httpx.ConnectError:
                    assert asyncio.get_running_loop().time() < deadline, "emulator never listened"
                    await asyncio.sleep(0.05)
            assert response.status_code == 200
            demo = await client.post(
                "/api/v1/token",
                json={
                    "grantType": "client_credentials",
                    "clientID": "demo",
                    "clientSecret": "demo",
                },
            )
            assert demo.status_code == 401
        [record] = [r for r in caplog.records if r.getMessage() == "emulator listening"]
        assert record.url == url  # type: ignore[attr-defined]
        assert record.client_id == "svc"  # type: ignore[attr-defined]
        assert "s3cret" not in str(record.__dict__)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_defaults_to_demo_credentials() -> None:
    port = free_port()
    task = asyncio.create_task(serve_forever(Settings(), "127.0.0.1", port))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            deadline = asyncio.get_running_loop().time() + 10
            while True:
                try:
                    response = await client.post(
                        "/api/v1/token",
                        json={"grantType": "app_token", "AppId": "demo", "AppSecret": "demo"},
                    )
                    break
                except httpx.ConnectError:
                    assert asyncio.get_running_loop().time() < deadline, "emulator never listened"
                    await asyncio.sleep(0.05)
            assert response.status_code == 200
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
