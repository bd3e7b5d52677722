"""A workload's life: `create`, `status`, `scale`, `update`, `delete` (asked, then
confirmed by a button), and `list` (a page of them, paged by buttons).

`create`, `update` and `scale` without numbers open their modal (`slack/modals/`); a typed
`scale x 2 2` takes the scale modal's own path (`modals.scale.apply_scaling`).
"""

from __future__ import annotations

import logging

from bot.runai import errors as runai_errors
from bot.runai import models
from bot.slack import parsing, render
from bot.slack.commands.route import Route, always
from bot.slack.deps import Deps, Invocation
from bot.slack.modals import create as create_modal
from bot.slack.modals import scale as scale_modal
from bot.slack.modals import update as update_modal
from bot.slack.present import list_description, list_rows, workload_card
from bot.slack.reply import Replier
from bot.slack.resolve import resolve

logger = logging.getLogger(__name__)


async def create(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Create) -> None:
    """Open the create form."""
    await create_modal.open_create(deps, replier, inv)


async def status(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Status) -> None:
    """Phase, replicas, URLs, image, resources, creator."""
    workload = await resolve(deps.runai, command.ref)
    inference: models.Inference | None
    try:
        inference = await deps.runai.get_inference(workload.id)
    except runai_errors.NotFoundError:
        inference = None
    await replier.respond(inv, render.message("status", w=workload_card(workload, inference)))


def scale_opens_modal(command: parsing.Scale) -> bool:
    """`scale <ref>` with no numbers opens the scale form."""
    return command.min_replicas is None


async def scale(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Scale) -> None:
    """`scale <ref>` opens the form; `scale <ref> <min> [max]` PATCHes autoscaling on the
    form's own path, keeping the current metric where the new range still scales."""
    if command.min_replicas is None:
        await scale_modal.open_scale(deps, replier, inv, command.ref)
        return
    workload = await resolve(deps.runai, command.ref)
    current = await deps.runai.get_inference(workload.id)
    auto = current.spec.autoscaling if current.spec and current.spec.autoscaling else None
    scaling = scale_modal.command_scaling(auto, command.min_replicas, command.effective_max or 1)
    summary = await scale_modal.apply_scaling(deps, workload.id, workload.name, scaling)
    await replier.respond(
        inv, await scale_modal.record_scaling(deps, workload.id, inv.user_id, summary)
    )


async def update(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Update) -> None:
    """Open the update form, prefilled from the workload's spec."""
    await update_modal.open_update(deps, replier, inv, command.ref)


async def confirm_delete(
    deps: Deps, replier: Replier, inv: Invocation, command: parsing.Delete
) -> None:
    """Ask before deleting: a message naming the workload with Delete / Cancel."""
    workload = await resolve(deps.runai, command.ref)
    await replier.respond(inv, render.message("delete_confirm", w=workload_card(workload)))


async def delete(deps: Deps, replier: Replier, inv: Invocation, workload_id: str) -> None:
    """The confirmed DELETE (the Delete button); replaces the confirmation message."""
    try:
        workload = await deps.runai.get_workload(workload_id)
    except runai_errors.NotFoundError:
        await replier.respond(
            inv,
            render.message(
                "notice",
                emoji=":ghost:",
                text="That workload is already gone.",
                user=None,
                detail=None,
            ),
            replace_original=True,
        )
        return
    await deps.runai.delete_inference(workload_id)
    summary = f"Deleting {workload.name}."
    await deps.record(workload_id, "delete", inv.user_id, summary)
    await replier.respond(
        inv,
        render.message(
            "notice", emoji=":wastebasket:", text=summary, user=inv.user_id, detail=None
        ),
        replace_original=True,
    )


def list_filters(query: parsing.ListInferences) -> list[str]:
    """`filterBy` terms of a `list`: inferences, narrowed as the user asked."""
    terms = [f"type=={models.INFERENCE_WORKLOAD_TYPE}"]
    if query.name:
        terms.append(f"name=@{query.name}")
    if query.phase:
        terms.append(f"phase=={query.phase}")
    if query.project:
        terms.append(f"projectName=={query.project}")
    return terms


async def list_inferences(
    deps: Deps,
    replier: Replier,
    inv: Invocation,
    query: parsing.ListInferences,
    *,
    replace: bool = False,
) -> None:
    """One page of inference workloads (narrowed as asked), marking those this channel
    follows; its buttons carry the same filters to the next page (`replace`: in place)."""
    size = deps.list_page_size
    page = query.page
    result = await deps.runai.list_workloads(
        filter_by=list_filters(query),
        limit=size + 1,
        offset=(page - 1) * size,
        sort_by="name",
    )
    workloads = [w for w in result.workloads if w.type == models.INFERENCE_WORKLOAD_TYPE]
    followed: set[str] = set()
    if inv.channel_id:
        try:
            followed = await deps.watcher.watched_in(inv.channel_id)
        except Exception:
            logger.exception("watched_in failed")
    rows = list_rows(workloads[:size], followed)
    await replier.respond(
        inv,
        render.message(
            "list",
            rows=rows,
            page=page,
            has_next=len(result.workloads) > size,
            followed_count=sum(r.followed for r in rows),
            narrowed=list_description(query.name, query.phase, query.project),
            next_value=query.words(page + 1),
            prev_value=query.words(page - 1),
        ),
        replace_original=replace,
    )


ROUTES = (
    Route(parsing.Create, create, "list projects and clusters", opens_modal=always),
    Route(parsing.Status, status, "read"),
    Route(parsing.Scale, scale, "scale", opens_modal=scale_opens_modal),
    Route(parsing.Update, update, "update", opens_modal=always),
    Route(parsing.Delete, confirm_delete, "delete"),
    Route(parsing.ListInferences, list_inferences, "list workloads"),
)
