"""Hand-driven time for the watch room's parts: a clock, and a sleep that only moves it."""

from __future__ import annotations

import asyncio
import time


class FakeTime:
    """`clock=t` and `sleep=t.sleep`: a 20-second story runs in milliseconds."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Move the clock on by `seconds` and let the other tasks run."""
        self.slept.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)
