"""`/inference`: parse once, ack at once, then run the subcommand's route after the ack.

The text is parsed once, before any listener (`parse_body`, called by `app.parse_once`).
`on_command` is the Bolt listener body: it acks within milliseconds (help and parse
errors are answered in the ack itself) and hands everything else to a tracked task
(`run`), which looks the command's type up in `ROUTES` and runs its handler. Handlers
answer through `Replier`; failures become words in `errors.describe` (`report_failures`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from bot import telemetry
from bot.slack import parsing
from bot.slack.commands import (
    access,
    alerts,
    digest,
    explain,
    metrics,
    model,
    schedules,
    usage,
    watching,
    workloads,
)
from bot.slack.commands.failures import report_failures
from bot.slack.commands.route import Route
from bot.slack.commands.usage import help_message
from bot.slack.deps import Deps, Invocation
from bot.slack.errors import Doing
from bot.slack.ids import Action
from bot.slack.reply import Replier

logger = logging.getLogger(__name__)

Ack = Callable[..., Awaitable[Any]]

Parsed = parsing.Command | parsing.ParseError
"""A command text, parsed: the command, or why it does not parse."""


def _by_command(routes: Iterable[Route[Any]]) -> dict[type[parsing.Command], Route[Any]]:
    table: dict[type[parsing.Command], Route[Any]] = {}
    for route in routes:
        if route.command in table:
            raise ValueError(f"two routes for {route.command.__name__}")
        table[route.command] = route
    return table


# Every family of subcommands, each a module with its ROUTES: a new subcommand is a parser
# in `parsing.SUBCOMMANDS` and a Route in its family's module (a new family: one line here).
ROUTES = _by_command(
    (
        *usage.ROUTES,
        *model.ROUTES,
        *workloads.ROUTES,
        *metrics.ROUTES,
        *watching.ROUTES,
        *access.ROUTES,
        *explain.ROUTES,
        *digest.ROUTES,
        *alerts.ROUTES,
        *schedules.ROUTES,
    )
)


def parse_body(body: Mapping[str, Any]) -> Parsed | None:
    """The command a request carries, parsed: `/inference`'s text, or the command a
    which-one button runs again; None for a request that carries none."""
    if "command" in body:
        text = str(body.get("text") or "")
    elif body.get("type") == "block_actions":
        actions = body.get("actions")
        first = actions[0] if isinstance(actions, list) and actions else None
        if not isinstance(first, Mapping) or not str(first.get("action_id") or "").startswith(
            Action.CHOOSE_WORKLOAD
        ):
            return None
        text = str(first.get("value") or "")
    else:
        return None
    try:
        return parsing.parse(text)
    except parsing.ParseError as exc:
        return exc


async def on_command(
    deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any], command: Parsed
) -> None:
    """Bolt listener for `/inference` (its text parsed): ack now, work later."""
    inv = Invocation.from_command(body)  # first: the trigger_id's 3 s started on arrival
    if isinstance(command, parsing.ParseError):
        telemetry.COMMANDS.labels("unparsed", "usage_error").inc()
        await ack(**help_message(command.message, command.usage))
        return
    if isinstance(command, parsing.Help):
        telemetry.COMMANDS.labels("Help", "ok").inc()
        await ack(**help_message())
        return
    await ack()
    logger.info(
        "command",
        extra={
            "subcommand": type(command).__name__,
            "user": inv.user_id,
            "channel": inv.channel_id,
        },
    )
    deps.tasks.fire(
        run(deps, replier, inv, command),
        name=f"command-{type(command).__name__}",
        urgent=ROUTES[type(command)].opens_modal(command),
    )


def opens_modal(command: parsing.Command) -> bool:
    """Whether the command must use its trigger_id (3 s) to open a modal."""
    return ROUTES[type(command)].opens_modal(command)


async def run(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Command) -> None:
    """Run one parsed command for `inv`; every failure ends as a message to the user."""
    route = ROUTES[type(command)]
    ref = getattr(command, "ref", None) if route.names_workload else None
    work = _counted(route, deps, replier, inv, command)
    await report_failures(replier, inv, work, Doing(route.verb, ref), command)


async def _counted(
    route: Route[Any], deps: Deps, replier: Replier, inv: Invocation, command: parsing.Command
) -> None:
    subcommand = type(command).__name__
    try:
        await route.handler(deps, replier, inv, command)
    except Exception as exc:
        telemetry.COMMANDS.labels(subcommand, type(exc).__name__).inc()
        raise
    telemetry.COMMANDS.labels(subcommand, "ok").inc()


async def run_modal(deps: Deps, replier: Replier, inv: Invocation, work: Awaitable[None]) -> None:
    """Open a modal from a button; failures end as a message."""
    await report_failures(replier, inv, work, Doing("do that"))
