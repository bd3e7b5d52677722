"""The app's Slack client retries through the fake Slack, waiting through an injected sleep."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.fakeslack import RunningFakeSlack
from bot.slack.app import make_slack_client
from tests.timing import RecordedSleep


def client_of(fake_slack: RunningFakeSlack, sleep: RecordedSleep) -> AsyncWebClient:
    """The app's Web API client (`make_slack_client`) against the fake Slack."""
    settings = Settings(slack_bot_token="xoxb-reply", slack_api_url=fake_slack.api_url)
    return make_slack_client(settings, sleep=sleep)


async def test_a_429_waits_its_retry_after(fake_slack: RunningFakeSlack) -> None:
    sleep = RecordedSleep()
    fake_slack.fake.fail_next("chat.postMessage", status=429, retry_after=7, count=2)
    posted = await client_of(fake_slack, sleep).chat_postMessage(channel="C0001", text="hi")
    assert posted["ok"]
    statuses = [c.status for c in fake_slack.fake.calls_to("chat.postMessage")]
    assert statuses == [429, 429, 200]
    assert len(sleep.waits) == 2 and all(7 <= w < 8 for w in sleep.waits)


async def test_server_errors_back_off_then_give_up(fake_slack: RunningFakeSlack) -> None:
    sleep = RecordedSleep()
    fake_slack.fake.fail_next("chat.postMessage", status=503, count=5)
    with pytest.raises(SlackApiError):
        await client_of(fake_slack, sleep).chat_postMessage(channel="C0001", text="hi")
    statuses = [c.status for c in fake_slack.fake.calls_to("chat.postMessage")]
    assert statuses == [503, 503, 503]  # the first try and two retries
    assert len(sleep.waits) == 2 and all(w > 0 for w in sleep.waits)
