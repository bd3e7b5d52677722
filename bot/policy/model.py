"""The access policy as data: channel bindings, per-project rights, admins, caps.

Read from YAML (`POLICY_FILE`) into pydantic models at the boundary; nothing here does
I/O. A principal is a Slack user id (`U…`/`W…`), a user group id (`S…`) or `"*"`
(everyone).

    admins: [U0ADMIN]                 # may do everything, in every channel
    caps: {max_replicas: 8, max_gpus: 8}
    channels:                         # a bound channel acts only on its projects
      C0TEAMA: [team-a]               # project names or ids
    projects:
      team-a:                         # project name or id
        read: ["*"]                   # default: everyone
        create: [U0ALICE, S0MLTEAM]
        scale: [U0ALICE, U0BOB]
        update: [U0ALICE]             # default: whoever may create
        delete: [U0ALICE]
        caps: {max_replicas: 4, max_gpus: 2}
    default:                          # projects the file does not name
      read: ["*"]
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

EVERYONE = "*"


class Action(StrEnum):
    """What a Slack user asks the bot to do to a workload."""

    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    SCALE = "scale"
    DELETE = "delete"


def _principals(value: list[str]) -> list[str]:
    for p in value:
        if p != EVERYONE and not (p[:1] in ("U", "W", "S") and p[1:].isalnum()):
            raise ValueError(f"{p!r} is not a Slack user id (U…/W…), user group id (S…) or '*'")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Caps(_Strict):
    """Upper bounds a single create or scale may ask for."""

    max_replicas: int | None = Field(default=None, ge=0)
    max_gpus: float | None = Field(default=None, ge=0)


class Rights(_Strict):
    """Who may do what in one project (None = the default for that action)."""

    read: list[str] | None = None
    create: list[str] | None = None
    update: list[str] | None = None
    scale: list[str] | None = None
    delete: list[str] | None = None
    caps: Caps = Caps()

    @field_validator("read", "create", "update", "scale", "delete")
    @classmethod
    def _check(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _principals(value)

    def who(self, action: Action) -> list[str] | None:
        """The principals listed for `action`; `update` falls back to `create`."""
        listed: list[str] | None = getattr(self, action.value)
        if listed is None and action is Action.UPDATE:
            return self.create
        return listed


class Policy(_Strict):
    """The whole policy file."""

    admins: list[str] = []
    caps: Caps = Caps()
    channels: dict[str, list[str]] = {}
    projects: dict[str, Rights] = {}
    # Projects the file does not name: reading is open, nothing else.
    default: Rights = Rights(read=[EVERYONE])
    # False: a policy file that exists but names no channel still enforces rights.
    open: bool = False

    @field_validator("admins")
    @classmethod
    def _check_admins(cls, value: list[str]) -> list[str]:
        return _principals(value)

    def groups(self) -> set[str]:
        """Every user group id the policy mentions (to resolve membership)."""
        found = {p for p in self.admins if p.startswith("S")}
        for rights in (*self.projects.values(), self.default):
            for action in Action:
                found.update(p for p in rights.who(action) or [] if p.startswith("S"))
        return found


OPEN_POLICY = Policy(
    open=True,
    default=Rights(
        read=[EVERYONE], create=[EVERYONE], update=[EVERYONE], scale=[EVERYONE], delete=[EVERYONE]
    ),
)
"""Without a policy file: everyone may read, create, scale, update and delete."""
