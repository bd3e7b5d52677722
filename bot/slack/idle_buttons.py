"""The idle nudge's buttons: Scale to zero, Delete, Keep for 7 days.

Each press acts as the presser: the admit middleware gives the asker the intent of the
button (scale for Scale to zero and Keep, delete for Delete), so the policed client's
lookup refuses a channel member without that right in that channel (told privately,
audited by the gate). Every press is audited and noted in the workload's threads. A
button of an episode that is over (the workload served traffic, was scaled down, or the
value was tampered with) changes nothing and says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from bot.audit import AuditEntry, AuditLog
from bot.runai import models
from bot.slack import commands, parsing, render
from bot.slack.actions import Ack
from bot.slack.deps import Deps, Invocation
from bot.slack.errors import Doing
from bot.slack.reply import Replier
from bot.utc import utcnow
from bot.watch.care import idle
from bot.watch.store import Store

logger = logging.getLogger(__name__)

NOT_A_WORKLOAD = "That button doesn't name a workload; nothing was changed."
OUT_OF_DATE = (
    "This nudge is out of date: that workload is not idle any more (or was never nudged "
    "here), so nothing was changed."
)
CARE_OFF = "Idle nudges are not set up on this bot; nothing was changed."


class CareDesk:
    """What the idle buttons need of the watch room: the episode, Keep, audit, notes."""

    def __init__(
        self,
        store: Store,
        audit: AuditLog | None,
        *,
        wake: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.audit = audit
        self.wake = wake
        self.clock = clock

    async def nudged(self, workload_id: str) -> bool:
        """Whether the workload has an open idle episode that was nudged."""
        episode = await self.store.idle_episode(workload_id)
        return episode is not None and episode.nudged_at is not None

    async def keep(
        self, workload_id: str, *, name: str, user: str, channel: str | None
    ) -> datetime:
        """No nudge nor automatic action for `KEEP_FOR`; audited, noted in the threads."""
        until = self.clock() + idle.KEEP_FOR
        await self.store.keep_idle(workload_id, until, user)
        await self.pressed(
            workload_id,
            name=name,
            user=user,
            channel=channel,
            action="keep-idle",
            summary=f"kept {name} for {idle.KEEP_FOR.days} days: no idle nudge until "
            f"{until:%Y-%m-%d %H:%M} UTC",
        )
        return until

    async def pressed(
        self,
        workload_id: str,
        *,
        name: str,
        user: str,
        channel: str | None,
        action: str,
        summary: str,
        note: bool = True,
    ) -> None:
        """Audit a press (outcome ok) and note it in the workload's threads."""
        if self.audit is not None:
            try:
                await self.audit.add(
                    AuditEntry(
                        user_id=user,
                        channel_id=channel,
                        action=action,
                        workload_id=workload_id,
                        workload_name=name,
                        project=None,
                        summary=summary,
                        outcome="ok",
                    )
                )
            except Exception as exc:  # the trail must never break a button
                logger.warning("audit entry lost", extra={"error": type(exc).__name__})
        if note and await self.store.record_action(
            workload_id, "idle", user, summary, attribute=False
        ):
            self.wake()


def _value(body: Mapping[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")


def _notice(emoji: str, text: str, user: str | None = None) -> dict[str, Any]:
    return render.message("notice", emoji=emoji, text=text, user=user, detail=None)


async def _checked(deps: Deps, replier: Replier, inv: Invocation, workload_id: str) -> bool:
    """A press worth acting on: a workload id with a nudged open episode."""
    if not parsing.is_workload_id(workload_id):
        await replier.problem(inv, NOT_A_WORKLOAD)
        return False
    if deps.care is None:
        await replier.problem(inv, CARE_OFF)
        return False
    if not await deps.care.nudged(workload_id):
        await replier.problem(inv, OUT_OF_DATE)
        return False
    return True


async def scale_to_zero(deps: Deps, replier: Replier, inv: Invocation, workload_id: str) -> None:
    """Scale to zero as the presser: min 0, max kept, a metric that scales to zero."""
    if not await _checked(deps, replier, inv, workload_id):
        return
    inference = await deps.runai.get_inference(workload_id)  # the presser's scale right
    auto = idle.scale_to_zero(inference.spec.autoscaling if inference.spec else None)
    await deps.runai.update_inference(
        workload_id,
        models.InferenceUpdateRequest(spec=models.InferenceUpdateSpec(autoscaling=auto)),
    )
    summary = (
        f"scaled {inference.name} to zero from the idle nudge "
        f"(min 0, max {auto.max_replicas}" + (f", on {auto.metric}" if auto.metric else "") + ")"
    )
    await deps.record(workload_id, "scale", inv.user_id, summary)
    said = summary[0].upper() + summary[1:] + "."
    await replier.respond(inv, _notice(":zzz:", said, inv.user_id))


async def delete(deps: Deps, replier: Replier, inv: Invocation, workload_id: str) -> None:
    """Delete: the usual confirmation, if the presser may delete it."""
    if not await _checked(deps, replier, inv, workload_id):
        return
    await commands.confirm_delete(deps, replier, inv, workload_id)  # the presser's delete right
    assert deps.care is not None
    name = await _name(deps, workload_id)
    await deps.care.pressed(
        workload_id,
        name=name,
        user=inv.user_id,
        channel=inv.channel_id,
        action="idle-delete",
        summary=f"pressed Delete on the idle nudge of {name} (asked to confirm)",
    )


async def keep(deps: Deps, replier: Replier, inv: Invocation, workload_id: str) -> None:
    """Keep for 7 days, if the presser may scale it (Keep stops an automatic scale too)."""
    if not await _checked(deps, replier, inv, workload_id):
        return
    inference = await deps.runai.get_inference(workload_id)  # the presser's scale right
    assert deps.care is not None
    until = await deps.care.keep(
        workload_id, name=inference.name, user=inv.user_id, channel=inv.channel_id
    )
    await replier.respond(
        inv,
        _notice(
            ":pushpin:",
            f"Kept {inference.name}: no idle nudge until {until:%Y-%m-%d %H:%M} UTC.",
            inv.user_id,
        ),
    )


async def _name(deps: Deps, workload_id: str) -> str:
    try:
        return (await deps.runai.get_workload(workload_id)).name
    except Exception:
        return workload_id


PRESSES = {"scale": scale_to_zero, "delete": delete, "keep": keep}
DOING = {
    "scale": Doing("scale", None),
    "delete": Doing("delete", None),
    "keep": Doing("keep", None),
}


async def on_idle_button(
    deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any], press: str
) -> None:
    """Any of the three: ack at once, then act for the presser in a tracked task."""
    await ack()
    inv = Invocation.from_action(body)
    work = PRESSES[press](deps, replier, inv, _value(body))
    deps.tasks.fire(
        commands.report_failures(replier, inv, work, DOING[press]),
        name=f"idle-{press}",
    )
