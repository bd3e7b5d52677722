"""The smoke bot over Socket Mode: apps.connections.open, envelopes, acks, reconnects."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.fakeslack import RunningFakeSlack, SlackDriver, SocketModeServer
from tests.fakeslack.smoke_bot import connect_smoke_bot


async def test_round_trip_over_socket_mode(
    fake_slack: RunningFakeSlack, fake_socket_mode: SocketModeServer
) -> None:
    fake = fake_slack.fake
    async with (
        connect_smoke_bot(fake_slack.api_url) as bot,
        SlackDriver("", "", fake, socket_mode=fake_socket_mode) as driver,
    ):
        opened = fake.calls_to("apps.connections.open")
        assert opened and opened[0].ok and opened[0].token == "xapp-1-test"

        ack = await driver.command("/inference", "hello")
        assert ack.status_code == 200 and ack.json() == {"text": "working on it"}
        await fake.wait_for(lambda: len(fake.ephemerals("U0001")) == 2)

        await driver.command("/inference", "create")
        await fake.wait_for_call("views.open")
        errors = await driver.submit_view(values={"name": "two words", "replicas": "1"})
        assert errors.json()["response_action"] == "errors"
        await driver.submit_view(values={"name": "ok", "replicas": "1"})
        assert driver.open_views == []
        posted = await fake.wait_for_call("chat.postMessage")
        assert posted.args["text"] == "created ok"

        await fake_socket_mode.disconnect()
        await fake.wait_for(lambda: fake_socket_mode.connects >= 2 and fake_socket_mode.connections)
        again = await driver.command("/inference", "nothing")
        assert again.json() == {"text": "unknown: nothing"}
        assert len(fake.calls_to("apps.connections.open")) >= 2
        assert bot.errors == []


async def test_token_types(fake_slack: RunningFakeSlack) -> None:
    app_client = AsyncWebClient(token="xapp-1", base_url=fake_slack.api_url)
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        await app_client.chat_postMessage(channel="C0001", text="x")
    bot_client = AsyncWebClient(token="xoxb-1", base_url=fake_slack.api_url)
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        await bot_client.apps_connections_open(app_token="xoxb-1")
    with pytest.raises(SlackApiError, match="internal_error"):  # no socket server running
        await bot_client.apps_connections_open(app_token="xapp-1")


async def test_no_ack_is_a_504(
    fake_slack: RunningFakeSlack, fake_socket_mode: SocketModeServer
) -> None:
    web = AsyncWebClient(token="xoxb-1", base_url=fake_slack.api_url)
    url = (await web.apps_connections_open(app_token="xapp-1"))["url"]
    # A raw client that connects and never acks.
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        hello = await ws.receive_json()
        assert hello["type"] == "hello"
        async with SlackDriver(
            "", "", fake_slack.fake, socket_mode=fake_socket_mode, timeout=0.3
        ) as driver:
            response = await driver.command("/inference", "help")
        assert response.status_code == 504
        envelope = await ws.receive_json()
        assert envelope["type"] == "slash_commands" and envelope["payload"]["text"] == "help"
        assert envelope["accepts_response_payload"] is True
