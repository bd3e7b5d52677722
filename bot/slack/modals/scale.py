"""The scale modal, and the one path every scale takes (typed `scale x 2 2` or the modal).

View, validation, prefill and submit of the scale form; `command_scaling`,
`apply_scaling` and `record_scaling` are shared with the typed command
(`commands.workloads.scale`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.runai import models
from bot.slack import render
from bot.slack.deps import Deps, Invocation
from bot.slack.errors import Doing, Problem, UserFacingError
from bot.slack.ids import Field
from bot.slack.modals.api_errors import SCALE_FIELDS
from bot.slack.modals.fields import Collector, Errors, Frozen, ModalContext, Values, num, whole
from bot.slack.modals.submit import (
    Ack,
    Outcome,
    context_of,
    loading_view,
    notice_line,
    notice_message,
    result_view,
    submit,
    user_of,
    values_of,
    view_id_of,
)
from bot.slack.parsing import MAX_REPLICAS
from bot.slack.present import scale_summary, workload_card
from bot.slack.reply import Replier
from bot.slack.resolve import resolve

SCALE_TO_ZERO_METRICS = ("throughput", "concurrency")
METRIC_OPTIONS = (
    ("throughput", "Throughput (requests/s)"),
    ("concurrency", "Concurrency (requests)"),
    ("latency", "Latency (ms)"),
)
METRIC_CHOICES = [{"value": k, "label": label} for k, label in METRIC_OPTIONS]
SCALED_EMOJI = ":arrow_up_down:"


class Scaling(Frozen):
    """Replicas and autoscaling, as the user set them."""

    min_replicas: int
    max_replicas: int
    metric: str | None = None
    threshold: int | None = None
    retention_seconds: int | None = None


# --- validation --------------------------------------------------------------------------


def read_scaling(c: Collector) -> Scaling | None:
    """The replicas and autoscaling fields (of the scale and the create form)."""
    low = c.get(Field.MIN_REPLICAS, whole, 0, MAX_REPLICAS, "Min replicas")
    high = c.get(Field.MAX_REPLICAS, whole, 1, MAX_REPLICAS, "Max replicas")
    if low is None and Field.MIN_REPLICAS not in c.errors:
        c.fail(Field.MIN_REPLICAS, "Min replicas is required.")
    if high is None and Field.MAX_REPLICAS not in c.errors:
        c.fail(Field.MAX_REPLICAS, "Max replicas is required.")
    metric = c.text(Field.METRIC) or None
    if metric is not None and metric not in dict(METRIC_OPTIONS):
        c.fail(Field.METRIC, "Pick one of the listed metrics.")
    threshold = c.get(Field.THRESHOLD, whole, 1, 1_000_000_000, "Threshold")
    retention = c.get(Field.RETENTION, whole, 0, 3600, "Retention")
    if low is not None and high is not None:
        if low > high:
            c.fail(Field.MAX_REPLICAS, f"Max replicas must be at least min replicas ({low}).")
        elif low < high and metric is None and (low, high) != (0, 1):
            c.fail(Field.METRIC, "Pick a metric: it decides when to add replicas.")
    if metric is not None and threshold is None and Field.THRESHOLD not in c.errors:
        c.fail(Field.THRESHOLD, f"Set a threshold for {metric}.")
    if metric is None and threshold is not None:
        c.fail(Field.THRESHOLD, "A threshold needs a metric.")
    if low == 0 and metric is not None and metric not in SCALE_TO_ZERO_METRICS:
        c.fail(Field.METRIC, "Only throughput or concurrency can scale to zero.")
    if retention is not None and low is not None and low != 0:
        c.fail(Field.RETENTION, "Retention only applies when min replicas is 0.")
    if low is None or high is None or c.errors:
        return None
    return Scaling(
        min_replicas=low,
        max_replicas=high,
        metric=metric,
        threshold=threshold,
        retention_seconds=retention,
    )


def validate_scale(values: Values) -> Scaling | Errors:
    """The scale form → a scaling, or inline errors."""
    c = Collector(values)
    scaling = read_scaling(c)
    if scaling is None:
        return c.errors
    return scaling


def check_scale_command(scaling: Scaling, name: str = "<name>") -> str | None:
    """The cross-field rule a `scale <min> <max>` command can break, as a sentence."""
    low, high = scaling.min_replicas, scaling.max_replicas
    if low < high and scaling.metric is None and (low, high) != (0, 1):
        return (
            "Different min and max replicas need an autoscaling metric; "
            f"run `/inference scale {name}` with no numbers to pick one."
        )
    if scaling.min_replicas == 0 and scaling.metric not in (None, *SCALE_TO_ZERO_METRICS):
        return "Only the throughput or concurrency metric can scale to zero."
    return None


# --- scaling → the Run:ai request ----------------------------------------------------------


def autoscaling(scaling: Scaling) -> models.AutoScaling:
    """User scaling → the API's `AutoScaling`."""
    return models.AutoScaling(
        min_replicas=scaling.min_replicas,
        max_replicas=scaling.max_replicas,
        metric=scaling.metric,
        metric_threshold=scaling.threshold,
        scale_to_zero_retention_seconds=scaling.retention_seconds,
    )


def scale_request(scaling: Scaling) -> models.InferenceUpdateRequest:
    """User scaling → the PATCH that changes only `spec.autoscaling`."""
    return models.InferenceUpdateRequest(
        spec=models.InferenceUpdateSpec(autoscaling=autoscaling(scaling))
    )


# --- the one path of a scale ----------------------------------------------------------------


async def apply_scaling(deps: Deps, workload_id: str, name: str, scaling: Scaling) -> str:
    """Check `scaling`, PATCH `spec.autoscaling`; the summary of what was done."""
    problem = check_scale_command(scaling, name)
    if problem:
        raise UserFacingError(problem)
    await deps.runai.update_inference(workload_id, scale_request(scaling))
    return scale_summary(
        name, scaling.min_replicas, scaling.max_replicas, scaling.metric, scaling.threshold
    )


async def record_scaling(deps: Deps, workload_id: str, user: str, summary: str) -> dict[str, Any]:
    """Tell the workload's threads about the scale; the note for the user who did it."""
    await deps.record(workload_id, "scale", user, summary)
    return notice_message(user, SCALED_EMOJI, summary)


def command_scaling(auto: models.AutoScaling | None, low: int, high: int) -> Scaling:
    """`scale <ref> <min> <max>` over the current autoscaling: the metric is kept where
    the new range still scales, the retention where it still scales to zero."""
    metric = auto.metric if auto else None
    scales = low < high or low == 0
    return Scaling(
        min_replicas=low,
        max_replicas=high,
        metric=metric if scales else None,
        threshold=auto.metric_threshold if auto and metric and scales else None,
        retention_seconds=auto.scale_to_zero_retention_seconds if auto and low == 0 else None,
    )


# --- the modal ------------------------------------------------------------------------------


def scale_values(auto: models.AutoScaling | None) -> Values:
    """Current autoscaling → initial values of the scale form."""
    auto = auto or models.AutoScaling()
    return {
        Field.MIN_REPLICAS: str(auto.effective_min),
        Field.MAX_REPLICAS: str(auto.effective_max),
        Field.METRIC: auto.metric if auto.metric in dict(METRIC_OPTIONS) else "",
        Field.THRESHOLD: num(auto.metric_threshold),
        Field.RETENTION: num(auto.scale_to_zero_retention_seconds),
    }


def scale_view(
    name: str,
    replicas: str | None,
    values: Values,
    ctx: ModalContext,
    *,
    errors: Errors | None = None,
    notice: Problem | None = None,
) -> dict[str, Any]:
    """The scale form, prefilled with the current autoscaling."""
    return render.view(
        "scale",
        F=Field,
        v=values,
        errors=dict(errors or {}),
        notice=notice_line(notice),
        name=name,
        replicas=replicas,
        metrics=METRIC_CHOICES,
        metadata=ctx.dump(),
    )


async def open_scale(deps: Deps, replier: Replier, inv: Invocation, ref: str) -> None:
    """Open the scale form prefilled with the current values."""
    view_id = await replier.open_view(inv, loading_view("Scale inference", f"Looking up {ref}…"))
    inv = inv.with_view(view_id)
    workload = await resolve(deps.runai, ref)
    inference = await deps.runai.get_inference(workload.id)
    auto = inference.spec.autoscaling if inference.spec else None
    ctx = ModalContext(channel_id=inv.channel_id, workload_id=workload.id, name=workload.name)
    card = workload_card(workload, inference)
    await replier.update_view(
        view_id, scale_view(workload.name, card.replicas, scale_values(auto), ctx)
    )


async def on_scale_submit(deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any]) -> None:
    """Scale form submitted: validate, PATCH autoscaling within the budget."""
    values = values_of(body)
    result = validate_scale(values)
    if not isinstance(result, Scaling):
        await ack(response_action="errors", errors=result)
        return
    scaling = result
    ctx = context_of(body)
    user = user_of(body)
    workload_id, name = ctx.workload_id or "", ctx.name or "the workload"

    def form(problem: Problem | None, errors: Errors) -> dict[str, Any]:
        return scale_view(name, None, values, ctx, errors=errors, notice=problem)

    async def work() -> Outcome:
        summary = await apply_scaling(deps, workload_id, name, scaling)

        async def after() -> None:
            message = await record_scaling(deps, workload_id, user, summary)
            if ctx.channel_id:
                await replier.ephemeral(ctx.channel_id, user, message)

        return Outcome(success=result_view("Scaled", text=summary), after=after)

    await submit(
        deps,
        replier,
        ack,
        view_id=view_id_of(body),
        work=work(),
        form=form,
        working=loading_view("Scale inference", f"Scaling {name}…"),
        fields=SCALE_FIELDS,
        doing=Doing("scale", name),
    )
