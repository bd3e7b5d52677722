"""The policy enforcement point: decide, refuse with the rule's words, audit, note.

`Gate` holds the policy, the group resolver and the audit log; the policed Run:ai client,
the scoped org cache, the auditing watcher and the `admit` middleware all ask it, each
for the request's `Asker` (None: the bot itself, outside any request).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from bot.access.asker import Asker
from bot.audit import AuditEntry, AuditLog
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
    over_caps,
)
from bot.slack.errors import UserFacingError

logger = logging.getLogger(__name__)


class ApprovalHold(Protocol):
    """The approval step after rights and caps (`approvals.ApprovalDesk`)."""

    async def hold(
        self,
        asker: Asker | None,
        action: Action,
        project: ProjectRef,
        ask: Ask,
        *,
        workload_id: str | None,
        name: str,
        request: dict[str, Any],
        summary: str,
    ) -> None:
        """Go on (no approval needed), or hold the request for approvers (raises)."""
        ...


class PolicyDenied(UserFacingError):
    """The policy refused; the sentence names the rule."""

    def __init__(self, denied: Denied) -> None:
        super().__init__(denied.sentence())
        self.denied = denied


class Notes(Protocol):
    """What the gate needs from the watch room: a line in a workload's threads."""

    async def note(self, workload_id: str, *, action: str, user: str, summary: str) -> None: ...


PLACELESS = Denied(
    "channels",
    "this form does not say which channel it was opened in, so I can't tell what it may "
    "act on; open it again from the channel",
)
"""A modal without its channel in private_metadata: no channel binding can be told."""


class Gate:
    """Decides for a request's asker and keeps the trail."""

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
        # Requests over a channel's `approval:` thresholds (set by `build_access` when the
        # store is there); None: no approvals.
        self.approvals: ApprovalHold | None = None
        # Called with each entry written for a request that went ahead (the App Home
        # republishes the Homes it concerns); must not block or raise.
        self.listeners: list[Callable[[AuditEntry], None]] = []

    async def caller(self, asker: Asker) -> Caller:
        """The `Caller` of a request, its user groups resolved once per request (a wait
        given up by the caller, as the ack path's time budget does, leaves the lookup
        running for the next one to use)."""
        if asker.groups is None:
            if asker.resolving is None:
                asker.resolving = asyncio.ensure_future(self._groups_of(asker.user))
            asker.groups = await asyncio.shield(asker.resolving)
        return Caller(asker.user, asker.channel, asker.groups)

    async def _groups_of(self, user: str) -> frozenset[str]:
        wanted = self.policy.groups()
        if wanted and self.groups is not None:
            return await self.groups.groups_of(user, wanted)
        return frozenset()

    def in_scope(self, asker: Asker | None, project: ProjectRef) -> bool:
        """Whether the asker's channel may act on `project` (binding only)."""
        if asker is None:
            return True
        return not asker.placeless and in_channel_scope(self.policy, asker.channel, project)

    async def may_read(self, user: str, project: ProjectRef) -> bool:
        """Whether `user` may read the workloads of `project` outside any channel (the
        App Home)."""
        decision = await self.decide(Asker(user, None, Action.READ), Action.READ, project)
        return decision.allowed

    async def decide(
        self, asker: Asker | None, action: Action, project: ProjectRef | None, ask: Ask = NO_ASK
    ) -> Decision:
        """The decision for the asker (None: the bot itself, allowed to read).

        The rights to an action on a project are decided once per request (the lookup
        that finds the workload decides them); the caps when the sizes are known.
        """
        if asker is None:
            return decide(self.policy, Caller("bot"), Action.READ, None)
        if asker.placeless:
            return PLACELESS
        rights = asker.decided.get((action, project))
        if rights is None:
            rights = decide(self.policy, await self.caller(asker), action, project)
            asker.decided[(action, project)] = rights
        if isinstance(rights, Denied) or ask == NO_ASK:
            return rights
        return over_caps(self.policy, await self.caller(asker), action, project, ask) or rights

    async def require(
        self,
        asker: Asker | None,
        action: Action,
        project: ProjectRef | None,
        ask: Ask = NO_ASK,
        *,
        workload_id: str | None = None,
        name: str | None = None,
        summary: str = "",
    ) -> None:
        """Go on, or raise `PolicyDenied` after auditing the denial (and noting it)."""
        if asker is None:
            if action is Action.READ:
                return
            # Mutations only ever come from a Slack user; anything else is a bug.
            denied = Denied("caller", "I can't tell who asked")
            raise PolicyDenied(denied)
        decision = await self.decide(asker, action, project, ask)
        if isinstance(decision, Denied):
            await self.deny(
                asker,
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
        asker: Asker | None,
        denied: Denied,
        action: Action,
        project: ProjectRef | None,
        *,
        workload_id: str | None,
        name: str | None,
        summary: str,
    ) -> None:
        """Audit a denial and note it in the workload's threads."""
        user = asker.user if asker else "?"
        logger.info(
            "policy denied",
            extra={
                "user": user,
                "channel": asker.channel if asker else None,
                "action": action.value,
                "rule": denied.rule,
                "workload_id": workload_id,
            },
        )
        await self.record(
            asker,
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
        asker: Asker | None,
        action: str,
        *,
        workload_id: str | None,
        name: str | None,
        project: ProjectRef | None,
        summary: str,
        outcome: str,
        rule: str | None = None,
    ) -> None:
        """One audit entry for the asker's request; never raises."""
        if self.audit is None:
            return
        entry = AuditEntry(
            user_id=asker.user if asker else "bot",
            channel_id=asker.channel if asker else None,
            action=action,
            workload_id=workload_id,
            workload_name=name,
            project=project.label() if project else None,
            project_id=project.id if project else None,
            summary=f"{summary} (by {asker.via})" if asker and asker.via else summary,
            outcome=outcome,
            rule=rule,
        )
        try:
            await self.audit.add(entry)
        except Exception as exc:  # the trail must never break a command
            logger.warning("audit entry lost", extra={"error": type(exc).__name__})
        if outcome == "ok":
            for listener in self.listeners:
                try:
                    listener(entry)
                except Exception as exc:
                    logger.warning("audit listener failed", extra={"error": type(exc).__name__})
