"""The update modal: its view, validation, prefill (values too long for Slack are locked,
not cut) and submit, which PATCHes only what changed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.runai import models
from bot.slack import render
from bot.slack.deps import Deps, Invocation
from bot.slack.errors import Doing, Problem
from bot.slack.ids import Field
from bot.slack.modals.api_errors import UPDATE_FIELDS
from bot.slack.modals.fields import (
    Collector,
    Errors,
    Frozen,
    ModalContext,
    Resources,
    Values,
    compute,
    format_env,
    image,
    parse_env,
    resources,
    resources_of,
    resources_values,
)
from bot.slack.modals.submit import (
    Ack,
    Outcome,
    context_of,
    loading_view,
    notice_line,
    result_view,
    submit,
    tell,
    user_of,
    values_of,
    view_id_of,
)
from bot.slack.reply import Replier
from bot.slack.resolve import resolve

# What fits the update form's inputs (their max_length); longer values are never cut
# (a cut value would be sent back as a change): the field is locked instead.
UPDATE_LIMITS: dict[Field, int] = {
    Field.IMAGE: 500,
    Field.COMMAND: 1000,
    Field.ARGS: 3000,
    Field.ENV: 3000,
}


class UpdateSubmission(Frozen):
    """A valid update form (every field, changed or not)."""

    image: str
    command: str | None = None
    args: str | None = None
    resources: Resources = Resources()
    env: tuple[tuple[str, str], ...] = ()


# --- validation --------------------------------------------------------------------------


def validate_update(values: Values, locked: tuple[Field, ...] = ()) -> UpdateSubmission | Errors:
    """The update form → a submission, or inline errors (locked fields: see `fill_locked`)."""
    c = Collector(values)
    image_name = "" if Field.IMAGE in locked else image(c)
    res = resources(c)
    env = c.get(Field.ENV, parse_env) or ()
    if c.errors or image_name is None:
        return c.errors
    return UpdateSubmission(
        image=image_name,
        command=c.text(Field.COMMAND) or None,
        args=c.text(Field.ARGS) or None,
        resources=res,
        env=env,
    )


# --- the spec's environment: plain variables are edited, the others kept -------------------


def _plain_env(spec: models.InferenceSpecSpec | None) -> tuple[tuple[str, str], ...]:
    if spec is None or not spec.environment_variables:
        return ()
    return tuple(
        (e.name, e.value or "")
        for e in spec.environment_variables
        if e.name
        and e.secret is None
        and e.config_map is None
        and e.pod_field_ref is None
        and e.user_credential is None
    )


def _other_env(spec: models.InferenceSpecSpec | None) -> list[models.EnvironmentVariable]:
    if spec is None or not spec.environment_variables:
        return []
    plain = {k for k, _ in _plain_env(spec)}
    return [e for e in spec.environment_variables if e.name not in plain]


def hidden_env_count(spec: models.InferenceSpecSpec | None) -> int:
    """Variables from secrets/config maps: kept as they are, not shown in the form."""
    return len(_other_env(spec))


# --- submission → the Run:ai request -------------------------------------------------------


def update_request(
    current: models.InferenceSpecSpec | None, sub: UpdateSubmission
) -> models.InferenceUpdateRequest | Errors:
    """Only what changed → a PATCH body; an empty dict of errors never; `{}`-spec → errors."""
    spec = current or models.InferenceSpecSpec()
    patch = models.InferenceUpdateSpec()
    errors: Errors = {}
    if sub.image != spec.image:
        patch.image = sub.image
    for field, new, old, attr in (
        (Field.COMMAND, sub.command, spec.command, "command"),
        (Field.ARGS, sub.args, spec.args, "args"),
    ):
        if new == old:
            continue
        if new is None:
            errors[field] = f"Run:ai can't clear the {attr} in an update; set a new one."
        else:
            setattr(patch, attr, new)
    if sub.env != _plain_env(spec):
        kept = _other_env(spec)
        patch.environment_variables = [
            *(models.EnvironmentVariable(name=k, value=v) for k, v in sub.env),
            *kept,
        ]
    if sub.resources != resources_of(spec.compute):
        patch.compute = compute(sub.resources, spec.compute)
    if errors:
        return errors
    if not patch.model_dump(exclude_none=True):
        return {Field.IMAGE: "Nothing changed: edit a field, or cancel."}
    return models.InferenceUpdateRequest(spec=patch)


# --- prefill -----------------------------------------------------------------------------


def update_values(spec: models.InferenceSpecSpec | None) -> Values:
    """Current spec → initial values of the update form."""
    spec = spec or models.InferenceSpecSpec()
    return {
        Field.IMAGE: spec.image or "",
        Field.COMMAND: spec.command or "",
        Field.ARGS: spec.args or "",
        Field.ENV: format_env(_plain_env(spec)),
        **resources_values(resources_of(spec.compute)),
    }


def lock_long_values(values: Values) -> tuple[Values, tuple[Field, ...]]:
    """Blank the values too long for their input; which fields were locked."""
    locked = tuple(f for f, limit in UPDATE_LIMITS.items() if len(values.get(f, "")) > limit)
    return {f: ("" if f in locked else v) for f, v in values.items()}, locked


def fill_locked(
    sub: UpdateSubmission, spec: models.InferenceSpecSpec | None, locked: tuple[Field, ...]
) -> UpdateSubmission:
    """Put the current values back into the locked fields (so they don't count as changes)."""
    spec = spec or models.InferenceSpecSpec()
    current = {
        Field.IMAGE: ("image", spec.image or ""),
        Field.COMMAND: ("command", spec.command),
        Field.ARGS: ("args", spec.args),
        Field.ENV: ("env", _plain_env(spec)),
    }
    return sub.model_copy(update=dict(current[f] for f in locked if f in current))


# --- the view ----------------------------------------------------------------------------


def update_view(
    name: str,
    values: Values,
    ctx: ModalContext,
    hidden_env: int,
    *,
    errors: Errors | None = None,
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
        notice=notice_line(notice),
        name=name,
        metadata=ctx.dump(),
        hints=hints,
    )


async def open_update(deps: Deps, replier: Replier, inv: Invocation, ref: str) -> None:
    """Open the update form prefilled with the current spec."""
    view_id = await replier.open_view(inv, loading_view("Update inference", f"Looking up {ref}…"))
    inv = inv.with_view(view_id)
    workload = await resolve(deps.runai, ref)
    inference = await deps.runai.get_inference(workload.id)
    values, locked = lock_long_values(update_values(inference.spec))
    ctx = ModalContext(
        channel_id=inv.channel_id, workload_id=workload.id, name=workload.name, locked=locked
    )
    await replier.update_view(
        view_id,
        update_view(workload.name, values, ctx, hidden_env_count(inference.spec)),
    )


# --- submitting --------------------------------------------------------------------------


async def on_update_submit(deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any]) -> None:
    """Update form submitted: validate, PATCH only what changed, within the budget."""
    values = values_of(body)
    ctx = context_of(body)
    # A locked field the user left empty keeps its value; one they typed into is a change.
    kept = tuple(f for f in ctx.locked if not values.get(f))
    result = validate_update(values, kept)
    if not isinstance(result, UpdateSubmission):
        await ack(response_action="errors", errors=result)
        return
    sub = result
    user = user_of(body)
    workload_id, name = ctx.workload_id or "", ctx.name or "the workload"

    def form(problem: Problem | None, errors: Errors) -> dict[str, Any]:
        return update_view(name, values, ctx, 0, errors=errors, notice=problem)

    async def work() -> Outcome:
        current = await deps.runai.get_inference(workload_id)
        request = update_request(current.spec, fill_locked(sub, current.spec, kept))
        if not isinstance(request, models.InferenceUpdateRequest):
            return Outcome(errors=request)
        await deps.runai.update_inference(workload_id, request)
        changed = sorted(request.spec.model_dump(exclude_none=True))
        summary = f"Updated {name}: {', '.join(c.replace('_', ' ') for c in changed)}."

        async def after() -> None:
            await deps.record(workload_id, "update", user, summary)
            await tell(replier, ctx.channel_id, user, ":arrows_counterclockwise:", summary)

        return Outcome(success=result_view("Updated", text=summary), after=after)

    await submit(
        deps,
        replier,
        ack,
        view_id=view_id_of(body),
        work=work(),
        form=form,
        working=loading_view("Update inference", f"Updating {name}…"),
        fields=UPDATE_FIELDS,
        doing=Doing("update", name),
    )
