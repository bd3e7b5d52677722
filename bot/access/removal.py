"""Who may remove a rule someone made in a channel (a schedule, an alert): one rule.

Its author from anywhere; an admin from anywhere; from the rule's channel, whoever may
scale the workload there; when the workload is gone, anyone in that channel. A refusal
is audited (not told in the thread) and raised as words.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.access.asker import Asker
from bot.access.gate import Gate, PolicyDenied
from bot.policy import Action, Caller, Denied, ProjectRef, decide
from bot.policy.decide import is_admin
from bot.runai import RunaiCalls
from bot.runai import errors as runai_errors
from bot.slack.errors import UserFacingError


@dataclass(frozen=True)
class Owned:
    """A rule as its removal sees it: `kind` "schedule" or "alert", `command` what
    removes it ("unschedule", "unalert")."""

    kind: str
    command: str
    id: str
    author: str
    channel: str
    workload_id: str
    workload_name: str | None


async def may_remove(
    gate: Gate,
    runai: RunaiCalls,
    asker: Asker | None,
    owned: Owned,
    user: str,
    channel: str | None,
) -> ProjectRef | None:
    """The workload's project (None when it is gone) if `user` may remove `owned` from
    `channel`; raises `UserFacingError`/`PolicyDenied` otherwise."""
    project: ProjectRef | None = None
    try:
        workload = await runai.get_workload(owned.workload_id)
        project = ProjectRef(workload.project_id, workload.project_name)
    except runai_errors.NotFoundError:
        pass
    if user == owned.author:
        return project
    asker = asker or Asker(user, channel, Action.SCALE)
    caller = await gate.caller(asker)
    if is_admin(gate.policy, caller):
        return project
    if channel != owned.channel:
        raise UserFacingError(
            f"{owned.kind.capitalize()} {owned.id} belongs to <#{owned.channel}>: remove it "
            "there, or ask its author."
        )
    if project is None:
        return None  # the workload is gone: nothing left to protect
    decision = decide(
        gate.policy, Caller(user, owned.channel, caller.groups), Action.SCALE, project
    )
    if isinstance(decision, Denied):
        await gate.deny(
            asker,
            decision,
            Action.SCALE,
            project,
            workload_id=None,  # refused removals are audited, not told in the thread
            name=owned.workload_name,
            summary=f"{owned.command} {owned.id}",
        )
        name = owned.workload_name or owned.workload_id
        raise PolicyDenied(
            Denied(
                decision.rule,
                f"only its author, someone who may scale {name} in this channel, "
                f"or an admin may remove {owned.kind} {owned.id}; {decision.reason}",
            )
        )
    return project
