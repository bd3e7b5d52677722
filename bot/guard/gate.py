"""The policy enforcement point: decide, refuse with the rule's words, audit, note.

`Gate` holds the policy, the group resolver and the audit log; `GuardedRunai`, the
scoped org cache, the auditing watcher and the middleware all ask it.
"""

from __future__ import annotations

import logging
from typing import Protocol

from bot.audit import AuditEntry, AuditLog
from bot.guard.context import Asking, current
from bot.policy import (
    NO_ASK,
    Action,
    Ask,
    Caller,
    Decision,
    Denied,
    GroupResolver,
    Policy,
    ProjectRef,
    decide,
    in_channel_scope,
)
from bot.slack.errors import UserFacingError

logger = logging.getLogger(__name__)


class PolicyDenied(UserFacingError):
    """The policy refused; the sentence names the rule."""

    def __init__(self, denied: Denied) -> None:
        super().__init__(denied.sentence())
        self.denied = denied


class Notes(Protocol):
    """What the gate needs from the watch room: a line in a workload's threads."""

    async def note(self, workload_id: str, *, action: str, user: str, summary: str) -> None: ...


class Gate:
    """Decides for the current request and keeps the trail."""

    def __init__(
        self,
        policy: Policy,
        groups: GroupResolver | None,
        audit: AuditLog | None,
        notes: Notes | None = None,
    ) -> None:
        self.policy = policy
        self.groups = groups
        self.audit = audit
        self.notes = notes

    async def caller(self, asking: Asking) -> Caller:
        """The `Caller` of a request, with its user groups resolved (once per request)."""
        if asking.groups is None:
            wanted = self.policy.groups()
            if wanted and self.groups is not None:
                asking.groups = await self.groups.groups_of(asking.user, wanted)
            else:
                asking.groups = frozenset()
        return Caller(asking.user, asking.channel, asking.groups)

    def in_scope(self, project: ProjectRef) -> bool:
        """Whether the current request's channel may act on `project` (binding only)."""
        asking = current()
        return asking is None or in_channel_scope(self.policy, asking.channel, project)

    async def decide(
        self, action: Action, project: ProjectRef | None, ask: Ask = NO_ASK
    ) -> Decision:
        """The decision for the current request (no request: the bot itself, allowed)."""
        asking = current()
        if asking is None:
            return decide(self.policy, Caller("bot"), Action.READ, None)
        return decide(self.policy, await self.caller(asking), action, project, ask)

    async def require(
        self,
        action: Action,
        project: ProjectRef | None,
        ask: Ask = NO_ASK,
        *,
        workload_id: str | None = None,
        name: str | None = None,
        summary: str = "",
    ) -> None:
        """Go on, or raise `PolicyDenied` after auditing the denial (and noting it)."""
        asking = current()
        if asking is None:
            if action is Action.READ:
                return
            # Mutations only ever come from a Slack user; anything else is a bug.
            denied = Denied("caller", "I can't tell who asked")
            raise PolicyDenied(denied)
        decision = await self.decide(action, project, ask)
        if isinstance(decision, Denied):
            await self.deny(
                decision,
                action,
                project,
                workload_id=workload_id,
                name=name,
                summary=summary or f"{action.value} {name or ''}".strip(),
            )
            raise PolicyDenied(decision)

    async def deny(
        self,
        denied: Denied,
        action: Action,
        project: ProjectRef | None,
        *,
        workload_id: str | None,
        name: str | None,
        summary: str,
    ) -> None:
        """Audit a denial and note it in the workload's threads."""
        asking = current()
        user = asking.user if asking else "?"
        logger.info(
            "policy denied",
            extra={
                "user": user,
                "channel": asking.channel if asking else None,
                "action": action.value,
                "rule": denied.rule,
                "workload_id": workload_id,
            },
        )
        await self.record(
            action.value,
            workload_id=workload_id,
            name=name,
            project=project,
            summary=summary,
            outcome="denied",
            rule=denied.rule,
        )
        if workload_id and self.notes is not None:
            try:
                await self.notes.note(
                    workload_id,
                    action="denied",
                    user=user,
                    summary=f"{summary}: {denied.reason} (rule {denied.rule})",
                )
            except Exception as exc:
                logger.warning(
                    "denial not noted in the thread",
                    extra={"workload_id": workload_id, "error": type(exc).__name__},
                )

    async def record(
        self,
        action: str,
        *,
        workload_id: str | None,
        name: str | None,
        project: ProjectRef | None,
        summary: str,
        outcome: str,
        rule: str | None = None,
    ) -> None:
        """One audit entry for the current request; never raises."""
        if self.audit is None:
            return
        asking = current()
        entry = AuditEntry(
            user_id=asking.user if asking else "bot",
            channel_id=asking.channel if asking else None,
            action=action,
            workload_id=workload_id,
            workload_name=name,
            project=project.label() if project else None,
            project_id=project.id if project else None,
            summary=summary,
            outcome=outcome,
            rule=rule,
        )
        try:
            await self.audit.add(entry)
        except Exception as exc:  # the trail must never break a command
            logger.warning("audit entry lost", extra={"error": type(exc).__name__})
