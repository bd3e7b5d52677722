"""The one submit engine every modal runs on, and the views it shows.

Submitting (what a demanding user expects, and why):
1. The form is validated at once, purely (each modal's `validate_*`); problems come back
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
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from bot.runai import errors as runai_errors
from bot.slack import render
from bot.slack.deps import Deps
from bot.slack.errors import Doing, Problem, describe
from bot.slack.ids import Field
from bot.slack.modals.api_errors import field_for_api_message
from bot.slack.modals.fields import Errors, ModalContext, Values, field_values
from bot.slack.reply import Replier

Ack = Callable[..., Awaitable[Any]]
FormRenderer = Callable[[Problem | None, Errors], dict[str, Any]]


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


def notice_line(problem: Problem | None) -> str | None:
    """A problem as the line shown at the top of a form."""
    if problem is None:
        return None
    return f"{problem.sentence} {problem.detail}" if problem.detail else problem.sentence


# --- reading a view_submission -----------------------------------------------------------


def view_of(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The submitted view (empty when the payload has none)."""
    view = body.get("view")
    return view if isinstance(view, Mapping) else {}


def values_of(body: Mapping[str, Any]) -> Values:
    """The submitted form's values by field."""
    return field_values(((view_of(body).get("state") or {}).get("values")) or {})


def context_of(body: Mapping[str, Any]) -> ModalContext:
    """What the modal remembered when it was opened."""
    return ModalContext.load(view_of(body).get("private_metadata"))


def view_id_of(body: Mapping[str, Any]) -> str:
    """The submitted view's id."""
    return str(view_of(body).get("id", ""))


def user_of(body: Mapping[str, Any]) -> str:
    """Who submitted."""
    return str((body.get("user") or {}).get("id", ""))


# --- submitting --------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a submission came to: inline errors, a problem, or success (+ what follows)."""

    errors: Errors | None = None
    problem: Problem | None = None
    success: dict[str, Any] | None = None
    after: Callable[[], Coroutine[Any, Any, None]] | None = None


def outcome_for(exc: BaseException, fields: tuple[Field, ...], doing: Doing) -> Outcome:
    """A Run:ai failure → inline errors on the field it names, or a problem for the form."""
    if isinstance(exc, runai_errors.ConflictError) and Field.NAME in fields:
        return Outcome(errors={Field.NAME: f"Already used in this project. ({exc.message})"})
    if isinstance(exc, runai_errors.InvalidRequestError):
        field = field_for_api_message(f"{exc.message} {exc.details or ''}", fields)
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


def notice_message(user: str, emoji: str, text: str) -> dict[str, Any]:
    """The private note telling a user what their change did."""
    return render.message("notice", emoji=emoji, text=text, user=user, detail=None)


async def tell(replier: Replier, channel: str | None, user: str, emoji: str, text: str) -> None:
    """The private note after a change from a modal, in the channel it was opened from."""
    if channel:
        await replier.ephemeral(channel, user, notice_message(user, emoji, text))
