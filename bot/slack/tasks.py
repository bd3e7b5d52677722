"""Work that runs after the ack: asyncio tasks the app owns, so shutdown can drain them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Background:
    """Spawns and tracks the app's post-ack tasks; `drain` waits for them on shutdown.

    Work fired with `fire` runs at most `limit` at a time, so a burst of commands can't
    crowd the event loop and delay the acks of the commands still arriving (acks are what
    Slack times). Work bound to a trigger_id (opening a modal within Slack's 3 s) is fired
    with `urgent=True` and skips the queue.
    """

    def __init__(self, limit: int = 8) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._limit = asyncio.Semaphore(limit)

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        """Run `coro` as a tracked task; its exception stays on the task (await it)."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def fire(self, coro: Coroutine[Any, Any, Any], *, name: str, urgent: bool = False) -> None:
        """Run `coro` as a tracked task nobody awaits: an exception is logged, not lost."""
        task = self.spawn(coro if urgent else self._limited(coro), name=name)
        task.add_done_callback(_log_failure)

    async def _limited(self, coro: Coroutine[Any, Any, T]) -> T:
        async with self._limit:
            return await coro

    async def drain(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait up to `timeout` seconds for running tasks, then cancel what is left."""
        pending = set(self._tasks)
        if not pending:
            return
        _done, still = await asyncio.wait(pending, timeout=timeout)
        for task in still:
            task.cancel()
        if still:
            await asyncio.wait(still, timeout=1.0)
            logger.warning("background tasks cancelled at shutdown", extra={"count": len(still)})


def _log_failure(task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        logger.error("background task failed", exc_info=exc, extra={"task": task.get_name()})
