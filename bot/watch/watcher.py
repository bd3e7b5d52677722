"""`Watcher`: what the Slack app calls to follow, stop following and annotate workloads."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Literal

from bot.runai import RunaiClient, errors, models
from bot.watch.diff import Observation, observed_parent
from bot.watch.notifier import Notifier
from bot.watch.observe import observe
from bot.watch.store import Store

logger = logging.getLogger(__name__)

LOOKUP_TIMEOUT = 3.0


class Watcher:
    """Front door of the watch room; safe to call on any replica (state is in the store)."""

    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        *,
        runai: RunaiClient | None = None,
        on_queue: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.runai = runai
        self._on_queue = on_queue or notifier.wake

    async def _snapshot(self, workload: models.Workload | models.Inference) -> Observation:
        """What the parent shows first: the workloads view of a just-created inference
        (project name, URLs, phase message) when Run:ai answers quickly, else the body."""
        if isinstance(workload, models.Inference) and self.runai is not None:
            try:
                detailed = await asyncio.wait_for(
                    self.runai.get_workload(workload.workload_id), timeout=LOOKUP_TIMEOUT
                )
            except (errors.RunaiError, TimeoutError) as exc:
                logger.info(
                    "workload details not available yet; parent shows the create answer",
                    extra={"workload_id": workload.workload_id, "error": str(exc)},
                )
            else:
                seen = observe(detailed)
                fallback = observe(workload)
                return replace(seen, image=seen.image or fallback.image)
        return observe(workload)

    async def watch(
        self,
        workload: models.Workload | models.Inference,
        *,
        channel: str,
        user: str | None,
        reason: Literal["create", "watch"],
    ) -> str:
        """Post the parent message for a workload in `channel` and follow it; returns its ts.

        Watching a workload the channel already follows returns the existing parent.
        """
        obs = await self._snapshot(workload)
        existing = await self.store.get_watch(obs.workload_id, channel)
        if existing is not None and existing.active:
            return existing.parent_ts
        parent_ts = await self.notifier.post_parent(channel, observed_parent(obs))
        await self.store.add_watch(
            obs,
            channel=channel,
            parent_ts=parent_ts,
            reason=reason,
            user=user,
            workload_created_at=workload.created_at,
        )
        logger.info(
            "watch started",
            extra={"workload_id": obs.workload_id, "channel": channel, "reason": reason},
        )
        return parent_ts

    async def unwatch(self, workload_id: str, *, channel: str, user: str) -> bool:
        """Stop following a workload in a channel (the thread says so); False if not watched."""
        ended = await self.store.end_watch(workload_id, channel, user)
        if ended:
            self._on_queue()
            logger.info("watch ended", extra={"workload_id": workload_id, "channel": channel})
        return ended

    async def record(
        self,
        workload_id: str,
        *,
        action: Literal["scale", "update", "delete"],
        user: str,
        summary: str,
    ) -> None:
        """Tell every thread following the workload what a user just did from Slack."""
        if await self.store.record_action(workload_id, action, user, summary):
            self._on_queue()

    async def watched_in(self, channel: str) -> set[str]:
        """Workload ids followed in a channel."""
        return await self.store.watched_in(channel)

    async def follow_only(
        self, workload_id: str, *, channel: str, phases: frozenset[str] | None
    ) -> bool:
        """A (re)started watch: every quiet setting reset (unmuted, not flapping), then
        thread replies only for `phases` (None: every phase); False when not watched."""
        if not await self.store.reset_quiet(workload_id, channel):
            return False
        return await self.store.set_only_phases(workload_id, channel, phases)

    async def mute(self, workload_id: str, *, channel: str, until: datetime | None) -> bool:
        """No thread replies (nor alerts) until `until` (None: until unmuted); False when
        the channel does not watch the workload."""
        if until is None:
            return await self.store.mute_watch(workload_id, channel)
        return await self.store.mute_watch(workload_id, channel, until)

    async def unmute(self, workload_id: str, *, channel: str) -> bool:
        """Thread replies again; False when the channel does not watch the workload."""
        return await self.store.unmute_watch(workload_id, channel)
