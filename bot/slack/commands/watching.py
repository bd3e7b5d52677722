"""`watch [--only …]`, `unwatch`, `mute [for …]`, `unmute`: follow a workload's phase
changes in a thread of this channel, and how much of them the thread hears (the watch room
posts the thread; this only asks it).

A mute holds the workload's alerts in this channel too: the thread is quiet, and an alert
still firing when the mute ends is told then (`bot.watch.alerts.episodes`).
"""

from __future__ import annotations

from datetime import datetime

from bot.durations import say_duration
from bot.slack import parsing, render
from bot.slack.commands.route import Route
from bot.slack.deps import Deps, Invocation
from bot.slack.errors import UserFacingError
from bot.slack.reply import Replier
from bot.slack.resolve import resolve, resolve_or_gone
from bot.utc import utcnow
from bot.watch.alerts.phases import ONLY_CHOICES, only_phases

NOT_IN_A_CHANNEL = "I can only follow workloads in a channel."


async def watch(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Watch) -> None:
    """Follow a workload in this channel (the watcher posts the parent message)."""
    workload = await resolve(deps.runai, command.ref)
    if not inv.channel_id:
        raise UserFacingError(NOT_IN_A_CHANNEL)
    await deps.watcher.watch(workload, channel=inv.channel_id, user=inv.user_id, reason="watch")
    # Watching again starts afresh: unmuted, not flapping, the phases asked for now.
    phases = only_phases(command.only) if command.only else None
    await deps.watcher.follow_only(workload.id, channel=inv.channel_id, phases=phases)
    if command.only:
        chosen = [w for w in ONLY_CHOICES if w in command.only]
        text = (
            f"Following {workload.name} here: its thread hears only {_words(chosen)} "
            "(the parent message still shows every phase)."
        )
    else:
        text = f"Following {workload.name} here: phase changes go to its thread."
    await replier.respond(
        inv, render.message("notice", emoji=":eyes:", text=text, user=None, detail=None)
    )


def _words(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _not_watched(name: str) -> UserFacingError:
    return UserFacingError(f"This channel isn't following {name}: `/inference watch {name}` first.")


async def mute(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Mute) -> None:
    """Quiet this channel's thread of a workload (and its alerts), for a while or until
    `unmute`."""
    workload = await resolve(deps.runai, command.ref)
    if not inv.channel_id:
        raise UserFacingError(NOT_IN_A_CHANNEL)
    until: datetime | None = utcnow() + command.for_ if command.for_ else None
    if not await deps.watcher.mute(workload.id, channel=inv.channel_id, until=until):
        raise _not_watched(workload.name)
    how_long = (
        f"for {say_duration(command.for_)} (until {until:%Y-%m-%d %H:%M} UTC)"
        if command.for_ and until
        else f"until `/inference unmute {workload.name}`"
    )
    text = (
        f"Muted {workload.name} here {how_long}: no phase replies in its thread, and its "
        "alerts are held too (one still firing when the mute ends is told then). "
        "The parent message still shows the phase."
    )
    await replier.respond(
        inv, render.message("notice", emoji=":mute:", text=text, user=None, detail=None)
    )


async def unmute(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Unmute) -> None:
    """Let this channel's thread of a workload speak again."""
    workload = await resolve(deps.runai, command.ref)
    if not inv.channel_id:
        raise UserFacingError(NOT_IN_A_CHANNEL)
    if not await deps.watcher.unmute(workload.id, channel=inv.channel_id):
        raise _not_watched(workload.name)
    text = f"Unmuted {workload.name} here: its thread hears phase changes and alerts again."
    await replier.respond(
        inv, render.message("notice", emoji=":loud_sound:", text=text, user=None, detail=None)
    )


async def unwatch(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Unwatch) -> None:
    """Stop following a workload in this channel."""
    ref = command.ref
    workload_id, _ = await resolve_or_gone(deps.runai, ref)  # a deleted one too, by id
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
    Route(parsing.Mute, mute, "read"),
    Route(parsing.Unmute, unmute, "read"),
)
