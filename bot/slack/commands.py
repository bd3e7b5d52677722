"""`/inference`: ack at once, then run the subcommand after the ack.

The text is parsed once, before any listener (`parse_body`, called by `app.parse_once`).
`on_command` is the Bolt listener body: it acks within milliseconds (help and parse
errors are answered in the ack itself) and hands everything else to a tracked task
(`run`). Runners answer through `Replier`; failures become words in `errors.describe`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from bot import telemetry
from bot.runai import errors as runai_errors
from bot.runai import models
from bot.slack import parsing, render
from bot.slack.charts import render_chart
from bot.slack.deps import Deps, Invocation
from bot.slack.errors import Doing, NoSuchWorkload, UserFacingError, describe, is_gated_refusal
from bot.slack.ids import Action
from bot.slack.modals import create as create_modal
from bot.slack.modals import hf_token as hf_token_modal
from bot.slack.modals import scale as scale_modal
from bot.slack.modals import update as update_modal
from bot.slack.modals.submit import result_view
from bot.slack.present import (
    METRIC_LABELS,
    Choice,
    choice_label,
    list_description,
    list_rows,
    series_stats,
    window_text,
    workload_card,
)
from bot.slack.reply import Replier, TriggerExpired
from bot.slack.resolve import Ambiguous, resolve

logger = logging.getLogger(__name__)

Ack = Callable[..., Awaitable[Any]]


def help_message(error: str | None = None, usage: str | None = None) -> dict[str, Any]:
    """The help (or short error + usage) message."""
    if error is None and usage is None:
        return _full_help()
    return render.message("help", usages=parsing.USAGES, error=error, usage=usage)


@functools.cache
def _full_help() -> dict[str, Any]:
    # The same for everyone: rendered once (the ack path stays cheap).
    return render.message("help", usages=parsing.USAGES, error=None, usage=None)


Parsed = parsing.Command | parsing.ParseError
"""A command text, parsed: the command, or why it does not parse."""


def parse_body(body: Mapping[str, Any]) -> Parsed | None:
    """The command a request carries, parsed: `/inference`'s text, or the command a
    which-one button runs again; None for a request that carries none."""
    if "command" in body:
        text = str(body.get("text") or "")
    elif body.get("type") == "block_actions":
        actions = body.get("actions")
        first = actions[0] if isinstance(actions, list) and actions else None
        if not isinstance(first, Mapping) or not str(first.get("action_id") or "").startswith(
            Action.CHOOSE_WORKLOAD
        ):
            return None
        text = str(first.get("value") or "")
    else:
        return None
    try:
        return parsing.parse(text)
    except parsing.ParseError as exc:
        return exc


async def on_command(
    deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any], command: Parsed
) -> None:
    """Bolt listener for `/inference` (its text parsed): ack now, work later."""
    inv = Invocation.from_command(body)  # first: the trigger_id's 3 s started on arrival
    if isinstance(command, parsing.ParseError):
        telemetry.COMMANDS.labels("unparsed", "usage_error").inc()
        await ack(**help_message(command.message, command.usage))
        return
    if isinstance(command, parsing.Help):
        telemetry.COMMANDS.labels("Help", "ok").inc()
        await ack(**help_message())
        return
    await ack()
    logger.info(
        "command",
        extra={
            "subcommand": type(command).__name__,
            "user": inv.user_id,
            "channel": inv.channel_id,
        },
    )
    deps.tasks.fire(
        run(deps, replier, inv, command),
        name=f"command-{type(command).__name__}",
        urgent=opens_modal(command),
    )


def opens_modal(command: parsing.Command) -> bool:
    """Whether the command must use its trigger_id (3 s) to open a modal."""
    return isinstance(command, parsing.Create | parsing.Update) or (
        isinstance(command, parsing.Scale) and command.min_replicas is None
    )


def _doing(command: parsing.Command) -> Doing:
    if isinstance(command, parsing.Policy | parsing.Audit):
        return Doing("read")  # the trail outlives the workload: no name to fail on
    ref = getattr(command, "ref", None)
    verbs = {
        parsing.Status: "read",
        parsing.Scale: "scale",
        parsing.Update: "update",
        parsing.Delete: "delete",
        parsing.Metrics: "read the metrics of",
        parsing.Watch: "read",
        parsing.Unwatch: "read",
        parsing.ListInferences: "list workloads",
        parsing.Create: "list projects and clusters",
        parsing.ModelInfo: "look up models",
    }
    return Doing(verbs.get(type(command), "do that"), ref)


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


async def run(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Command) -> None:
    """Run one parsed command for `inv`; every failure ends as a message to the user."""
    await report_failures(
        replier, inv, _counted(deps, replier, inv, command), _doing(command), command
    )


async def _counted(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Command) -> None:
    subcommand = type(command).__name__
    try:
        await _dispatch(deps, replier, inv, command)
    except Exception as exc:
        telemetry.COMMANDS.labels(subcommand, type(exc).__name__).inc()
        raise
    telemetry.COMMANDS.labels(subcommand, "ok").inc()


async def run_modal(deps: Deps, replier: Replier, inv: Invocation, work: Awaitable[None]) -> None:
    """Open a modal from a button; failures end as a message."""
    await report_failures(replier, inv, work, Doing("do that"))


async def _dispatch(
    deps: Deps, replier: Replier, inv: Invocation, command: parsing.Command
) -> None:
    match command:
        case parsing.ModelInfo(model=model):
            await model_info(deps, replier, inv, model)
        case parsing.Create():
            await create_modal.open_create(deps, replier, inv)
        case parsing.Status(ref=ref):
            await status(deps, replier, inv, ref)
        case parsing.Scale(ref=ref, min_replicas=None):
            await scale_modal.open_scale(deps, replier, inv, ref)
        case parsing.Scale(ref=ref, min_replicas=low) if low is not None:
            await scale(deps, replier, inv, ref, low, command.effective_max or 1)
        case parsing.Update(ref=ref):
            await update_modal.open_update(deps, replier, inv, ref)
        case parsing.Delete(ref=ref):
            await confirm_delete(deps, replier, inv, ref)
        case parsing.Metrics():
            await metrics(deps, replier, inv, command)
        case parsing.Watch(ref=ref):
            await watch(deps, replier, inv, ref)
        case parsing.Unwatch(ref=ref):
            await unwatch(deps, replier, inv, ref)
        case parsing.ListInferences():
            await list_inferences(deps, replier, inv, command)
        case parsing.Policy() if deps.answers is not None:
            await replier.respond(inv, await deps.answers.policy(inv))
        case parsing.Audit(ref=ref) if deps.answers is not None:
            await replier.respond(inv, await deps.answers.audit(inv, ref))
        case _:
            await replier.respond(inv, help_message())


# --- "which one?" ------------------------------------------------------------------------


def command_text(command: parsing.Command, ref: str) -> str:
    """The command again, naming the workload by `ref` (an id after a choice)."""
    match command:
        case parsing.Scale(min_replicas=low, max_replicas=high):
            extra = " ".join(str(n) for n in (low, high) if n is not None)
            return f"scale {ref} {extra}".strip()
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


# --- runners -------------------------------------------------------------------------------


async def model_info(
    deps: Deps, replier: Replier, inv: Invocation, model: str, hf_token: str | None = None
) -> None:
    """Model info with a Deploy button; a gated model asks for a token."""
    try:
        info = await deps.runai.model_info(model, hf_token)
    except runai_errors.RunaiError as exc:
        if hf_token is None and is_gated_refusal(exc):
            await hf_token_modal.ask_hf_token(replier, inv, model, exc.message)
            return
        if isinstance(exc, runai_errors.NotFoundError) and not isinstance(
            exc, runai_errors.ModelInfoUnavailableError
        ):
            raise UserFacingError(f"Hugging Face has no model {model}.", exc.message) from exc
        if hf_token is not None and is_gated_refusal(exc):
            raise UserFacingError("Hugging Face refused that token.", exc.message) from exc
        raise
    await replier.respond(inv, create_modal.model_message(info, gated=hf_token is not None))


async def status(deps: Deps, replier: Replier, inv: Invocation, ref: str) -> None:
    """Phase, replicas, URLs, image, resources, creator."""
    workload = await resolve(deps.runai, ref)
    inference: models.Inference | None
    try:
        inference = await deps.runai.get_inference(workload.id)
    except runai_errors.NotFoundError:
        inference = None
    await replier.respond(inv, render.message("status", w=workload_card(workload, inference)))


async def scale(
    deps: Deps, replier: Replier, inv: Invocation, ref: str, low: int, high: int
) -> None:
    """`scale <ref> <min> [max]`: the scale modal's own path, from typed numbers."""
    await scale_modal.scale_command(deps, replier, inv, ref, low, high)


async def confirm_delete(deps: Deps, replier: Replier, inv: Invocation, ref: str) -> None:
    """Ask before deleting: a message naming the workload with Delete / Cancel."""
    workload = await resolve(deps.runai, ref)
    await replier.respond(inv, render.message("delete_confirm", w=workload_card(workload)))


async def delete(deps: Deps, replier: Replier, inv: Invocation, workload_id: str) -> None:
    """The confirmed DELETE; replaces the confirmation message."""
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


async def metrics(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Metrics) -> None:
    """Throughput and latency: a PNG chart in the channel plus the numbers."""
    workload = await resolve(deps.runai, command.ref)
    end = datetime.now(UTC)
    start = end - command.since
    if command.pod:
        try:
            response = await deps.runai.pod_metrics(workload.id, command.pod, start, end)
        except runai_errors.NotFoundError as exc:
            raise UserFacingError(
                f"{workload.name} has no pod {command.pod}.", exc.message
            ) from exc
    else:
        response = await deps.runai.inference_metrics(workload.id, start, end)
    stats = [s for s in (series_stats(m) for m in response.measurements) if s is not None]
    window = window_text(command.since)
    title = f"{workload.name}" + (f" pod {command.pod}" if command.pod else "") + f", {window}"
    uploaded = False
    if stats and inv.channel_id:
        png = await render_chart(title, response.measurements)
        text_only = render.message(
            "metrics", name=workload.name, pod=command.pod, window=window, series=stats, note=""
        )["text"]
        uploaded = await replier.upload_png(
            inv.channel_id,
            png,
            filename=f"{workload.name}-metrics.png",
            title=title,
            comment=text_only,
        )
    note = (
        "Chart posted in the channel."
        if uploaded
        else "No chart: no samples in this window."
        if not stats
        else "I couldn't post the chart here (invite me to the channel to get charts)."
    )
    shown = {s.label for s in stats}
    missing = [label for label in METRIC_LABELS.values() if label not in shown]
    if stats and missing:
        # Run:ai's 207 "partial success", or a series with no samples: say which is absent.
        note = f"No {' or '.join(m.lower() for m in missing)} samples in this window. {note}"
    await replier.respond(
        inv,
        render.message(
            "metrics", name=workload.name, pod=command.pod, window=window, series=stats, note=note
        ),
    )


async def watch(deps: Deps, replier: Replier, inv: Invocation, ref: str) -> None:
    """Follow a workload in this channel (the watcher posts the parent message)."""
    workload = await resolve(deps.runai, ref)
    if not inv.channel_id:
        raise UserFacingError("I can only follow workloads in a channel.")
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


async def unwatch(deps: Deps, replier: Replier, inv: Invocation, ref: str) -> None:
    """Stop following a workload in this channel."""
    try:
        workload_id = (await resolve(deps.runai, ref)).id
    except NoSuchWorkload:
        if not parsing.is_workload_id(ref):
            raise
        workload_id = ref  # deleted workloads can still be unwatched by id
    if not inv.channel_id:
        raise UserFacingError("I can only follow workloads in a channel.")
    ended = await deps.watcher.unwatch(workload_id, channel=inv.channel_id, user=inv.user_id)
    text = f"Stopped following {ref} here." if ended else f"This channel wasn't following {ref}."
    await replier.respond(
        inv, render.message("notice", emoji=":see_no_evil:", text=text, user=None, detail=None)
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
    follows; its buttons carry the same filters to the next page."""
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
