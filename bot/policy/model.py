"""The access policy as data: channel bindings, per-project rights, admins, caps.

Read from YAML (`POLICY_FILE`) into pydantic models at the boundary; nothing here does
I/O. A principal is a Slack user id (`U…`/`W…`), a user group id (`S…`) or `"*"`
(everyone).

    admins: [U0ADMIN]                 # may do everything, in every channel
    caps: {max_replicas: 8, max_gpus: 8}
    channels:                         # a bound channel acts only on its projects
      C0TEAMA: [team-a]               # project names or ids
      C0TEAMB:                        # the long form adds per-binding options:
        projects: [team-b]
        idle: {after: 48h, action: scale-to-zero}   # see IdleRule
        approval: {gpus_over: 4, replicas_over: 4, approvers: [U0LEAD, S0LEADS]}
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

from datetime import timedelta
from enum import StrEnum
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.durations import Duration

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


class IdleAction(StrEnum):
    """What the bot does about an idle endpoint followed in a channel."""

    NUDGE = "nudge"  # post the nudge with its buttons; people decide
    SCALE_TO_ZERO = "scale-to-zero"  # post it saying so, then scale to zero unless kept


class IdleRule(_Strict):
    """A binding's `idle: {after, action}`: when an endpoint counts as idle there (None:
    the bot's `IDLE_AFTER`) and what is done about it."""

    after: Duration | None = None
    action: IdleAction = IdleAction.NUDGE

    @field_validator("after")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be longer than 0s")
        return value


class ApprovalRule(_Strict):
    """A binding's `approval:`: a create, update, scale or rollback asking for more than
    `gpus_over` GPUs or `replicas_over` replicas (but within the caps) waits for one of
    `approvers` (user ids, or user group ids `S…`, written `S…` or `@S…`) who is not the
    requester."""

    gpus_over: float | None = Field(default=None, ge=0)
    replicas_over: int | None = Field(default=None, ge=0)
    approvers: list[str]

    @field_validator("approvers", mode="before")
    @classmethod
    def _check_approvers(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        names = [str(p).removeprefix("@") for p in value]
        if not names:
            raise ValueError("name at least one approver")
        if EVERYONE in names:
            raise ValueError("'*' cannot approve: name users or user groups")
        return _principals(names)

    @model_validator(mode="after")
    def _some_threshold(self) -> ApprovalRule:
        if self.gpus_over is None and self.replicas_over is None:
            raise ValueError("set gpus_over, replicas_over or both")
        return self

    def exceeded(self, replicas: int | None, gpus: float | None) -> list[str]:
        """What of a request goes over this rule's thresholds, in words (empty: nothing)."""
        over: list[str] = []
        if (
            self.replicas_over is not None
            and replicas is not None
            and replicas > self.replicas_over
        ):
            over.append(f"{replicas} replicas (over {self.replicas_over})")
        if self.gpus_over is not None and gpus is not None and gpus > self.gpus_over:
            over.append(f"{gpus:g} GPUs (over {self.gpus_over:g})")
        return over


class BindingOptions(_Strict):
    """What a channel binding says beyond its projects (the long form of a binding)."""

    idle: IdleRule | None = None
    approval: ApprovalRule | None = None


class _Binding(_Strict):
    projects: list[str]
    idle: IdleRule | None = None
    approval: ApprovalRule | None = None


class Policy(_Strict):
    """The whole policy file."""

    admins: list[str] = []
    caps: Caps = Caps()
    channels: dict[str, list[str]] = {}
    # Filled from the long form of `channels` entries; not written in the file itself.
    binding_options: dict[str, BindingOptions] = {}
    projects: dict[str, Rights] = {}
    # Projects the file does not name: reading is open, nothing else.
    default: Rights = Rights(read=[EVERYONE])
    # False: a policy file that exists but names no channel still enforces rights.
    open: bool = False

    @field_validator("admins")
    @classmethod
    def _check_admins(cls, value: list[str]) -> list[str]:
        return _principals(value)

    @model_validator(mode="before")
    @classmethod
    def _long_bindings(cls, data: Any) -> Any:
        """`C1: {projects: [...], idle: {...}}` → `channels.C1` plus `binding_options.C1`,
        so everything that reads `channels` keeps reading a list of projects."""
        if not isinstance(data, dict) or not isinstance(data.get("channels"), dict):
            return data
        if "binding_options" in data:
            raise ValueError("write idle: under the channel's binding in channels: (approval: too)")
        channels: dict[str, Any] = {}
        options: dict[str, BindingOptions] = {}
        for channel, binding in data["channels"].items():
            if isinstance(binding, dict):
                try:
                    long = _Binding.model_validate(binding)
                except ValidationError as exc:
                    # Re-raised with the binding's own path: `channels.C1.idle.after: …`.
                    raise ValueError(
                        "; ".join(
                            f"channels.{channel}.{'.'.join(map(str, e['loc']))}: "
                            + str(e["msg"]).removeprefix("Value error, ")
                            for e in exc.errors()
                        )
                    ) from None
                channels[channel] = long.projects
                options[channel] = BindingOptions(idle=long.idle, approval=long.approval)
            else:
                channels[channel] = binding
        return {**data, "channels": channels, "binding_options": options}

    def idle_rule(self, channel: str | None) -> IdleRule | None:
        """The `idle:` of the channel's binding, if it has one."""
        options = self.binding_options.get(channel or "")
        return options.idle if options else None

    def approval_rule(self, channel: str | None) -> ApprovalRule | None:
        """The `approval:` of the channel's binding, if it has one."""
        options = self.binding_options.get(channel or "")
        return options.approval if options else None

    def groups(self) -> set[str]:
        """Every user group id the policy mentions (to resolve membership)."""
        found = {p for p in self.admins if p.startswith("S")}
        for options in self.binding_options.values():
            if options.approval is not None:
                found.update(p for p in options.approval.approvers if p.startswith("S"))
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
