"""A fake Slack workspace for tests and `inference-bot demo`: Web API, response URLs, a user driver.

async with serve_fake_slack() as slack:            # slack.url, slack.api_url, slack.fake
    client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
    driver = SlackDriver(bot_url, signing_secret, slack.fake)
    await driver.command("/inference", "create")
    await slack.fake.wait_for(lambda: slack.fake.calls_to("views.open"))
"""

from bot.fakeslack.driver import SlackDriver
from bot.fakeslack.errors import ApiError, SlackDriverError
from bot.fakeslack.server import RunningFakeSlack, create_fake_slack_app, serve_fake_slack
from bot.fakeslack.signing import sign_request
from bot.fakeslack.socket_mode import SocketModeServer, serve_socket_mode
from bot.fakeslack.state import (
    BOT_ID,
    BOT_USER_ID,
    RESPONSE_URL,
    FakeEvent,
    FakeSlack,
    FileRecord,
    MessageRecord,
    RecordedCall,
    ResponseRecord,
    ViewRecord,
    WaitTimeout,
)
from bot.slack.blockkit import block_problems, view_problems

__all__ = [
    "BOT_ID",
    "BOT_USER_ID",
    "RESPONSE_URL",
    "ApiError",
    "FakeEvent",
    "FakeSlack",
    "FileRecord",
    "MessageRecord",
    "RecordedCall",
    "ResponseRecord",
    "RunningFakeSlack",
    "SlackDriver",
    "SlackDriverError",
    "SocketModeServer",
    "ViewRecord",
    "WaitTimeout",
    "block_problems",
    "create_fake_slack_app",
    "serve_fake_slack",
    "serve_socket_mode",
    "sign_request",
    "view_problems",
]
