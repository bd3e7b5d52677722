"""The care features' desk: what the idle nudge's buttons and `/inference digest` need of
the watch room (episodes, Keep, the digest setting and posting), with the audit trail and
the notes in the threads."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.audit import AuditEntry, AuditLog
from bot.utc import utcnow
from bot.watch.care import idle
from bot.watch.care.digest_job import DigestJob
from bot.watch.care_store import Digest
from bot.watch.store import Store

logger = logging.getLogger(__name__)

CARE_OFF = "The care features are not set up on this bot; nothing was changed."


class CareDesk:
    """What the idle buttons need of the watch room: the episode, Keep, audit, notes."""

    def __init__(
        self,
        store: Store,
        audit: AuditLog | None,
        *,
        wake: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
        digests: DigestJob | None = None,
    ) -> None:
        self.store = store
        self.audit = audit
        self.wake = wake
        self.clock = clock
        self.digests = digests

    async def nudged(self, workload_id: str) -> bool:
        """Whether the workload has an open idle episode that was nudged."""
        episode = await self.store.idle_episode(workload_id)
        return episode is not None and episode.nudged_at is not None

    async def keep(
        self, workload_id: str, *, name: str, user: str, channel: str | None
    ) -> datetime:
        """No nudge nor automatic action for `KEEP_FOR`; audited, noted in the threads."""
        until = self.clock() + idle.KEEP_FOR
        await self.store.keep_idle(workload_id, until, user)
        await self.pressed(
            workload_id,
            name=name,
            user=user,
            channel=channel,
            action="keep-idle",
            summary=f"kept {name} for {idle.KEEP_FOR.days} days: no idle nudge until "
            f"{until:%Y-%m-%d %H:%M} UTC",
        )
        return until

    async def pressed(
        self,
        workload_id: str,
        *,
        name: str,
        user: str,
        channel: str | None,
        action: str,
        summary: str,
        note: bool = True,
    ) -> None:
        """Audit a press (outcome ok) and note it in the workload's threads."""
        await self._audit(user, channel, action, summary, workload_id=workload_id, name=name)
        if note and await self.store.record_action(
            workload_id, "idle", user, summary, attribute=False
        ):
            self.wake()

    async def _audit(
        self,
        user: str,
        channel: str | None,
        action: str,
        summary: str,
        *,
        workload_id: str | None = None,
        name: str | None = None,
    ) -> None:
        if self.audit is None:
            return
        entry = AuditEntry(
            user_id=user,
            channel_id=channel,
            action=action,
            workload_id=workload_id,
            workload_name=name,
            project=None,
            summary=summary,
            outcome="ok",
        )
        try:
            await self.audit.add(entry)
        except Exception as exc:  # the trail must never break a command or a button
            logger.warning("audit entry lost", extra={"error": type(exc).__name__})

    async def digest_at(self, channel: str, at_time: str, zone: str, user: str) -> Digest:
        """Turn the channel's daily digest on at `at_time` (HH:MM) in `zone`; audited."""
        digest = await self.store.set_digest(channel, at_time, zone, user, at=self.clock())
        await self._audit(user, channel, "digest", f"daily digest at {at_time} ({zone})")
        return digest

    async def digest_off(self, channel: str, user: str) -> bool:
        """Turn the channel's digest off; False when it was not on. Audited."""
        done = await self.store.disable_digest(channel, at=self.clock())
        if done:
            await self._audit(user, channel, "digest", "daily digest off")
        return done

    async def digest_now(self, channel: str, zone: str) -> bool:
        """Post the channel's digest now (not the daily one); False without a digest job."""
        if self.digests is None:
            return False
        await self.digests.post(channel, zone)
        return True
