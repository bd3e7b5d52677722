""" "Which one?": several workloads share a name; one button per match runs the command
again with that workload's id (`actions.on_choose`)."""

from __future__ import annotations

from typing import Any

from bot.slack import parsing, render
from bot.slack.present import Choice, choice_label, window_text
from bot.slack.resolve import Ambiguous


def command_text(command: parsing.Command, ref: str) -> str:
    """The command again, naming the workload by `ref` (an id after a choice)."""
    match command:
        case parsing.Scale(min_replicas=low, max_replicas=high):
            extra = " ".join(str(n) for n in (low, high) if n is not None)
            return f"scale {ref} {extra}".strip()
        case parsing.Alert(rule=rule):
            return f"alert {ref} {rule.command()}"
        case parsing.Metrics(since=since, pod=pod):
            text = f"metrics {ref} --since {window_text(since)}"
            return f"{text} --pod {pod}" if pod else text
    name = next(n for n, p in parsing.SUBCOMMANDS.items() if _parses_to(p, command))
    return f"{name} {ref}"


def _parses_to(parser: parsing.Parser, command: parsing.Command) -> bool:
    try:
        return type(parser(["x"])) is type(command)
    except parsing.ParseError:
        return False


def choose_message(command: parsing.Command, amb: Ambiguous) -> dict[str, Any]:
    """Buttons, one per match, each re-running the command with that id."""
    choices = [Choice(choice_label(w), command_text(command, w.id)) for w in amb.matches[:25]]
    return render.message("choose", ref=amb.ref, count=len(amb.matches), choices=choices)
