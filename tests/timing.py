"""Time for tests: where the code waits for real in production, tests inject the wait.

`RecordedSleep` stands in for `asyncio.sleep`: it notes how long the code asked to wait
(so a test can assert that a Retry-After was honoured) and only yields to the loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class RecordedSleep:
    """An injected sleep that records each requested wait and returns at once."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)
