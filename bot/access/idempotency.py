"""Once per key: a repeated request gets the first one's answer instead of acting again.

Keys are built by the middleware: a Slack retry carries the same trigger_id; a modal
submitted twice carries the same view id and the same values. A failed attempt forgets
its key, so a user who fixes nothing and presses Submit again after an error does retry.
Kept in memory for `ttl` seconds (one process; Slack sends a retry to the same URL).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Idempotency:
    """Remembers keys seen, and the outcome of work done under a key."""

    def __init__(self, ttl: float = 600.0, max_keys: int = 10_000) -> None:
        self._ttl = ttl
        self._max = max_keys
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._work: dict[str, tuple[float, asyncio.Future[Any]]] = {}

    def _expire(self, now: float) -> None:
        while self._seen and (
            len(self._seen) > self._max or now - next(iter(self._seen.values())) > self._ttl
        ):
            self._seen.popitem(last=False)
        for key in [k for k, (at, _) in self._work.items() if now - at > self._ttl]:
            del self._work[key]

    def first_time(self, key: str) -> bool:
        """True the first time `key` is offered within the ttl, False for repeats."""
        now = time.monotonic()
        self._expire(now)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True

    async def once(self, key: str | None, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work` once per key: a repeat waits for, and returns, the first result."""
        if key is None:
            return await work()
        now = time.monotonic()
        self._expire(now)
        known = self._work.get(key)
        if known is not None:
            result: T = await asyncio.shield(known[1])
            return result
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._work[key] = (now, future)
        try:
            value = await work()
        except BaseException as exc:
            self._work.pop(key, None)
            if not future.done():
                future.set_exception(exc)
                future.exception()  # retrieved: waiters re-raise it, nobody else must
            raise
        future.set_result(value)
        return value
