"""Failures become words: whatever a command's work raises ends as a message to the user
(or in their modal), never a stack trace. Used by the dispatcher and by the buttons that
run a command's work themselves."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from bot.slack import parsing
from bot.slack.commands.choose import choose_message
from bot.slack.deps import Invocation
from bot.slack.errors import Doing, describe
from bot.slack.modals.submit import result_view
from bot.slack.reply import Replier, TriggerExpired
from bot.slack.resolve import Ambiguous

logger = logging.getLogger(__name__)


TRIGGER_EXPIRED = (
    "Slack closed the window for opening the form (it allows 3 seconds). "
    "Please run the command again."
)


async def report_failures(
    replier: Replier,
    inv: Invocation,
    work: Awaitable[None],
    doing: Doing,
    command: parsing.Command | None = None,
) -> None:
    """Await `work`; any failure ends as a message to the user (or in their modal)."""
    try:
        await work
    except Ambiguous as amb:
        if command is None:
            raise
        message = choose_message(command, amb)
        if inv.modal_id:
            await replier.update_view(
                inv.modal_id,
                result_view(
                    "Which one?",
                    text=f"Several inference workloads are named {amb.ref}: "
                    "pick one in the message I just sent you.",
                    emoji=":twisted_rightwards_arrows:",
                ),
            )
        await replier.respond(inv, message)
    except TriggerExpired:
        await replier.problem(inv, TRIGGER_EXPIRED)
    except Exception as exc:
        problem = describe(exc, doing)
        shown = bool(inv.modal_id) and await replier.update_view(
            str(inv.modal_id), result_view("Sorry", problem)
        )
        if not shown:  # no modal, or the user closed it meanwhile
            await replier.problem(inv, problem.sentence, problem.detail)
