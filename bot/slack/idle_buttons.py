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
from collections.abc import Mapping
from typing import Any

from bot.runai import models
from bot.slack import commands, parsing, render
from bot.slack.actions import Ack
from bot.slack.care_desk import CARE_OFF
from bot.slack.commands import workloads
from bot.slack.deps import Deps, Invocation
from bot.slack.errors import Doing
from bot.slack.reply import Replier
from bot.watch.care import idle

logger = logging.getLogger(__name__)

NOT_A_WORKLOAD = "That button doesn't name a workload; nothing was changed."
OUT_OF_DATE = (
    "This nudge is out of date: that workload is not idle any more (or was never nudged "
    "here), so nothing was changed."
)


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
    # The usual confirmation; its lookup checks the presser's delete right.
    await workloads.confirm_delete(deps, replier, inv, parsing.Delete(ref=workload_id))
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
