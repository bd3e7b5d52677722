"""Pure decisions: may this caller do this action to this project, here?

No I/O: the caller's user groups are resolved before (`groups.GroupResolver`) and passed
in. Every denial names the rule of the policy file that refused, as a dotted path
(`channels.C0TEAMA`, `projects.team-a.delete`, `caps.max_gpus`), so a user can quote it
to whoever owns the file.

Order: channel binding (applies to everyone, admins too: it says what a channel is
about), then admins (may do everything else), then the project's rights (a project the
file does not name uses `default`; every action needs the read right too), then caps
(create/scale/update).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot.policy.model import EVERYONE, Action, Caps, Policy, Rights

CAPPED = (Action.CREATE, Action.SCALE, Action.UPDATE)


@dataclass(frozen=True)
class Caller:
    """Who asks, and where."""

    user: str
    channel: str | None = None
    groups: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ProjectRef:
    """A Run:ai project as the policy may name it: by id or by name."""

    id: str | None
    name: str | None = None

    def label(self) -> str:
        """How a message names it."""
        return self.name or self.id or "an unknown project"

    def matches(self, key: str) -> bool:
        """Whether a policy key (project name or id) names this project."""
        return key in (self.id, self.name)


@dataclass(frozen=True)
class Ask:
    """The sizes a create/scale/update asks for (None: not part of this request)."""

    replicas: int | None = None
    gpus: float | None = None


@dataclass(frozen=True)
class Allowed:
    """The action may go ahead; `rule` says which rule allowed it."""

    rule: str
    allowed: bool = field(default=True, init=False)


@dataclass(frozen=True)
class Denied:
    """The action is refused by `rule`; `reason` is a sentence for the user."""

    rule: str
    reason: str
    allowed: bool = field(default=False, init=False)

    def sentence(self) -> str:
        """The denial as the user reads it."""
        return f"Not allowed: {self.reason} (policy rule `{self.rule}`)."


Decision = Allowed | Denied

NO_ASK = Ask()
"""No sizes asked (lookups, delete)."""


def _listed(who: Iterable[str], caller: Caller) -> bool:
    return any(p == EVERYONE or p == caller.user or p in caller.groups for p in who)


def is_admin(policy: Policy, caller: Caller) -> bool:
    """Whether the caller is one of the policy's admins (directly or by group)."""
    return _listed(policy.admins, caller)


def bound_projects(policy: Policy, channel: str | None) -> list[str] | None:
    """The project keys a channel is bound to; None when the channel is not bound."""
    if channel is None:
        return None
    return policy.channels.get(channel)


def in_channel_scope(policy: Policy, channel: str | None, project: ProjectRef) -> bool:
    """Whether a command in `channel` may act on `project` at all."""
    bound = bound_projects(policy, channel)
    return bound is None or any(project.matches(key) for key in bound)


def project_rights(policy: Policy, project: ProjectRef) -> tuple[str, Rights]:
    """The rule path prefix and rights that apply to a project."""
    for key, rights in policy.projects.items():
        if project.matches(key):
            return f"projects.{key}", rights
    return "default", policy.default


def _who(policy: Policy, project: ProjectRef, action: Action) -> tuple[str, list[str]]:
    prefix, rights = project_rights(policy, project)
    listed = rights.who(action)
    if listed is not None:
        return f"{prefix}.{action.value}", listed
    # A project that leaves an action out uses the default's list for it.
    fallback = policy.default.who(action)
    return f"{prefix}.{action.value}", list(fallback or [])


def _check_caps(caps: Caps, where: str, ask: Ask, project: ProjectRef) -> Denied | None:
    replicas, cap = ask.replicas, caps.max_replicas
    if cap is not None and replicas is not None and replicas > cap:
        return Denied(
            f"{where}.max_replicas",
            f"{replicas} replicas is above the cap of {cap} for {project.label()}",
        )
    if caps.max_gpus is not None and ask.gpus is not None and ask.gpus > caps.max_gpus:
        return Denied(
            f"{where}.max_gpus",
            f"{gpus_text(ask.gpus)} is above the cap of {gpus_text(caps.max_gpus)} "
            f"for {project.label()}",
        )
    return None


def gpus_text(value: float) -> str:
    """A GPU count in words: "1 GPU", "2 GPUs", "0.5 GPU" (a share of one)."""
    number = str(int(value)) if float(value).is_integer() else f"{value:g}"
    return f"{number} GPU" if 0 < value <= 1 else f"{number} GPUs"


def decide(
    policy: Policy,
    caller: Caller,
    action: Action,
    project: ProjectRef | None,
    ask: Ask = NO_ASK,
) -> Decision:
    """Whether `caller` may do `action` on `project` (None: no project involved)."""
    if project is None:
        # Model lookups and the like touch no project; creating needs one.
        if action is Action.READ:
            return Allowed("read")
        return Denied(f"{action.value}", f"{action.value} needs a project")
    if not in_channel_scope(policy, caller.channel, project):
        bound = ", ".join(bound_projects(policy, caller.channel) or [])
        scope = f"acts only on project {bound}" if bound else "is bound to no project"
        return Denied(f"channels.{caller.channel}", f"this channel {scope}, not {project.label()}")
    if is_admin(policy, caller):
        return Allowed("admins")
    if action is not Action.READ:
        # Acting on workloads one may not even see makes no sense: reading comes first.
        seeing = decide(policy, caller, Action.READ, project)
        if isinstance(seeing, Denied):
            return seeing
    rule, who = _who(policy, project, action)
    if not _listed(who, caller):
        verb = "see" if action is Action.READ else action.value
        return Denied(rule, f"you may not {verb} workloads in {project.label()}")
    return over_caps(policy, caller, action, project, ask) or Allowed(rule)


def over_caps(
    policy: Policy, caller: Caller, action: Action, project: ProjectRef | None, ask: Ask
) -> Denied | None:
    """The cap `ask` goes over, for a caller already allowed `action` on `project`.

    `decide(..., ask)` is `decide(...)` (the rights) and then this: the rights can be
    decided when the workload is looked up, the caps once the sizes are known.
    """
    if project is None or action not in CAPPED or is_admin(policy, caller):
        return None
    prefix, rights = project_rights(policy, project)
    for caps, where in ((rights.caps, f"{prefix}.caps"), (policy.caps, "caps")):
        denied = _check_caps(caps, where, ask, project)
        if denied is not None:
            return denied
    return None


def gpus_of(devices: int | None, portion: float | None, max_replicas: int | None) -> float:
    """GPUs a workload may hold at its largest: GPUs per replica times max replicas.

    A GPU portion counts as that fraction of each device; memory-sized GPU requests
    count as whole devices (Run:ai pins them to one device each).
    """
    per_replica = float(devices or 0)
    if portion is not None:
        per_replica = portion * (devices or 1)
    return per_replica * max(max_replicas or 1, 1)


@dataclass(frozen=True)
class ProjectView:
    """What the caller may do in one project (for `/inference policy`)."""

    project: str
    actions: tuple[str, ...]
    max_replicas: int | None
    max_gpus: float | None

    @property
    def caps_text(self) -> str:
        """The caps in words: "at most 1 replica · at most 4 GPUs" ("" without caps)."""
        parts = []
        if self.max_replicas is not None:
            noun = "replica" if self.max_replicas == 1 else "replicas"
            parts.append(f"at most {self.max_replicas} {noun}")
        if self.max_gpus is not None:
            parts.append(f"at most {gpus_text(self.max_gpus)}")
        return " · ".join(parts)


@dataclass(frozen=True)
class Summary:
    """What the caller may do in a channel."""

    open: bool
    admin: bool
    bound: tuple[str, ...] | None
    projects: tuple[ProjectView, ...]


def _cap(a: float | None, b: float | None) -> float | None:
    values = [v for v in (a, b) if v is not None]
    return min(values) if values else None


def summarize(policy: Policy, caller: Caller, projects: Sequence[ProjectRef]) -> Summary:
    """What `caller` may do here, project by project (those the channel may act on)."""
    views: list[ProjectView] = []
    for project in projects:
        if not in_channel_scope(policy, caller.channel, project):
            continue
        allowed = tuple(a.value for a in Action if decide(policy, caller, a, project).allowed)
        _prefix, rights = project_rights(policy, project)
        replicas = _cap(rights.caps.max_replicas, policy.caps.max_replicas)
        views.append(
            ProjectView(
                project=project.label(),
                actions=allowed,
                max_replicas=int(replicas) if replicas is not None else None,
                max_gpus=_cap(rights.caps.max_gpus, policy.caps.max_gpus),
            )
        )
    bound = bound_projects(policy, caller.channel)
    return Summary(
        open=policy.open,
        admin=is_admin(policy, caller),
        bound=tuple(bound) if bound is not None else None,
        projects=tuple(views),
    )
