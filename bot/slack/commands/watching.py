"""`watch`, `unwatch`: follow a workload's phase changes in a thread of this channel (the
watch room posts the thread; this only asks it)."""

from __future__ import annotations

from bot.slack import parsing, render
from bot.slack.commands.route import Route
from bot.slack.deps import Deps, Invocation
from bot.slack.errors import NoSuchWorkload, UserFacingError
from bot.slack.reply import Replier
from bot.slack.resolve import resolve

NOT_IN_A_CHANNEL = "I can only follow workloads in a channel."


async def watch(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Watch) -> None:
    """Follow a workload in this channel (the watcher posts the parent message)."""
    workload = await resolve(deps.runai, command.ref)
    if not inv.channel_id:
        raise UserFacingError(NOT_IN_A_CHANNEL)
    await deps.watcher.watch(workload, channel=inv.channel_id, user=inv.user_id, reason="watch")
    await replier.respond(
        inv,
        render.message(
            "notice",
            emoji=":eyes:",
            text=f"Following {workload.name} here: phase changes go to its thread.",
            user=None,
            detail=None,
        ),
    )


async def unwatch(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Unwatch) -> None:
    """Stop following a workload in this channel."""
    ref = command.ref
    try:
        workload_id = (await resolve(deps.runai, ref)).id
    except NoSuchWorkload:
        if not parsing.is_workload_id(ref):
            raise
        workload_id = ref  # deleted workloads can still be unwatched by id
    if not inv.channel_id:
        raise UserFacingError(NOT_IN_A_CHANNEL)
    ended = await deps.watcher.unwatch(workload_id, channel=inv.channel_id, user=inv.user_id)
    text = f"Stopped following {ref} here." if ended else f"This channel wasn't following {ref}."
    await replier.respond(
        inv, render.message("notice", emoji=":see_no_evil:", text=text, user=None, detail=None)
    )


ROUTES = (
    Route(parsing.Watch, watch, "read"),
    Route(parsing.Unwatch, unwatch, "read"),
)
