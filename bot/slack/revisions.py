"""`history <name|id>` and Roll back: revisions → what changed, by whom; a rollback → the
PATCH that brings a revision's values back. Pure.

What a revision says (`Revision` in the schema): `images`, `command`, `arguments`,
`environmentVariables` (name → value: only the names are ever shown), the resources of
one replica (`revisionRequestedResources`) and the replica bounds (`requestedPods` min and
max). That is also all a rollback can bring back: an autoscaling metric or threshold is
not in a revision, so it is left as it is.

A revision carries no author: `author_of(revision)` (the audit trail, passed in) names the
Slack user when the change came through the bot; otherwise it was made outside Slack.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from bot.runai import models
from bot.runai import observability as obs
from bot.slack.present import when

OUTSIDE_SLACK = "made outside Slack"
MAX_REVISIONS = 15  # newest first; each is two blocks of a 50-block message
USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,20}$")


@dataclass(frozen=True)
class Resources:
    """One replica's resources as a revision states them (comparable across both forms)."""

    gpu_type: str | None = None
    gpu: float | None = None
    gpu_memory: str | None = None
    cpu_request: float | None = None
    cpu_limit: float | None = None
    memory_request: str | None = None
    memory_limit: str | None = None

    def words(self) -> str:
        """`1 GPU, 20Gi GPU memory, 2 CPU (limit 4), 8Gi memory`; `none` when empty."""
        parts: list[str] = []
        if self.gpu is not None:
            parts.append(f"{_num(self.gpu)} GPU")
        if self.gpu_memory:
            parts.append(f"{self.gpu_memory} GPU memory")
        if self.cpu_request is not None or self.cpu_limit is not None:
            cpu = f"{_num(self.cpu_request)} CPU" if self.cpu_request is not None else "CPU"
            parts.append(cpu + (f" (limit {_num(self.cpu_limit)})" if self.cpu_limit else ""))
        if self.memory_request or self.memory_limit:
            mem = f"{self.memory_request} memory" if self.memory_request else "memory"
            parts.append(mem + (f" (limit {self.memory_limit})" if self.memory_limit else ""))
        return ", ".join(parts) or "none"


def _num(value: float | None) -> str:
    if value is None:
        return "?"
    return str(int(value)) if value == int(value) else f"{value:g}"


def resources_of_revision(revision: obs.Revision) -> Resources:
    """A revision's resources of one replica."""
    r = revision.revision_requested_resources
    if r is None:
        return Resources()
    return Resources(
        gpu_type=r.gpu_request_type,
        gpu=r.gpu.request if r.gpu else None,
        gpu_memory=r.gpu_memory.request if r.gpu_memory else None,
        cpu_request=r.cpu.request if r.cpu else None,
        cpu_limit=r.cpu.limit if r.cpu else None,
        memory_request=r.cpu_memory.request if r.cpu_memory else None,
        memory_limit=r.cpu_memory.limit if r.cpu_memory else None,
    )


def resources_of_compute(compute: models.Compute | None) -> Resources:
    """A spec's `compute` in a revision's terms (GPUs per replica, as Run:ai counts them)."""
    if compute is None:
        return Resources()
    kind = compute.gpu_request_type if compute.gpu_request_type in ("portion", "memory") else None
    gpu: float | None = None
    if compute.gpu_portion_request is not None:
        gpu = (compute.gpu_devices_request or 1) * compute.gpu_portion_request
    elif compute.gpu_devices_request:
        gpu = float(compute.gpu_devices_request)
    return Resources(
        gpu_type=kind,
        gpu=gpu if kind != "memory" else None,
        gpu_memory=compute.gpu_memory_request,
        cpu_request=compute.cpu_core_request,
        cpu_limit=compute.cpu_core_limit,
        memory_request=compute.cpu_memory_request,
        memory_limit=compute.cpu_memory_limit,
    )


def _comparable(res: Resources) -> Resources:
    # A memory request states GPUs as memory: its derived GPU count is not compared.
    return res if res.gpu_type != "memory" else replace(res, gpu=None)


def compute_of(res: Resources, current: models.Compute | None = None) -> models.Compute:
    """The `compute` of a PATCH that asks for `res` again.

    A PATCH merges `compute` into the one in force and cannot remove a key, so every GPU
    key the current spec sets is set again: whole GPUs over a current portion request are
    asked as N devices of portion 1. (A memory request left over from before a switch to
    a portion cannot be removed this way; Run:ai then refuses the PATCH, and says why.)
    """
    compute = models.Compute(
        cpu_core_request=res.cpu_request,
        cpu_core_limit=res.cpu_limit,
        cpu_memory_request=res.memory_request,
        cpu_memory_limit=res.memory_limit,
    )
    portion_now = current is not None and (
        current.gpu_request_type == "portion" or current.gpu_portion_request is not None
    )
    if res.gpu_type == "memory" and res.gpu_memory:
        compute.gpu_request_type = "memory"
        compute.gpu_devices_request = 1
        compute.gpu_memory_request = res.gpu_memory
    elif res.gpu is not None and res.gpu > 0:
        if res.gpu == int(res.gpu) and res.gpu_type != "portion" and not portion_now:
            compute.gpu_devices_request = int(res.gpu)
        else:
            devices = max(math.ceil(res.gpu), 1)
            compute.gpu_request_type = "portion"
            compute.gpu_devices_request = devices
            compute.gpu_portion_request = res.gpu / devices
    return compute


# --- what changed ------------------------------------------------------------------------


def _image(revision: obs.Revision) -> str | None:
    return ", ".join(revision.images) or None


def _text(value: str | None) -> str:
    return f"`{value}`" if value else "none"


def env_changes(before: dict[str, str] | None, after: dict[str, str] | None) -> list[str]:
    """Names added, removed and changed (values are never shown)."""
    old, new = before or {}, after or {}
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(n for n in set(old) & set(new) if old[n] != new[n])
    parts = []
    if added:
        parts.append("added " + ", ".join(added))
    if removed:
        parts.append("removed " + ", ".join(removed))
    if changed:
        parts.append("changed " + ", ".join(changed))
    return parts


def _replicas(revision: obs.Revision) -> tuple[int | None, int | None]:
    pods = revision.requested_pods
    return (pods.min, pods.max) if pods else (None, None)


def _replica_words(bounds: tuple[int | None, int | None]) -> str:
    low, high = bounds
    if low is None and high is None:
        return "not set"
    low_text = _num(low) if low is not None else "?"
    high_text = _num(high) if high is not None else "?"
    return f"{low_text} to {high_text}"


def revision_changes(previous: obs.Revision | None, revision: obs.Revision) -> list[str]:
    """What `revision` changed from `previous` (the first one: what it started with)."""
    if previous is None:
        started = [f"image {_text(_image(revision))}"]
        if revision.command:
            started.append(f"command {_text(revision.command)}")
        if revision.arguments:
            started.append(f"args {_text(revision.arguments)}")
        if revision.environment_variables:
            started.append("env " + ", ".join(sorted(revision.environment_variables)))
        started.append(f"resources {resources_of_revision(revision).words()}")
        started.append(f"replicas {_replica_words(_replicas(revision))}")
        return ["created with " + "; ".join(started)]
    changes: list[str] = []
    if _image(previous) != _image(revision):
        changes.append(f"image {_text(_image(previous))} → {_text(_image(revision))}")
    if (previous.command or None) != (revision.command or None):
        changes.append(f"command {_text(previous.command)} → {_text(revision.command)}")
    if (previous.arguments or None) != (revision.arguments or None):
        changes.append(f"args {_text(previous.arguments)} → {_text(revision.arguments)}")
    env = env_changes(previous.environment_variables, revision.environment_variables)
    if env:
        changes.append("env " + "; ".join(env))
    old_res, new_res = resources_of_revision(previous), resources_of_revision(revision)
    if old_res != new_res:
        changes.append(f"resources {old_res.words()} → {new_res.words()}")
    if _replicas(previous) != _replicas(revision):
        changes.append(
            f"replicas {_replica_words(_replicas(previous))} → "
            f"{_replica_words(_replicas(revision))}"
        )
    return changes or ["no change the revision shows (autoscaling metric, probes, …)"]


@dataclass(frozen=True)
class RevisionLine:
    """One revision in `history`."""

    id: str
    name: str
    number: int  # 1 = the create
    when: str
    author: str | None  # a Slack user id, when the audit trail has it; else OUTSIDE_SLACK
    changes: tuple[str, ...]
    current: bool  # the revision in force (no Roll back button)


@dataclass(frozen=True)
class HistoryCard:
    """What `history` says about one workload."""

    workload_id: str
    name: str
    revisions: tuple[RevisionLine, ...]  # newest first
    more: int  # older revisions not shown


def history_card(
    name: str,
    workload_id: str,
    revisions: Sequence[obs.Revision],
    author_of: Callable[[obs.Revision], str | None],
) -> HistoryCard:
    """Revisions (any order) → newest first, each with what changed and who changed it."""
    ordered = sorted(revisions, key=lambda r: r.created_at)
    lines: list[RevisionLine] = []
    for index, revision in enumerate(ordered):
        previous = ordered[index - 1] if index else None
        author = author_of(revision)
        if author is not None and not USER_ID_RE.match(author):
            author = None  # only a user id can become a mention
        lines.append(
            RevisionLine(
                id=revision.id,
                name=revision.name,
                number=index + 1,
                when=when(revision.created_at),
                author=author,
                changes=tuple(revision_changes(previous, revision)),
                current=index == len(ordered) - 1,
            )
        )
    newest = lines[::-1]
    return HistoryCard(
        workload_id, name, tuple(newest[:MAX_REVISIONS]), max(len(newest) - MAX_REVISIONS, 0)
    )


# --- rollback ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rollback:
    """The PATCH that brings a revision back, and what it will change, in words."""

    revision_id: str
    revision_name: str
    request: models.InferenceUpdateRequest | None  # None: nothing differs
    changes: tuple[str, ...]


def _env_for(
    revision_env: dict[str, str], current: Sequence[models.EnvironmentVariable]
) -> list[models.EnvironmentVariable]:
    """The revision's variables; one taken from elsewhere (a secret, a config map) and
    present in both keeps its current source, since a revision only shows literal values."""
    by_name = {v.name: v for v in current if v.name}
    result = []
    for name, value in revision_env.items():
        now = by_name.get(name)
        if now is not None and now.value is None:
            result.append(now)
        else:
            result.append(models.EnvironmentVariable(name=name, value=value))
    # Variables from elsewhere are not in a revision's map: keep them.
    result.extend(v for v in current if v.name and v.value is None and v.name not in revision_env)
    return result


def _literal_env(current: Sequence[models.EnvironmentVariable]) -> dict[str, str]:
    return {v.name: v.value for v in current if v.name and v.value is not None}


def rollback_plan(target: obs.Revision, current: models.InferenceSpecSpec | None) -> Rollback:
    """Only the fields where `current` (the spec in force) differs from `target`.

    A field the revision does not have (no command, say) is left as it is: the PATCH
    body leaves out what is unset, so it cannot remove a field.
    """
    spec = current or models.InferenceSpecSpec()
    patch = models.InferenceUpdateSpec()
    changes: list[str] = []
    image = target.images[0] if target.images else None
    if image and image != spec.image:
        patch.image = image
        changes.append(f"image {_text(spec.image)} → {_text(image)}")
    if (target.command or None) != (spec.command or None) and target.command:
        patch.command = target.command
        changes.append(f"command {_text(spec.command)} → {_text(target.command)}")
    if (target.arguments or None) != (spec.args or None) and target.arguments is not None:
        patch.args = target.arguments
        changes.append(f"args {_text(spec.args)} → {_text(target.arguments)}")
    current_env = spec.environment_variables or []
    if target.environment_variables is not None:
        env = env_changes(_literal_env(current_env), target.environment_variables)
        wanted = _env_for(target.environment_variables, current_env)
        if env and _literal_env(wanted) != _literal_env(current_env):
            patch.environment_variables = wanted
            changes.append("env " + "; ".join(env))
    now_res, then_res = resources_of_compute(spec.compute), resources_of_revision(target)
    if target.revision_requested_resources is not None and _comparable(now_res) != _comparable(
        then_res
    ):
        patch.compute = compute_of(then_res, spec.compute)
        changes.append(f"resources {now_res.words()} → {then_res.words()}")
    auto = spec.autoscaling or models.AutoScaling()
    low, high = _replicas(target)
    now_bounds = (auto.effective_min, auto.effective_max)
    if low is not None and high is not None and (low, high) != now_bounds:
        patch.autoscaling = models.AutoScaling(min_replicas=low, max_replicas=high)
        changes.append(f"replicas {_replica_words(now_bounds)} → {_replica_words((low, high))}")
    request = models.InferenceUpdateRequest(spec=patch) if changes else None
    return Rollback(target.id, target.name, request, tuple(changes))
