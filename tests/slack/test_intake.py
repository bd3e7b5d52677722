"""What reaches Bolt, over the real HTTP app: a request without a valid signature is 401
(a timestamp that is not a number included), a signed one whose payload is not shaped
like Slack's is 400 with a log line, before any listener runs."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
from slack_bolt.async_app import AsyncApp

from bot.config import Settings
from bot.fakeslack import RunningFakeSlack
from bot.runai import RunaiClient
from bot.slack.app import build_app, build_http_app, make_slack_client
from tests.e2e.slack_harness import RecordingWatcher

pytest_plugins = ["tests.fakes.fixtures"]

SECRET = "intake-signing-secret"
FORM = "application/x-www-form-urlencoded"
# Nothing listens there: a request that got as far as Run:ai would fail loudly.
NOWHERE = "http://127.0.0.1:9"


def signature(body: bytes, stamp: str, secret: str = SECRET) -> str:
    """Slack's v0 signature of `body` (over the raw bytes, UTF-8 or not)."""
    base = b"v0:" + stamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    return {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature(body, stamp),
    }


def payload(value: object) -> bytes:
    return urlencode({"payload": json.dumps(value)}).encode()


@pytest.fixture
async def app(fake_slack: RunningFakeSlack) -> AsyncIterator[AsyncApp]:
    settings = Settings(
        slack_bot_token="xoxb-intake",
        slack_signing_secret=SECRET,
        slack_api_url=fake_slack.api_url,
        runai_url=NOWHERE,
        runai_client_id="id",
        runai_client_secret="secret",
    )
    async with RunaiClient(NOWHERE, "id", "secret") as runai:
        yield build_app(settings, runai, make_slack_client(settings), RecordingWatcher())


@pytest.fixture
async def http(app: AsyncApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_http_app(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://bot") as client:
        yield client


async def post(http: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await http.post("/slack/events", content=body, headers=headers)


async def test_a_signed_command_still_gets_its_answer(http: httpx.AsyncClient) -> None:
    body = urlencode({"command": "/inference", "text": "help", "user_id": "U1"}).encode()
    response = await post(http, body, signed(body))
    assert response.status_code == 200
    assert "/inference" in response.text


@pytest.mark.parametrize("stamp", ["soon", "12e3", "1700000000.5", "-1"])
async def test_a_timestamp_that_is_not_a_number_is_401(http: httpx.AsyncClient, stamp: str) -> None:
    body = urlencode({"command": "/inference", "text": "help", "user_id": "U1"}).encode()
    headers = {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature(body, stamp),
    }
    response = await post(http, body, headers)
    assert response.status_code == 401


MALFORMED = {
    "payload=[]": payload([]),
    "payload=null": payload(None),
    "payload not JSON": b"payload=%7Bnot-json",
    "body not UTF-8": b"payload=\xff\xfe\xfd",
    "JSON body not an object": b"[1, 2]",
    "block_actions without actions": payload({"type": "block_actions", "user": {"id": "U1"}}),
    "block_actions with no action": payload(
        {"type": "block_actions", "user": {"id": "U1"}, "actions": []}
    ),
    "view as a string": payload(
        {"type": "view_submission", "user": {"id": "U1"}, "view": "inference_create"}
    ),
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
async def test_unsigned_malformed_payloads_are_401(http: httpx.AsyncClient, body: bytes) -> None:
    response = await post(http, body, {"Content-Type": FORM})
    assert response.status_code == 401
    forged = {**signed(body), "X-Slack-Signature": "v0=" + "0" * 64}
    assert (await post(http, body, forged)).status_code == 401


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
async def test_signed_malformed_payloads_are_400_and_logged(
    http: httpx.AsyncClient, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    headers = signed(body)
    if body.startswith(b"["):
        headers["Content-Type"] = "application/json"
    with caplog.at_level(logging.WARNING, logger="bot.slack.app"):
        response = await post(http, body, headers)
    assert response.status_code == 400
    assert any(r.getMessage() == "malformed Slack request refused" for r in caplog.records)
