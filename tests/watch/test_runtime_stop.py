"""Stopping the watch room lets the poll in flight finish instead of cancelling it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot.fakeslack import RunningFakeSlack
from tests.conftest import RunningEmulator
from tests.watch.harness import wait_until, watch_room

pytest_plugins = ["tests.fakes.fixtures"]


async def test_stop_waits_for_the_poll_in_flight_and_logs_no_failed_job(
    emulator: RunningEmulator,
    fake_slack: RunningFakeSlack,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    async with watch_room(
        f"sqlite:///{tmp_path / 'w.db'}", emulator.url, fake_slack.api_url, poll=0.05
    ) as room:
        poller = room.runtime.poller
        await wait_until(_now(room.runtime.leadership.is_leader), 10, "the lease")
        # The next Run:ai list call answers after 0.8 s: a poll is in flight when we stop.
        emulator.state.add_fault(None, count=1, latency_ms=800, path_prefix="/api/v1/workloads")
        await wait_until(_now(lambda: poller.busy), 10, "a poll in flight")
        await room.runtime.stop()
        assert not poller.busy
    failed = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failed == [], [r.getMessage() for r in failed]


def _now(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def ask() -> bool:
        return check()

    return ask


async def test_stop_lets_any_running_job_finish(
    emulator: RunningEmulator,
    fake_slack: RunningFakeSlack,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow_job() -> None:  # an idle check or a republish, say
        started.set()
        await asyncio.sleep(0.5)
        finished.set()

    async with watch_room(
        f"sqlite:///{tmp_path / 'w.db'}", emulator.url, fake_slack.api_url
    ) as room:
        room.runtime.scheduler.add_job(slow_job, "interval", seconds=0.05, id="slow")
        await asyncio.wait_for(started.wait(), 10)
        await room.runtime.stop()
        assert finished.is_set()
    failed = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failed == [], [r.getMessage() for r in failed]
