"""Leader election through the database: one lease row, renewed every few seconds.

Every replica calls `tick()` on a timer. The holder renews; the others take the lease
only once it has expired, so a dead leader is replaced within `ttl + renew_every`
seconds (15 + 3 by default, well inside the 30 s goal). A replica believes it leads only
until `ttl - safety` after the start of its last successful renewal, measured on its
own clock, so it stops acting before anyone else may take over. Replicas must keep
their clocks in sync (NTP) to well under `safety` seconds.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable

from bot.watch.store import Store
from bot.watch.tuning import DEFAULTS

logger = logging.getLogger(__name__)

LEASE_NAME = "watch-leader"


def make_holder_id() -> str:
    """A name for this process that no other process shares."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Leadership:
    """Holds (or waits for) the watch leader lease."""

    def __init__(
        self,
        store: Store,
        *,
        holder: str | None = None,
        name: str = LEASE_NAME,
        ttl: float = DEFAULTS.lease_ttl,
        renew_every: float = DEFAULTS.lease_renew_every,
        safety: float = DEFAULTS.lease_safety,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if renew_every * 2 >= ttl - safety:
            raise ValueError("renew_every must leave room for a missed renewal within the ttl")
        self.store = store
        self.holder = holder or make_holder_id()
        self.name = name
        self.ttl = ttl
        self.renew_every = renew_every
        self.safety = safety
        self._clock = clock
        self._valid_until = 0.0
        self._epoch: int | None = None
        self._listeners: list[Callable[[bool], None]] = []
        self._reported = False

    @property
    def epoch(self) -> int | None:
        """Epoch of the lease while we hold it (changes with every new holder)."""
        return self._epoch if self.is_leader() else None

    def is_leader(self) -> bool:
        """True while this process may act as the leader."""
        return self._epoch is not None and self._clock() < self._valid_until

    def remaining(self) -> float:
        """Seconds of leadership left before a renewal is needed."""
        return max(0.0, self._valid_until - self._clock()) if self._epoch is not None else 0.0

    def on_change(self, listener: Callable[[bool], None]) -> None:
        """Call `listener(is_leader)` whenever leadership is gained or lost."""
        self._listeners.append(listener)

    async def start(self) -> None:
        """Make sure the lease row exists."""
        await self.store.ensure_lease(self.name)

    async def tick(self) -> bool:
        """Take or renew the lease; returns whether we lead now."""
        started = self._clock()
        try:
            epoch = await self.store.acquire_lease(self.name, self.holder, self.ttl, started)
        except Exception:
            # Keep what we had: leadership runs out on its own at `_valid_until`.
            logger.warning(
                "leader lease renewal failed", extra={"holder": self.holder}, exc_info=True
            )
        else:
            if epoch is None:
                self._epoch = None
                self._valid_until = 0.0
            else:
                if epoch != self._epoch:
                    logger.info("leader elected", extra={"holder": self.holder, "epoch": epoch})
                self._epoch = epoch
                self._valid_until = started + self.ttl - self.safety
        self._report()
        return self.is_leader()

    async def release(self) -> None:
        """Give the lease up (clean shutdown): another replica may take over at once."""
        self._epoch = None
        self._valid_until = 0.0
        try:
            await self.store.release_lease(self.name, self.holder)
        except Exception:
            logger.warning("leader lease release failed", exc_info=True)
        self._report()

    def _report(self) -> None:
        now = self.is_leader()
        if now == self._reported:
            return
        self._reported = now
        if not now:
            logger.info("leadership lost", extra={"holder": self.holder})
        for listener in self._listeners:
            listener(now)
