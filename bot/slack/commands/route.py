"""What a family of subcommands gives the dispatcher: one `Route` per parsed command type.

A route names the handler of one command type, the verb that finishes a 403 sentence
("the bot's service account may not <verb> <name>") and whether the command must spend its
trigger_id (3 s) opening a modal. `Route(parsing.Status, status, "read")` is checked by
mypy: the handler must take that command type.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from bot.slack import parsing
from bot.slack.deps import Deps, Invocation
from bot.slack.reply import Replier

C = TypeVar("C", bound=parsing.Command)

Handler = Callable[[Deps, Replier, Invocation, C], Awaitable[None]]
"""Runs one parsed command after the ack and answers through the `Replier`; raises on
failure (the dispatcher turns any exception into words for the user)."""


def never(command: object) -> bool:
    """For `opens_modal`: the command answers with a message."""
    return False


def always(command: object) -> bool:
    """For `opens_modal`: the command always opens a modal."""
    return True


@dataclass(frozen=True)
class Route(Generic[C]):
    """How the dispatcher runs one command type."""

    command: type[C]
    handler: Handler[C]
    verb: str
    """What the bot was doing, for the error sentence (`may not <verb> <name>`)."""
    names_workload: bool = True
    """Whether the command's `ref` (if it has one) is the workload a 403/404 sentence
    names; not for `audit`, whose trail outlives the workload."""
    opens_modal: Callable[[C], bool] = never
    """Whether this command uses its trigger_id: its task skips the background queue."""
