"""Names → workloads: a name works everywhere an id does."""

from __future__ import annotations

from bot.runai import RunaiCalls, errors, models
from bot.slack.errors import NoSuchWorkload
from bot.slack.parsing import is_workload_id


class Ambiguous(Exception):
    """Several inference workloads carry the name; the user must pick one."""

    def __init__(self, ref: str, matches: list[models.Workload]) -> None:
        super().__init__(f"{len(matches)} workloads named {ref}")
        self.ref = ref
        self.matches = matches


async def resolve(runai: RunaiCalls, ref: str) -> models.Workload:
    """The one inference workload `ref` (name or id) names; raises NoSuchWorkload/Ambiguous."""
    if is_workload_id(ref):
        try:
            return await runai.get_workload(ref)
        except errors.NotFoundError:
            raise NoSuchWorkload(ref) from None
    matches = await runai.find_inferences(ref)
    if not matches:
        raise NoSuchWorkload(ref)
    if len(matches) > 1:
        raise Ambiguous(ref, matches)
    return matches[0]


async def resolve_or_gone(runai: RunaiCalls, ref: str) -> tuple[str, str]:
    """(id, name) of the workload `ref` names; for an id Run:ai no longer knows (a deleted
    workload, whose watch, rules or schedules remain), (ref, ref). A name that matches
    nothing still raises NoSuchWorkload."""
    try:
        workload = await resolve(runai, ref)
    except NoSuchWorkload:
        if not is_workload_id(ref):
            raise
        return ref, ref
    return workload.id, workload.name
