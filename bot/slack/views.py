"""Modals: opening them in time, and answering their submissions.

Opening: a modal must be opened within 3 s of the trigger. When the form needs Run:ai
data (projects, the current spec), a small "loading" modal is opened first with the
trigger and then replaced (`views.update`) once the data is in; with warm caches the
form opens directly.

Submitting (what a demanding user expects, and why):
1. The form is validated at once, purely (`forms.validate_*`); problems come back
   inline under the right field (`response_action: errors`).
2. A valid form is sent to Run:ai *while Slack waits*, but only for `submit_budget`
   seconds (1.5 s by default, well inside Slack's 3 s). If Run:ai answers in time, the
   modal closes on success, or its 400/409 comes back inline on the field it names (or at
   the top of the form when it names none), so the user fixes it without retyping.
3. If Run:ai is slower, the ack turns the modal into "Submitting…" and the answer lands
   in the same modal later (`views.update`): a success note, or the form again with the
   error beside the field. Nothing is lost, and Slack's 3 s are never at risk.
Side effects of a success (channel message, thread record, ephemeral note) run after
the ack, in tracked tasks.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from bot.runai import errors as runai_errors
from bot.runai import models
from bot.slack import forms, render
from bot.slack.deps import Deps, Invocation
from bot.slack.errors import Doing, Problem, describe
from bot.slack.ids import Field
from bot.slack.present import model_card, scale_summary, workload_card
from bot.slack.reply import Replier
from bot.slack.resolve import resolve

logger = logging.getLogger(__name__)

Ack = Callable[..., Awaitable[Any]]
FormRenderer = Callable[[Problem | None, forms.Errors], dict[str, Any]]


# --- views ------------------------------------------------------------------------------


def loading_view(title: str, text: str) -> dict[str, Any]:
    """A placeholder modal shown while Run:ai answers."""
    return render.view("loading", title=title, text=text)


def result_view(
    title: str, problem: Problem | None = None, *, text: str = "", emoji: str = ":white_check_mark:"
) -> dict[str, Any]:
    """A closing-only modal with a success note or a problem."""
    if problem is not None:
        return render.view(
            "result", title=title, emoji=":x:", text=problem.sentence, detail=problem.detail
        )
    return render.view("result", title=title, emoji=emoji, text=text, detail=None)


def _notice(problem: Problem | None) -> str | None:
    if problem is None:
        return None
    return f"{problem.sentence} {problem.detail}" if problem.detail else problem.sentence


def _options(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"value": value, "label": label} for value, label in pairs]


MAX_STATIC_OPTIONS = 100  # Slack's cap on a static_select; beyond it, an external_select


def _project_search(projects: list[models.Project], chosen: str | None) -> dict[str, Any] | None:
    """For more projects than a static select holds: the external select's initial option
    and the count (its options come from `project_options` as the user types)."""
    if len(projects) <= MAX_STATIC_OPTIONS:
        return None
    initial = next(
        ({"value": p.id, "label": p.name} for p in projects if chosen and p.id == chosen), None
    )
    return {"initial": initial, "count": len(projects)}


def project_options(projects: list[models.Project], query: str) -> list[dict[str, Any]]:
    """The options an external project select shows for what the user typed: names that
    contain it (case ignored), those starting with it first, at most 100."""
    typed = query.strip().lower()
    found = [p for p in projects if typed in p.name.lower() or typed == p.id]
    found.sort(key=lambda p: (not p.name.lower().startswith(typed), p.name.lower()))
    return [
        {"text": {"type": "plain_text", "text": p.name[:75]}, "value": p.id}
        for p in found[:MAX_STATIC_OPTIONS]
    ]


METRIC_OPTIONS = [{"value": k, "label": label} for k, label in forms.METRIC_OPTIONS]


def create_view(
    orgs: tuple[list[models.Project], list[models.Cluster]],
    values: forms.Values,
    ctx: forms.ModalContext,
    *,
    errors: forms.Errors | None = None,
    notice: Problem | None = None,
) -> dict[str, Any]:
    """The create form; one cluster is preselected."""
    if not errors and notice is None:
        # The blank form is the same for everyone in a channel: render it once (it is the
        # biggest view, and `create` must reach views.open within the trigger's 3 s).
        return _blank_create_view(
            tuple((p.id, p.name) for p in orgs[0]),
            tuple((c.uuid, c.name) for c in orgs[1]),
            tuple(sorted(values.items())),
            ctx,
        )
    return _create_view(orgs, values, ctx, errors=errors, notice=notice)


@functools.lru_cache(maxsize=64)
def _blank_create_view(
    projects: tuple[tuple[str, str], ...],
    clusters: tuple[tuple[str, str], ...],
    values: tuple[tuple[Field, str], ...],
    ctx: forms.ModalContext,
) -> dict[str, Any]:
    orgs = (
        [models.Project(id=i, name=n) for i, n in projects],
        [models.Cluster(uuid=u, name=n) for u, n in clusters],
    )
    return _create_view(orgs, dict(values), ctx)


def _create_view(
    orgs: tuple[list[models.Project], list[models.Cluster]],
    values: forms.Values,
    ctx: forms.ModalContext,
    *,
    errors: forms.Errors | None = None,
    notice: Problem | None = None,
) -> dict[str, Any]:
    projects, clusters = orgs
    values = dict(values)
    if len(clusters) == 1 and not values.get(Field.CLUSTER):
        values[Field.CLUSTER] = clusters[0].uuid
    if len(projects) == 1 and not values.get(Field.PROJECT):
        values[Field.PROJECT] = projects[0].id
    memory = values.get(Field.GPU_MEMORY)
    search = _project_search(projects, values.get(Field.PROJECT))
    return render.view(
        "create",
        F=Field,
        v=values,
        errors=dict(errors or {}),
        notice=_notice(notice),
        # A search offers its options as the user types; a plain select carries them all.
        projects=[] if search else _options([(p.id, p.name) for p in projects]),
        project_search=search,
        clusters=_options([(c.uuid, c.name) for c in clusters]),
        metrics=METRIC_OPTIONS,
        metadata=ctx.dump(),
        model=ctx.model,
        min_gib=memory if ctx.model and memory else None,
    )


def scale_view(
    name: str,
    replicas: str | None,
    values: forms.Values,
    ctx: forms.ModalContext,
    *,
    errors: forms.Errors | None = None,
    notice: Problem | None = None,
) -> dict[str, Any]:
    """The scale form, prefilled with the current autoscaling."""
    return render.view(
        "scale",
        F=Field,
        v=values,
        errors=dict(errors or {}),
        notice=_notice(notice),
        name=name,
        replicas=replicas,
        metrics=METRIC_OPTIONS,
        metadata=ctx.dump(),
    )


def update_view(
    name: str,
    values: forms.Values,
    ctx: forms.ModalContext,
    hidden_env: int,
    *,
    errors: forms.Errors | None = None,
    notice: Problem | None = None,
) -> dict[str, Any]:
    """The update form, prefilled with the current spec (locked fields shown empty)."""
    hints: dict[str, str] = {
        f: "Too long to edit in Slack: kept as it is unless you type a new value."
        for f in ctx.locked
    }
    if hidden_env and Field.ENV not in hints:
        hints[Field.ENV] = (
            f"{hidden_env} more variable(s) come from secrets or config maps; they are kept."
        )
    return render.view(
        "update",
        F=Field,
        v=values,
        errors=dict(errors or {}),
        notice=_notice(notice),
        name=name,
        metadata=ctx.dump(),
        hints=hints,
    )


def model_message(info: models.ModelInfo, *, gated: bool = False) -> dict[str, Any]:
    """The model card message, with its Deploy button."""
    return render.message(
        "model_info", info=model_card(info, gated=gated), deploy_value=forms.deploy_value(info)
    )


# --- opening -----------------------------------------------------------------------------


async def open_create(
    deps: Deps,
    replier: Replier,
    inv: Invocation,
    info: models.ModelInfo | None = None,
) -> None:
    """Open the create form (prefilled for a model when given)."""
    values = forms.model_values(info) if info else forms.create_defaults()
    ctx = forms.ModalContext(channel_id=inv.channel_id, model=info.model_name if info else None)
    orgs = deps.orgs.peek()
    if orgs is None:
        await replier.open_view(inv, loading_view("Deploy inference", "Loading projects…"))
        orgs = await deps.orgs.get()
    if not orgs[0] or not orgs[1]:
        missing = "projects" if not orgs[0] else "clusters"
        none = Problem(f"Run:ai shows the bot no {missing} to deploy into.")
        await replier.open_view(inv, result_view("Deploy inference", none))
        return
    await replier.open_view(inv, create_view(orgs, values, ctx))


OPTIONS_BUDGET_SECONDS = 2.0  # Slack drops a block_suggestion answer after 3 s


async def on_project_options(deps: Deps, ack: Callable[..., Awaitable[Any]], body: Any) -> None:
    """Options for the create modal's project search (more projects than a static select
    holds): those the user may deploy into from this channel whose name holds the text."""
    try:
        projects, _clusters = await asyncio.wait_for(
            deps.orgs.get(), timeout=OPTIONS_BUDGET_SECONDS
        )
    except (TimeoutError, runai_errors.RunaiError) as exc:
        logger.warning("project options unavailable", extra={"error": type(exc).__name__})
        await ack(options=[])
        return
    await ack(options=project_options(projects, str(body.get("value") or "")))


async def open_scale(deps: Deps, replier: Replier, inv: Invocation, ref: str) -> None:
    """Open the scale form prefilled with the current values."""
    view_id = await replier.open_view(inv, loading_view("Scale inference", f"Looking up {ref}…"))
    inv = inv.with_view(view_id)
    workload = await resolve(deps.runai, ref)
    inference = await deps.runai.get_inference(workload.id)
    auto = inference.spec.autoscaling if inference.spec else None
    ctx = forms.ModalContext(channel_id=inv.channel_id, workload_id=workload.id, name=workload.name)
    card = workload_card(workload, inference)
    await replier.update_view(
        view_id, scale_view(workload.name, card.replicas, forms.scale_values(auto), ctx)
    )


async def open_update(deps: Deps, replier: Replier, inv: Invocation, ref: str) -> None:
    """Open the update form prefilled with the current spec."""
    view_id = await replier.open_view(inv, loading_view("Update inference", f"Looking up {ref}…"))
    inv = inv.with_view(view_id)
    workload = await resolve(deps.runai, ref)
    inference = await deps.runai.get_inference(workload.id)
    values, locked = forms.lock_long_values(forms.update_values(inference.spec))
    ctx = forms.ModalContext(
        channel_id=inv.channel_id, workload_id=workload.id, name=workload.name, locked=locked
    )
    await replier.update_view(
        view_id,
        update_view(workload.name, values, ctx, forms.hidden_env_count(inference.spec)),
    )


def hf_token_view(model: str, channel_id: str | None) -> dict[str, Any]:
    """The Hugging Face token modal for a gated `model`, asked from `channel_id`."""
    ctx = forms.ModalContext(channel_id=channel_id, model=model)
    return render.view("hf_token", model=model, metadata=ctx.dump())


async def ask_hf_token(replier: Replier, inv: Invocation, model: str, detail: str | None) -> None:
    """A gated model: open the token modal if the trigger is still fresh, else offer a button."""
    view = hf_token_view(model, inv.channel_id)
    if inv.view_id or inv.trigger_fresh():
        try:
            await replier.open_view(inv, view)
            return
        except Exception:
            logger.info("token modal not opened; offering a button", extra={"model": model})
    await replier.respond(inv, render.message("model_gated", model=model, detail=detail))


# --- submitting --------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a submission came to: inline errors, a problem, or success (+ what follows)."""

    errors: forms.Errors | None = None
    problem: Problem | None = None
    success: dict[str, Any] | None = None
    after: Callable[[], Coroutine[Any, Any, None]] | None = None


def outcome_for(exc: BaseException, fields: tuple[Field, ...], doing: Doing) -> Outcome:
    """A Run:ai failure → inline errors on the field it names, or a problem for the form."""
    if isinstance(exc, runai_errors.ConflictError) and Field.NAME in fields:
        return Outcome(errors={Field.NAME: f"Already used in this project. ({exc.message})"})
    if isinstance(exc, runai_errors.InvalidRequestError):
        field = forms.field_for_api_message(f"{exc.message} {exc.details or ''}", fields)
        if field is not None:
            return Outcome(errors={field: f"Run:ai: {exc.message}"})
    return Outcome(problem=describe(exc, doing))


async def submit(
    deps: Deps,
    replier: Replier,
    ack: Ack,
    *,
    view_id: str,
    work: Coroutine[Any, Any, Outcome],
    form: FormRenderer,
    working: dict[str, Any],
    fields: tuple[Field, ...],
    doing: Doing,
) -> None:
    """Run `work` within the budget and ack accordingly (see the module docstring)."""
    if view_id in deps.submitting:
        # A double click or a retried delivery while the first submission still runs:
        # never send the change twice; the first one answers in this modal.
        work.close()
        await ack(response_action="update", view=working)
        return
    deps.submitting.add(view_id)
    task = deps.tasks.spawn(work, name=f"submit-{doing.verb}")
    task.add_done_callback(lambda _: deps.submitting.discard(view_id))
    done, _ = await asyncio.wait({task}, timeout=deps.submit_budget)
    if task in done:
        outcome = _result(task, fields, doing)
        if outcome.errors:
            await ack(response_action="errors", errors=dict(outcome.errors))
        elif outcome.problem is not None:
            await ack(response_action="update", view=form(outcome.problem, {}))
        else:
            await ack()
            if outcome.after is not None:
                deps.tasks.fire(outcome.after(), name=f"after-{doing.verb}")
        return
    await ack(response_action="update", view=working)
    deps.tasks.fire(
        _finish(replier, task, view_id, form, fields, doing), name=f"finish-{doing.verb}"
    )


def _result(task: asyncio.Task[Outcome], fields: tuple[Field, ...], doing: Doing) -> Outcome:
    exc = task.exception()
    if exc is not None:
        return outcome_for(exc, fields, doing)
    return task.result()


async def _finish(
    replier: Replier,
    task: asyncio.Task[Outcome],
    view_id: str,
    form: FormRenderer,
    fields: tuple[Field, ...],
    doing: Doing,
) -> None:
    await asyncio.wait({task})
    outcome = _result(task, fields, doing)
    if outcome.errors or outcome.problem is not None:
        problem = outcome.problem or Problem("Run:ai refused a field; see below.")
        await replier.update_view(view_id, form(problem, outcome.errors or {}))
        return
    await replier.update_view(view_id, outcome.success or result_view("Done", text="Done."))
    if outcome.after is not None:
        await outcome.after()


def _view(body: Mapping[str, Any]) -> Mapping[str, Any]:
    view = body.get("view")
    return view if isinstance(view, Mapping) else {}


def _values(body: Mapping[str, Any]) -> forms.Values:
    return forms.field_values(((_view(body).get("state") or {}).get("values")) or {})


def _user(body: Mapping[str, Any]) -> str:
    return str((body.get("user") or {}).get("id", ""))


async def on_create_submit(deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any]) -> None:
    """Create form submitted: validate, create within the budget, then announce it."""
    values = _values(body)
    result = forms.validate_create(values)
    if not isinstance(result, forms.CreateSubmission):
        await ack(response_action="errors", errors=result)
        return
    sub = result
    ctx = forms.ModalContext.load(_view(body).get("private_metadata"))
    user = _user(body)
    orgs = deps.orgs.last() or _orgs_from(values)
    mismatch = forms.check_project_cluster(sub, *orgs)
    if mismatch:
        await ack(response_action="errors", errors=mismatch)
        return

    def form(problem: Problem | None, errors: forms.Errors) -> dict[str, Any]:
        return create_view(orgs, values, ctx, errors=errors, notice=problem)

    async def work() -> Outcome:
        created = await deps.runai.create_inference(forms.creation_request(sub))

        async def after() -> None:
            await announce_created(deps, replier, created, ctx.channel_id, user)

        return Outcome(
            success=result_view("Deployed", text=f"{created.name} was submitted to Run:ai."),
            after=after,
        )

    await submit(
        deps,
        replier,
        ack,
        view_id=str(_view(body).get("id", "")),
        work=work(),
        form=form,
        working=loading_view("Deploy inference", f"Submitting {sub.name} to Run:ai…"),
        fields=forms.CREATE_FIELDS,
        doing=Doing("create inference workloads in this project"),
    )


def _orgs_from(values: forms.Values) -> tuple[list[models.Project], list[models.Cluster]]:
    # The cache is empty (e.g. the bot restarted while the form was open): redraw the
    # form with the choices the user made, rather than with empty selects Slack refuses.
    project, cluster = values.get(Field.PROJECT, ""), values.get(Field.CLUSTER, "")
    return (
        [models.Project(id=project, name=project)] if project else [],
        [models.Cluster(uuid=cluster, name=cluster)] if cluster else [],
    )


async def announce_created(
    deps: Deps, replier: Replier, created: models.Inference, channel: str | None, user: str
) -> None:
    """After a create: the watcher posts the workload's channel message and follows it."""
    if not channel:
        return
    try:
        await deps.watcher.watch(created, channel=channel, user=user, reason="create")
    except Exception:
        logger.exception("watch after create failed", extra={"workload_id": created.workload_id})
        await replier.post(
            channel, render.message("created", w=workload_card(None, created), user=user)
        )


async def on_scale_submit(deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any]) -> None:
    """Scale form submitted: validate, PATCH autoscaling within the budget."""
    values = _values(body)
    result = forms.validate_scale(values)
    if not isinstance(result, forms.Scaling):
        await ack(response_action="errors", errors=result)
        return
    scaling = result
    ctx = forms.ModalContext.load(_view(body).get("private_metadata"))
    user = _user(body)
    workload_id, name = ctx.workload_id or "", ctx.name or "the workload"

    def form(problem: Problem | None, errors: forms.Errors) -> dict[str, Any]:
        return scale_view(name, None, values, ctx, errors=errors, notice=problem)

    async def work() -> Outcome:
        await deps.runai.update_inference(workload_id, forms.scale_request(scaling))
        summary = scale_summary(
            name, scaling.min_replicas, scaling.max_replicas, scaling.metric, scaling.threshold
        )

        async def after() -> None:
            await deps.record(workload_id, "scale", user, summary)
            await _tell(replier, ctx.channel_id, user, ":arrow_up_down:", summary)

        return Outcome(success=result_view("Scaled", text=summary), after=after)

    await submit(
        deps,
        replier,
        ack,
        view_id=str(_view(body).get("id", "")),
        work=work(),
        form=form,
        working=loading_view("Scale inference", f"Scaling {name}…"),
        fields=forms.SCALE_FIELDS,
        doing=Doing("scale", name),
    )


async def on_update_submit(deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any]) -> None:
    """Update form submitted: validate, PATCH only what changed, within the budget."""
    values = _values(body)
    ctx = forms.ModalContext.load(_view(body).get("private_metadata"))
    # A locked field the user left empty keeps its value; one they typed into is a change.
    kept = tuple(f for f in ctx.locked if not values.get(f))
    result = forms.validate_update(values, kept)
    if not isinstance(result, forms.UpdateSubmission):
        await ack(response_action="errors", errors=result)
        return
    sub = result
    user = _user(body)
    workload_id, name = ctx.workload_id or "", ctx.name or "the workload"

    def form(problem: Problem | None, errors: forms.Errors) -> dict[str, Any]:
        return update_view(name, values, ctx, 0, errors=errors, notice=problem)

    async def work() -> Outcome:
        current = await deps.runai.get_inference(workload_id)
        request = forms.update_request(current.spec, forms.fill_locked(sub, current.spec, kept))
        if not isinstance(request, models.InferenceUpdateRequest):
            return Outcome(errors=request)
        await deps.runai.update_inference(workload_id, request)
        changed = sorted(request.spec.model_dump(exclude_none=True))
        summary = f"Updated {name}: {', '.join(c.replace('_', ' ') for c in changed)}."

        async def after() -> None:
            await deps.record(workload_id, "update", user, summary)
            await _tell(replier, ctx.channel_id, user, ":arrows_counterclockwise:", summary)

        return Outcome(success=result_view("Updated", text=summary), after=after)

    await submit(
        deps,
        replier,
        ack,
        view_id=str(_view(body).get("id", "")),
        work=work(),
        form=form,
        working=loading_view("Update inference", f"Updating {name}…"),
        fields=forms.UPDATE_FIELDS,
        doing=Doing("update", name),
    )


async def on_hf_token_submit(
    deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any]
) -> None:
    """Token modal submitted: look the model up with it; the token is then dropped."""
    result = forms.validate_hf_token(_values(body))
    if isinstance(result, dict):
        await ack(response_action="errors", errors=result)
        return
    token = result
    ctx = forms.ModalContext.load(_view(body).get("private_metadata"))
    user = _user(body)
    model = ctx.model or ""

    def form(problem: Problem | None, errors: forms.Errors) -> dict[str, Any]:
        return render.view("hf_token", model=model, metadata=ctx.dump())

    async def work() -> Outcome:
        try:
            info = await deps.runai.model_info(model, token)
        except (runai_errors.UnauthorizedError, runai_errors.ForbiddenError) as exc:
            return Outcome(errors={Field.HF_TOKEN: f"Hugging Face refused it: {exc.message}"})
        message = model_message(info, gated=True)

        async def after() -> None:
            if ctx.channel_id:
                await replier.ephemeral(ctx.channel_id, user, message)

        return Outcome(
            success=result_view("Model info", text=f"Found {info.model_name}."), after=after
        )

    await submit(
        deps,
        replier,
        ack,
        view_id=str(_view(body).get("id", "")),
        work=work(),
        form=form,
        working=loading_view("Hugging Face token", f"Looking up {model}…"),
        fields=(Field.HF_TOKEN,),
        doing=Doing("look up models"),
    )


async def _tell(replier: Replier, channel: str | None, user: str, emoji: str, text: str) -> None:
    if channel:
        await replier.ephemeral(
            channel, user, render.message("notice", emoji=emoji, text=text, user=user, detail=None)
        )
