"""Pytest fixtures for the fake Slack; enable with `pytest_plugins = ["tests.fakes.fixtures"]`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bot.fakeslack import (
    FakeSlack,
    RunningFakeSlack,
    SlackDriver,
    SocketModeServer,
    serve_fake_slack,
    serve_socket_mode,
)

MakeDriver = Callable[..., SlackDriver]


@pytest.fixture
async def fake_slack() -> AsyncIterator[RunningFakeSlack]:
    """A fake Slack served on a loopback port: `.url`, `.api_url` (url + '/api/'), `.fake`."""
    async with serve_fake_slack(FakeSlack()) as running:
        yield running


@pytest.fixture
async def fake_socket_mode(fake_slack: RunningFakeSlack) -> AsyncIterator[SocketModeServer]:
    """A Socket Mode endpoint for `fake_slack` (apps.connections.open returns its URL)."""
    async with serve_socket_mode(fake_slack.fake) as server:
        yield server


@pytest.fixture
async def make_slack_driver(fake_slack: RunningFakeSlack) -> AsyncIterator[MakeDriver]:
    """Factory `make_slack_driver(bot_url, signing_secret, **kw) -> SlackDriver` on `fake_slack`."""
    drivers: list[SlackDriver] = []

    def make(bot_url: str, signing_secret: str, **kw: object) -> SlackDriver:
        driver = SlackDriver(bot_url, signing_secret, fake_slack.fake, **kw)  # type: ignore[arg-type]
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        await driver.aclose()
