"""The create modal: its view (with the project search), validation, prefill (empty, or
for a Hugging Face model from the model card's Deploy button) and submit."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import ValidationError

from bot.runai import errors as runai_errors
from bot.runai import models
from bot.slack import render
from bot.slack.deps import Deps, Invocation
from bot.slack.errors import Doing, Problem
from bot.slack.ids import Field
from bot.slack.modals.api_errors import CREATE_FIELDS
from bot.slack.modals.fields import (
    Collector,
    Errors,
    Frozen,
    ModalContext,
    Resources,
    Values,
    compute,
    image,
    parse_env,
    resources,
    whole,
)
from bot.slack.modals.scale import METRIC_CHOICES, Scaling, autoscaling, read_scaling
from bot.slack.modals.submit import (
    Ack,
    Outcome,
    context_of,
    loading_view,
    notice_line,
    result_view,
    submit,
    user_of,
    values_of,
    view_id_of,
)
from bot.slack.present import model_card, workload_card
from bot.slack.reply import Replier

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8000
VLLM_IMAGE = "vllm/vllm-openai"
MAX_STATIC_OPTIONS = 100  # Slack's cap on a static_select; beyond it, an external_select
OPTIONS_BUDGET_SECONDS = 2.0  # Slack drops a block_suggestion answer after 3 s


class CreateSubmission(Frozen):
    """A valid create form."""

    name: str
    project_id: str
    cluster_id: str
    image: str
    command: str | None = None
    args: str | None = None
    port: int = DEFAULT_PORT
    resources: Resources = Resources()
    env: tuple[tuple[str, str], ...] = ()
    scaling: Scaling


# --- validation --------------------------------------------------------------------------


def validate_create(values: Values) -> CreateSubmission | Errors:
    """The create form → a submission, or inline errors by block id."""
    c = Collector(values)
    name = c.required(Field.NAME, "Name")
    if name is not None and not models.is_workload_name(name):
        c.fail(
            Field.NAME,
            "Use lower-case letters, digits and dashes, start with a letter or digit, "
            "end with one, up to 63.",
        )
    project = c.required(Field.PROJECT, "Project")
    cluster = c.required(Field.CLUSTER, "Cluster")
    image_name = image(c)
    port = c.get(Field.PORT, whole, 1, 65535, "Port")
    if port is None and Field.PORT not in c.errors:
        c.fail(Field.PORT, "Port is required.")
    res = resources(c)
    env = c.get(Field.ENV, parse_env) or ()
    scaling = read_scaling(c)
    if c.errors or name is None or project is None or cluster is None or image_name is None:
        return c.errors
    assert scaling is not None and port is not None
    return CreateSubmission(
        name=name,
        project_id=project,
        cluster_id=cluster,
        image=image_name,
        command=c.text(Field.COMMAND) or None,
        args=c.text(Field.ARGS) or None,
        port=port,
        resources=res,
        env=env,
        scaling=scaling,
    )


def check_project_cluster(
    sub: CreateSubmission, projects: list[models.Project], clusters: list[models.Cluster]
) -> Errors:
    """A project lives on one cluster: catch a mismatch before Run:ai does."""
    project = next((p for p in projects if p.id == sub.project_id), None)
    if project is None or not project.cluster_id or project.cluster_id == sub.cluster_id:
        return {}
    home = next((c.name for c in clusters if c.uuid == project.cluster_id), project.cluster_id)
    return {Field.CLUSTER: f"Project {project.name} is on cluster {home}."}


def creation_request(sub: CreateSubmission) -> models.InferenceCreationRequest:
    """A valid create form → the API's creation request."""
    env = [models.EnvironmentVariable(name=k, value=v) for k, v in sub.env] or None
    return models.InferenceCreationRequest(
        name=sub.name,
        project_id=sub.project_id,
        cluster_id=sub.cluster_id,
        spec=models.InferenceSpecSpec(
            image=sub.image,
            command=sub.command,
            args=sub.args,
            environment_variables=env,
            serving_port=models.ServingPort(container=sub.port, protocol="http"),
            compute=compute(sub.resources),
            autoscaling=autoscaling(sub.scaling),
        ),
    )


# --- prefill -----------------------------------------------------------------------------


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:4])


def vllm_image(versions: list[str]) -> str:
    """The vLLM OpenAI-server image for the newest version that can serve the model."""
    if not versions:
        return f"{VLLM_IMAGE}:latest"
    newest = max(versions, key=_version_key)
    tag = newest if newest.startswith("v") else f"v{newest}"
    return f"{VLLM_IMAGE}:{tag}"


def gib(mb: int | None) -> int | None:
    """MB (as the model-info API reports) → whole GiB, rounded up."""
    if mb is None or mb <= 0:
        return None
    return math.ceil(mb / 1024)


def model_values(info: models.ModelInfo) -> Values:
    """Model info → create form values for deploying it with vLLM."""
    memory = gib(info.min_memory_requirements_mb)
    base = info.model_name.split("/")[-1].lower()
    name = re.sub(r"[^a-z0-9-]+", "-", base).strip("-")[:50].strip("-")
    return {
        Field.NAME: name if models.is_workload_name(name) else "",
        Field.IMAGE: vllm_image(info.vllm_supporting_versions),
        Field.ARGS: f"--model {info.model_name}",
        Field.PORT: str(DEFAULT_PORT),
        Field.GPU_DEVICES: "1",
        Field.GPU_MEMORY: f"{memory}Gi" if memory else "",
        Field.MIN_REPLICAS: "1",
        Field.MAX_REPLICAS: "1",
    }


def create_defaults() -> Values:
    """Initial values of an empty create form."""
    return {
        Field.PORT: str(DEFAULT_PORT),
        Field.GPU_DEVICES: "1",
        Field.MIN_REPLICAS: "1",
        Field.MAX_REPLICAS: "1",
    }


def deploy_value(info: models.ModelInfo) -> str:
    """The Deploy button's value: what the create form needs, as compact JSON."""
    return json.dumps(
        {
            "model": info.model_name,
            "versions": info.vllm_supporting_versions[-5:],
            "mb": info.min_memory_requirements_mb,
        },
        separators=(",", ":"),
    )


def model_from_deploy_value(value: str) -> models.ModelInfo | None:
    """Inverse of `deploy_value`; None when the value is not ours."""
    try:
        data = json.loads(value)
        return models.ModelInfo(
            model_name=data["model"],
            vllm_supporting_versions=list(data.get("versions") or []),
            min_memory_requirements_mb=data.get("mb"),
        )
    except (ValueError, KeyError, TypeError, ValidationError):
        return None


def model_message(
    info: models.ModelInfo, *, gated: bool = False, source: str | None = None
) -> dict[str, Any]:
    """The model card message, with its Deploy button (which opens this form)."""
    return render.message(
        "model_info",
        info=model_card(info, gated=gated, source=source),
        deploy_value=deploy_value(info),
    )


# --- the view ----------------------------------------------------------------------------


def _options(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"value": value, "label": label} for value, label in pairs]


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


def create_view(
    orgs: tuple[list[models.Project], list[models.Cluster]],
    values: Values,
    ctx: ModalContext,
    *,
    errors: Errors | None = None,
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
    ctx: ModalContext,
) -> dict[str, Any]:
    orgs = (
        [models.Project(id=i, name=n) for i, n in projects],
        [models.Cluster(uuid=u, name=n) for u, n in clusters],
    )
    return _create_view(orgs, dict(values), ctx)


def _create_view(
    orgs: tuple[list[models.Project], list[models.Cluster]],
    values: Values,
    ctx: ModalContext,
    *,
    errors: Errors | None = None,
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
        notice=notice_line(notice),
        # A search offers its options as the user types; a plain select carries them all.
        projects=[] if search else _options([(p.id, p.name) for p in projects]),
        project_search=search,
        clusters=_options([(c.uuid, c.name) for c in clusters]),
        metrics=METRIC_CHOICES,
        metadata=ctx.dump(),
        model=ctx.model,
        min_gib=memory if ctx.model and memory else None,
    )


# --- opening -----------------------------------------------------------------------------


async def open_create(
    deps: Deps,
    replier: Replier,
    inv: Invocation,
    info: models.ModelInfo | None = None,
) -> None:
    """Open the create form (prefilled for a model when given)."""
    values = model_values(info) if info else create_defaults()
    ctx = ModalContext(channel_id=inv.channel_id, model=info.model_name if info else None)
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


# --- submitting --------------------------------------------------------------------------


async def on_create_submit(deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any]) -> None:
    """Create form submitted: validate, create within the budget, then announce it."""
    values = values_of(body)
    result = validate_create(values)
    if not isinstance(result, CreateSubmission):
        await ack(response_action="errors", errors=result)
        return
    sub = result
    ctx = context_of(body)
    user = user_of(body)
    orgs = deps.orgs.last() or _orgs_from(values)
    mismatch = check_project_cluster(sub, *orgs)
    if mismatch:
        await ack(response_action="errors", errors=mismatch)
        return

    def form(problem: Problem | None, errors: Errors) -> dict[str, Any]:
        return create_view(orgs, values, ctx, errors=errors, notice=problem)

    async def work() -> Outcome:
        created = await deps.runai.create_inference(creation_request(sub))

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
        view_id=view_id_of(body),
        work=work(),
        form=form,
        working=loading_view("Deploy inference", f"Submitting {sub.name} to Run:ai…"),
        fields=CREATE_FIELDS,
        doing=Doing("create inference workloads in this project"),
    )


def _orgs_from(values: Values) -> tuple[list[models.Project], list[models.Cluster]]:
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
