"""`/inference` and its subcommands: the dispatcher and one module per family.

    dispatch.py   parse once, ack at once, run the command's Route after the ack
    failures.py   failures → words (`report_failures`); "which one?" (`choose.py`)
    route.py      `Route(command type, handler, verb, opens_modal)`: what a family gives
    usage.py      help · model.py  model info · workloads.py  create, status, scale,
                  update, delete, list · metrics.py · watching.py  watch, unwatch ·
                  access.py  policy, audit

A new subcommand: its parser in `parsing.SUBCOMMANDS`, its handler and `Route` in the
module of its family (a new family: a module with `ROUTES`, listed in `dispatch.ROUTES`).
"""

from bot.slack.commands.dispatch import (
    Parsed,
    on_command,
    opens_modal,
    parse_body,
    run,
    run_modal,
)
from bot.slack.commands.failures import report_failures
from bot.slack.commands.usage import help_message

__all__ = [
    "Parsed",
    "help_message",
    "on_command",
    "opens_modal",
    "parse_body",
    "report_failures",
    "run",
    "run_modal",
]
