"""Fakes for tests: the fake Slack lives in `bot.fakeslack` (the demo embeds it); fixtures in
`tests.fakes.fixtures`."""

from bot.fakeslack import (
    FakeSlack,
    MessageRecord,
    RecordedCall,
    RunningFakeSlack,
    SlackDriver,
    ViewRecord,
    create_fake_slack_app,
    serve_fake_slack,
    sign_request,
)

__all__ = [
    "FakeSlack",
    "MessageRecord",
    "RecordedCall",
    "RunningFakeSlack",
    "SlackDriver",
    "ViewRecord",
    "create_fake_slack_app",
    "serve_fake_slack",
    "sign_request",
]
