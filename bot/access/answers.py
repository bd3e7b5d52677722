"""`/inference policy` and `/inference audit <name|id>`: access control's own answers,
reached through the same dispatch as every subcommand (`Deps.answers`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from bot.access.asker import Asker
from bot.access.gate import Gate
from bot.access.policed import PolicedRunai
from bot.audit import AuditEntry
from bot.policy import ProjectRef, summarize
from bot.slack import parsing, render
from bot.slack.deps import Invocation
from bot.slack.errors import NoSuchWorkload
from bot.slack.resolve import Ambiguous, resolve

logger = logging.getLogger(__name__)

CHANGE_ACTIONS = frozenset({"create", "update", "scale"})
CHANGES_READ = 200  # audit entries read to name who made each revision

OUTCOME_EMOJI = {"ok": ":white_check_mark:", "denied": ":no_entry:", "failed": ":x:"}


def _row(e: AuditEntry) -> dict[str, str | None]:
    when = e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if e.at else ""
    return {
        "emoji": OUTCOME_EMOJI.get(e.outcome, ":grey_question:"),
        "when": when,
        "action": e.action,
        "user": e.user_id,
        "channel": e.channel_id,
        "outcome": e.outcome,
        "rule": e.rule,
        "summary": e.summary,
    }


class Answers:
    """The policy and audit answers for one asker (`OwnAnswers`)."""

    def __init__(self, gate: Gate, runai: PolicedRunai, asker: Asker) -> None:
        self.gate = gate
        self.runai = runai  # bound to the asker
        self.asker = asker

    async def policy(self, inv: Invocation) -> dict[str, Any]:
        """What the caller may do here, project by project."""
        caller = await self.gate.caller(self.asker)
        try:
            projects = [ProjectRef(p.id, p.name) for p in await self.runai.inner.list_projects()]
        except Exception as exc:
            # Without Run:ai, show the projects the policy names.
            logger.info(
                "projects unavailable for the policy answer", extra={"error": type(exc).__name__}
            )
            projects = [ProjectRef(k, k) for k in self.gate.policy.projects]
        summary = summarize(self.gate.policy, caller, projects)
        return render.message("policy_summary", s=summary, user=inv.user_id)

    async def audit(self, inv: Invocation, ref: str) -> dict[str, Any]:
        """The newest audit entries of a workload (a deleted one too, by id or name)."""
        audit = self.gate.audit
        if audit is None:
            return render.message("audit_unavailable")
        workload_id: str | None = ref if parsing.is_workload_id(ref) else None
        name: str | None = None if workload_id else ref
        try:
            workload = await resolve(self.runai, ref)
            workload_id, name = workload.id, workload.name
        except (NoSuchWorkload, Ambiguous):
            pass  # gone (or several): the trail still knows it by id or name
        try:
            entries = await audit.trail(workload_id=workload_id, name=name)
        except Exception as exc:
            logger.warning("audit trail unavailable", extra={"error": type(exc).__name__})
            return render.message("audit_unavailable")
        if self.asker.channel is not None:
            # A bound channel sees the trail of its own projects only.
            entries = [
                e
                for e in entries
                if (e.project is None and e.project_id is None)
                or self.gate.in_scope(self.asker, ProjectRef(e.project_id or e.project, e.project))
            ]
        return render.message("audit_trail", ref=ref, entries=[_row(e) for e in entries])

    async def changes(self, workload_id: str) -> list[tuple[datetime, str, str]]:
        """(when, who, what) of the changes made through the bot to a workload (create,
        update, scale that went through), newest first; empty without an audit trail."""
        audit = self.gate.audit
        if audit is None:
            return []
        try:
            entries = await audit.trail(workload_id=workload_id, limit=CHANGES_READ)
        except Exception as exc:
            logger.warning("audit trail unavailable", extra={"error": type(exc).__name__})
            return []
        return [
            (e.at, e.user_id, e.action)
            for e in entries
            if e.at is not None and e.outcome == "ok" and e.action in CHANGE_ACTIONS
        ]
