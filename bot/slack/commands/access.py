"""`policy`, `audit`: what access control answers (`Deps.answers`, bound to the asker).

Without access control there is no policy or trail to show: the help is the answer.
"""

from __future__ import annotations

from bot.slack import parsing
from bot.slack.commands.route import Route
from bot.slack.commands.usage import help_message
from bot.slack.deps import Deps, Invocation
from bot.slack.reply import Replier


async def policy(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Policy) -> None:
    """What the asker may do in this channel."""
    if deps.answers is None:
        await replier.respond(inv, help_message())
        return
    await replier.respond(inv, await deps.answers.policy(inv))


async def audit(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Audit) -> None:
    """Who did what to a workload, and who was refused."""
    if deps.answers is None:
        await replier.respond(inv, help_message())
        return
    await replier.respond(inv, await deps.answers.audit(inv, command.ref))


# The trail outlives the workload: a failure names no workload.
ROUTES = (
    Route(parsing.Policy, policy, "read", names_workload=False),
    Route(parsing.Audit, audit, "read", names_workload=False),
)
