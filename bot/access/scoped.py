"""The Slack app's org cache and watcher, as access control needs them (composition:
each holds the part it stands in front of, and the request's asker).

`ScopedOrgs`: the create form's project select lists only the projects a bound channel
acts on (and, when the caller's groups are known, those they may create in).
`AuditingWatcher`: watch and unwatch go into the audit trail.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import datetime
from typing import Literal

from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.access.asker import Asker
from bot.access.gate import Gate
from bot.policy import Action, Caller, ProjectRef, decide
from bot.runai import models
from bot.slack.deps import Orgs, OrgsLike, WatcherLike
from bot.slack.errors import UserFacingError

logger = logging.getLogger(__name__)


class ScopedOrgs:
    """An org cache whose answers are narrowed to the asker's channel (and rights)."""

    def __init__(self, cache: OrgsLike, gate: Gate, asker: Asker | None = None) -> None:
        self.cache = cache
        self.gate = gate
        self.asker = asker

    def for_asker(self, asker: Asker | None) -> ScopedOrgs:
        """The same cache, narrowed for `asker`."""
        return ScopedOrgs(self.cache, self.gate, asker)

    def _scope(self, value: Orgs) -> Orgs:
        projects, clusters = value
        asker = self.asker
        if asker is None:
            return value
        refs = [(p, ProjectRef(p.id, p.name)) for p in projects]
        kept = [p for p, ref in refs if self.gate.in_scope(asker, ref)]
        if asker.groups is not None and asker.intent is Action.CREATE:
            caller = Caller(asker.user, asker.channel, asker.groups)
            creatable = [
                p
                for p in kept
                if decide(self.gate.policy, caller, Action.CREATE, ProjectRef(p.id, p.name)).allowed
            ]
            kept = creatable or kept
        return kept, clusters

    def last(self) -> Orgs | None:
        """The last value fetched, narrowed (None when nothing is left: a form needs
        at least one project to offer)."""
        value = self.cache.last()
        scoped = None if value is None else self._scope(value)
        return scoped if scoped and scoped[0] else None

    def peek(self) -> Orgs | None:
        """The fresh cached value, narrowed (None when nothing is left, so the form
        opens through `get` and its "no projects" answer)."""
        value = self.cache.peek()
        scoped = None if value is None else self._scope(value)
        return scoped if scoped and scoped[0] else None

    async def get(self) -> Orgs:
        """Projects and clusters, narrowed."""
        if self.asker is not None:
            await self.gate.caller(self.asker)  # resolve groups, so create rights narrow too
        return self._scope(await self.cache.get())


DATABASE_AWAY = (
    "I can't follow workloads right now: my database does not answer. Everything else "
    "still works; try again in a minute."
)


def _database_away(exc: BaseException) -> bool:
    return isinstance(exc, SQLAlchemyError | OSError | TimeoutError)


def _slack_refused(exc: BaseException) -> UserFacingError | None:
    if not isinstance(exc, SlackApiError):
        return None
    error = exc.response.get("error") if exc.response is not None else None
    said = f" (Slack said {error})" if error else ""
    return UserFacingError(
        f"Slack would not take the workload's message in this channel{said}; invite me "
        "to the channel, or try again in a minute."
    )


class AuditingWatcher:
    """A `WatcherLike` that records watch/unwatch in the audit trail, and says plainly
    when the watch room's database is away."""

    def __init__(self, inner: WatcherLike, gate: Gate, asker: Asker | None = None) -> None:
        self.inner = inner
        self.gate = gate
        self.asker = asker

    def for_asker(self, asker: Asker | None) -> AuditingWatcher:
        """The same watcher, auditing in `asker`'s name."""
        return AuditingWatcher(self.inner, self.gate, asker)

    async def watch(
        self,
        workload: models.Workload | models.Inference,
        *,
        channel: str,
        user: str | None,
        reason: Literal["create", "watch"],
    ) -> str:
        """Follow a workload; a `watch` (not the one after create) is audited."""
        try:
            ts = await self.inner.watch(workload, channel=channel, user=user, reason=reason)
        except Exception as exc:
            if _database_away(exc):
                raise UserFacingError(DATABASE_AWAY) from exc
            refused = _slack_refused(exc)
            if refused is not None:
                raise refused from exc
            raise
        if reason == "watch":
            if isinstance(workload, models.Workload):
                wid, project = workload.id, ProjectRef(workload.project_id, workload.project_name)
            else:
                wid, project = workload.workload_id, ProjectRef(workload.project_id)
            await self.gate.record(
                self.asker,
                "watch",
                workload_id=wid,
                name=workload.name,
                project=project,
                summary=f"watch {workload.name} in <#{channel}>",
                outcome="ok",
            )
        return ts

    async def unwatch(self, workload_id: str, *, channel: str, user: str) -> bool:
        """Stop following; audited when a watch ended."""
        try:
            ended = await self.inner.unwatch(workload_id, channel=channel, user=user)
        except Exception as exc:
            if _database_away(exc):
                raise UserFacingError(DATABASE_AWAY) from exc
            raise
        if ended:
            asker = self.asker
            name = asker.names.get(workload_id) if asker else None
            await self.gate.record(
                asker,
                "unwatch",
                workload_id=workload_id,
                name=name,
                project=asker.projects.get(workload_id) if asker else None,
                summary=f"unwatch {name or workload_id} in <#{channel}>",
                outcome="ok",
            )
        return ended

    async def record(
        self,
        workload_id: str,
        *,
        action: Literal["scale", "update", "delete"],
        user: str,
        summary: str,
    ) -> None:
        """Pass through: the thread line of an action (its audit entry is the client's)."""
        await self.inner.record(workload_id, action=action, user=user, summary=summary)

    async def watched_in(self, channel: str) -> set[str]:
        """Pass through."""
        return await self.inner.watched_in(channel)

    async def follow_only(
        self, workload_id: str, *, channel: str, phases: frozenset[str] | None
    ) -> bool:
        """Pass through (the `watch` it follows is audited)."""
        return await self._quiet(
            self.inner.follow_only(workload_id, channel=channel, phases=phases)
        )

    async def mute(self, workload_id: str, *, channel: str, until: datetime | None) -> bool:
        """Mute; audited when the channel watches the workload."""
        muted = await self._quiet(self.inner.mute(workload_id, channel=channel, until=until))
        if muted:
            words = f" until {until.strftime('%Y-%m-%d %H:%M')} UTC" if until else ""
            await self._audit_quiet("mute", workload_id, f"mute {{name}} in <#{channel}>{words}")
        return muted

    async def unmute(self, workload_id: str, *, channel: str) -> bool:
        """Unmute; audited when the channel watches the workload."""
        unmuted = await self._quiet(self.inner.unmute(workload_id, channel=channel))
        if unmuted:
            await self._audit_quiet("unmute", workload_id, f"unmute {{name}} in <#{channel}>")
        return unmuted

    async def _quiet(self, call: Awaitable[bool]) -> bool:
        try:
            return await call
        except Exception as exc:
            if _database_away(exc):
                raise UserFacingError(DATABASE_AWAY) from exc
            raise

    async def _audit_quiet(self, action: str, workload_id: str, summary: str) -> None:
        asker = self.asker
        name = asker.names.get(workload_id) if asker else None
        await self.gate.record(
            asker,
            action,
            workload_id=workload_id,
            name=name,
            project=asker.projects.get(workload_id) if asker else None,
            summary=summary.format(name=name or workload_id),
            outcome="ok",
        )
