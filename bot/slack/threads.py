"""How the watch room's thread messages look in Slack: the renderer `start_watch` is given."""

from __future__ import annotations

from typing import Any

from bot.slack.present import phase_emoji
from bot.slack.render import message

ACTION_EMOJI = {
    "scale": ":straight_ruler:",
    "delete": ":wastebasket:",
    "denied": ":no_entry:",
    "approval": ":raised_hand:",
}
"""The emoji of an action noted in a thread (anything else: a pencil)."""


def thread_message(template: str, /, **context: Any) -> dict[str, Any]:
    """Render a watch thread message (parent, transition, record, unwatch) with its emoji."""
    if template == "watch_record":
        context["emoji"] = ACTION_EMOJI.get(str(context.get("action")), ":pencil2:")
    elif "phase" in context:
        context["emoji"] = phase_emoji(context["phase"])
    return message(template, **context)
