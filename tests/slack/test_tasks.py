"""Post-ack work: tracked, bounded, drained."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.slack.tasks import Background


async def test_fire_is_bounded_but_urgent_skips_the_queue() -> None:
    tasks = Background(limit=2)
    release = asyncio.Event()
    running: list[str] = []

    async def job(name: str) -> None:
        running.append(name)
        await release.wait()

    for i in range(4):
        tasks.fire(job(f"slow-{i}"), name=f"slow-{i}")
    tasks.fire(job("urgent"), name="urgent", urgent=True)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while len(running) < 3:
        assert loop.time() < deadline
        await asyncio.sleep(0.01)
    assert "urgent" in running and len(running) == 3
    assert len(tasks) == 5
    release.set()
    await tasks.drain(5)
    assert len(running) == 5 and len(tasks) == 0


async def test_failures_are_logged_and_drain_cancels_stragglers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = Background()

    async def boom() -> None:
        raise RuntimeError("boom")

    async def forever() -> None:
        await asyncio.Event().wait()

    tasks.fire(boom(), name="boom")
    tasks.fire(forever(), name="forever")
    with caplog.at_level(logging.WARNING):
        await tasks.drain(0.2)
    assert "background task failed" in caplog.text
    assert "cancelled at shutdown" in caplog.text
    assert len(tasks) == 0
