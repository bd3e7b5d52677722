"""Who is asking, for the request being handled: set by the middleware, read downstream.

A `ContextVar`: Bolt runs global middleware and the listener in the same task, and the
app's post-ack tasks are created from the listener, so they inherit the value.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

from bot.policy import Action, ProjectRef
from bot.runai import models


@dataclass
class Asking:
    """One Slack request: who, where, what they mean to do, what was learned so far."""

    user: str
    channel: str | None
    intent: Action
    # Idempotency key of a modal submission: the same view submitted with the same values.
    key: str | None = None
    groups: frozenset[str] | None = None
    projects: dict[str, ProjectRef] = field(default_factory=dict)
    inferences: dict[str, models.Inference] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)


_current: ContextVar[Asking | None] = ContextVar("inference_bot_asking", default=None)


def current() -> Asking | None:
    """The request being handled, if any."""
    return _current.get()


def begin(asking: Asking | None) -> None:
    """Make `asking` the current request (None: not a user request)."""
    _current.set(asking)
