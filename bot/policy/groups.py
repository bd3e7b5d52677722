"""Slack user groups → members, through the one Web API client, cached briefly."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

logger = logging.getLogger(__name__)


class GroupResolver:
    """Which of the policy's user groups a user belongs to.

    Members of each group are fetched with `usergroups.users.list` and kept `ttl`
    seconds. When Slack cannot answer, the last known members are used (stale beats a
    lockout); a group never fetched counts as empty, so Slack trouble never grants rights.
    """

    def __init__(
        self,
        slack: AsyncWebClient,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        failure_ttl: float = 10.0,
    ) -> None:
        self._slack = slack
        self._ttl = ttl
        self._failure_ttl = failure_ttl
        self._clock = clock
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        # A failed lookup (missing scope, Slack away) is not retried on every request.
        self._failed: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _fresh(self, group: str) -> frozenset[str] | None:
        now = self._clock()
        cached = self._members.get(group)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        failed_at = self._failed.get(group)
        if failed_at is not None and now - failed_at < self._failure_ttl:
            return cached[1] if cached is not None else frozenset()
        return None

    async def members(self, group: str) -> frozenset[str]:
        """User ids in `group` (cached)."""
        fresh = self._fresh(group)
        if fresh is not None:
            return fresh
        lock = self._locks.setdefault(group, asyncio.Lock())
        async with lock:
            fresh = self._fresh(group)
            if fresh is not None:
                return fresh
            cached = self._members.get(group)
            try:
                response = await self._slack.usergroups_users_list(usergroup=group)
            except Exception as exc:
                error = (
                    exc.response.get("error")
                    if isinstance(exc, SlackApiError) and exc.response is not None
                    else type(exc).__name__
                )
                logger.warning(
                    "usergroups.users.list failed", extra={"group": group, "error": error}
                )
                self._failed[group] = self._clock()
                return cached[1] if cached is not None else frozenset()
            users = frozenset(str(u) for u in response.get("users") or [])
            self._members[group] = (self._clock(), users)
            self._failed.pop(group, None)
            return users

    async def groups_of(self, user: str, groups: Iterable[str]) -> frozenset[str]:
        """The subset of `groups` that `user` belongs to."""
        wanted = sorted(set(groups))
        if not wanted:
            return frozenset()
        found = await asyncio.gather(*(self.members(g) for g in wanted))
        return frozenset(g for g, users in zip(wanted, found, strict=True) if user in users)
