"""`/inference policy` and `/inference audit <name|id>`: the guard rails' own answers."""

from __future__ import annotations

import logging
from datetime import UTC

from bot.audit import AuditEntry
from bot.guard.context import current
from bot.guard.gate import Gate
from bot.guard.runai import GuardedRunai
from bot.policy import ProjectRef, summarize
from bot.slack import parsing, render
from bot.slack.deps import Invocation
from bot.slack.errors import NoSuchWorkload
from bot.slack.reply import Replier
from bot.slack.resolve import Ambiguous, resolve

logger = logging.getLogger(__name__)

OUTCOME_EMOJI = {"ok": ":white_check_mark:", "denied": ":no_entry:", "failed": ":x:"}


async def policy_answer(gate: Gate, runai: GuardedRunai, replier: Replier, inv: Invocation) -> None:
    """What the caller may do here, project by project."""
    asking = current()
    if asking is None:
        return
    caller = await gate.caller(asking)
    try:
        projects = [ProjectRef(p.id, p.name) for p in await runai.inner.list_projects()]
    except Exception as exc:
        # Without Run:ai, show the projects the policy names.
        logger.info(
            "projects unavailable for the policy answer", extra={"error": type(exc).__name__}
        )
        projects = [ProjectRef(k, k) for k in gate.policy.projects]
    summary = summarize(gate.policy, caller, projects)
    await replier.respond(inv, render.message("policy_summary", s=summary, user=inv.user_id))


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


async def audit_answer(
    gate: Gate, runai: GuardedRunai, replier: Replier, inv: Invocation, ref: str
) -> None:
    """The newest audit entries of a workload (a deleted one too, by id or name)."""
    if gate.audit is None:
        await replier.respond(inv, render.message("audit_unavailable"))
        return
    workload_id: str | None = ref if parsing.is_workload_id(ref) else None
    name: str | None = None if workload_id else ref
    try:
        workload = await resolve(runai, ref)
        workload_id, name = workload.id, workload.name
    except (NoSuchWorkload, Ambiguous):
        pass  # gone (or several): the trail still knows it by id or name
    try:
        entries = await gate.audit.trail(workload_id=workload_id, name=name)
    except Exception as exc:
        logger.warning("audit trail unavailable", extra={"error": type(exc).__name__})
        await replier.respond(inv, render.message("audit_unavailable"))
        return
    asking = current()
    if asking is not None and asking.channel is not None:
        # A bound channel sees the trail of its own projects only.
        entries = [
            e
            for e in entries
            if (e.project is None and e.project_id is None)
            or gate.in_scope(ProjectRef(e.project_id or e.project, e.project))
        ]
    await replier.respond(
        inv, render.message("audit_trail", ref=ref, entries=[_row(e) for e in entries])
    )
