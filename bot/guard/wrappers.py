"""The Slack app's org cache and watcher, as the guard rails need them.

`ScopedOrgCache`: the create form's project select lists only the projects a bound
channel acts on (and, when the caller's groups are known, those they may create in).
`AuditingWatcher`: watch and unwatch go into the audit trail. `StoreNotes`: a line in a
workload's threads that attributes nothing (denials), through the watch store's outbox.
"""

from __future__ import annotations

import logging
from typing import Literal

from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.guard.context import current
from bot.guard.gate import Gate
from bot.policy import Action, Caller, ProjectRef, decide
from bot.runai import RunaiClient, models
from bot.slack.deps import OrgCache, WatcherLike
from bot.slack.errors import UserFacingError

logger = logging.getLogger(__name__)

Orgs = tuple[list[models.Project], list[models.Cluster]]


class ScopedOrgCache(OrgCache):
    """`OrgCache` whose answers are narrowed to the current request's channel."""

    def __init__(self, runai: RunaiClient, gate: Gate, ttl: float = 60.0) -> None:
        super().__init__(runai, ttl)
        self.gate = gate

    def _scope(self, value: Orgs) -> Orgs:
        projects, clusters = value
        asking = current()
        if asking is None:
            return value
        refs = [(p, ProjectRef(p.id, p.name)) for p in projects]
        kept = [p for p, ref in refs if self.gate.in_scope(ref)]
        if asking.groups is not None and asking.intent is Action.CREATE:
            caller = Caller(asking.user, asking.channel, asking.groups)
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
        value = super().last()
        scoped = None if value is None else self._scope(value)
        return scoped if scoped and scoped[0] else None

    def peek(self) -> Orgs | None:
        """The fresh cached value, narrowed (None when nothing is left, so the form
        opens through `get` and its "no projects" answer)."""
        value = super().peek()
        scoped = None if value is None else self._scope(value)
        return scoped if scoped and scoped[0] else None

    async def get(self) -> Orgs:
        """Projects and clusters, narrowed."""
        asking = current()
        if asking is not None:
            await self.gate.caller(asking)  # resolve groups, so create rights narrow too
        return self._scope(await super().get())


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

    def __init__(self, inner: WatcherLike, gate: Gate) -> None:
        self.inner = inner
        self.gate = gate

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
            asking = current()
            name = asking.names.get(workload_id) if asking else None
            await self.gate.record(
                "unwatch",
                workload_id=workload_id,
                name=name,
                project=asking.projects.get(workload_id) if asking else None,
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
