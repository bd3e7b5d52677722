"""`help`: the subcommands and their usage, or a short error with one usage line."""

from __future__ import annotations

import functools
from typing import Any

from bot.slack import parsing, render
from bot.slack.commands.route import Route
from bot.slack.deps import Deps, Invocation
from bot.slack.reply import Replier


def help_message(error: str | None = None, usage: str | None = None) -> dict[str, Any]:
    """The help (or short error + usage) message."""
    if error is None and usage is None:
        return _full_help()
    return render.message("help", usages=parsing.USAGES, error=error, usage=usage)


@functools.cache
def _full_help() -> dict[str, Any]:
    # The same for everyone: rendered once (the ack path stays cheap).
    return render.message("help", usages=parsing.USAGES, error=None, usage=None)


async def answer_help(
    deps: Deps, replier: Replier, inv: Invocation, command: parsing.Command
) -> None:
    """The help, after the ack: for a which-one button whose value reads `help` (a typed
    `help` is answered in the ack itself), or a command parsed before its handler lands."""
    await replier.respond(inv, help_message())


ROUTES = (Route(parsing.Help, answer_help, "do that"),)
