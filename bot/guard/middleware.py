"""The Bolt middleware of the guard rails: repeats, who is asking, and the own commands.

Runs after Bolt has verified the signature (a bad or stale one never gets here: 401),
before any listener:
1. A request Slack already delivered (same trigger_id: a retry with `X-Slack-Retry-Num`,
   or a replay) is acked empty and dropped: its first delivery is being handled.
2. Who asks, where, and what they mean to do (`Asking`) becomes the current request, so
   the guarded Run:ai client can decide.
3. `/inference policy` and `/inference audit` are answered here.
4. `create` (command or Deploy button) is refused at once when the caller may create in
   no project this channel acts on, before a form is opened for nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.guard.answers import audit_answer, policy_answer
from bot.guard.context import Asking, begin
from bot.guard.gate import Gate
from bot.guard.idempotency import Idempotency
from bot.guard.runai import GuardedRunai
from bot.policy import Action, Caller, Denied, ProjectRef, decide
from bot.slack import commands, parsing, render
from bot.slack.deps import Deps, Invocation
from bot.slack.errors import Doing
from bot.slack.ids import Action as ActionId
from bot.slack.ids import Callback
from bot.slack.modals.fields import ModalContext
from bot.slack.reply import Replier

logger = logging.getLogger(__name__)

GROUPS_BUDGET = 0.5
"""Seconds the ack path may wait for user-group members (cached afterwards)."""

_INTENTS: dict[type, Action] = {
    parsing.Create: Action.CREATE,
    parsing.Scale: Action.SCALE,
    parsing.Update: Action.UPDATE,
    parsing.Delete: Action.DELETE,
}
_SUBMIT_INTENTS = {
    Callback.CREATE.value: Action.CREATE,
    Callback.SCALE.value: Action.SCALE,
    Callback.UPDATE.value: Action.UPDATE,
}


def _parse(text: str) -> parsing.Command | None:
    try:
        return parsing.parse(text)
    except parsing.ParseError:
        return None


def replay_key(body: Mapping[str, Any]) -> str | None:
    """What identifies one delivery: Slack sends the same trigger_id (event_id) again."""
    for name in ("trigger_id", "event_id"):
        value = body.get(name)
        if isinstance(value, str) and value:
            return f"{name}:{value}"
    return None


def submission_key(body: Mapping[str, Any]) -> str | None:
    """The same modal submitted with the same values (a double click on Submit)."""
    view = body.get("view")
    if not isinstance(view, Mapping) or not view.get("id"):
        return None
    state = view.get("state")
    values = state.get("values") if isinstance(state, Mapping) else None
    state = json.dumps(values or {}, sort_keys=True, default=str)
    digest = hashlib.sha256(state.encode()).hexdigest()[:32]
    return f"view:{view['id']}:{digest}"


def asking_of(body: Mapping[str, Any]) -> tuple[Asking | None, parsing.Command | None]:
    """Who asks, where and for what, from a command, block action or view submission;
    (None, None) for anything else, or for a body not shaped like Slack's."""
    try:
        return _asking_of(body)
    except (AttributeError, TypeError, KeyError, IndexError, ValueError):
        return None, None


def _asking_of(body: Mapping[str, Any]) -> tuple[Asking | None, parsing.Command | None]:
    if "command" in body:
        command = _parse(str(body.get("text") or ""))
        intent = _INTENTS.get(type(command), Action.READ)
        asking = Asking(str(body.get("user_id", "")), body.get("channel_id"), intent)
        return asking, command
    kind = body.get("type")
    user = str((body.get("user") or {}).get("id", ""))
    if kind == "block_actions":
        inv = Invocation.from_action(body)
        actions = body.get("actions") or [{}]
        action_id = str(actions[0].get("action_id") or "")
        value = str(actions[0].get("value") or "")
        intent = Action.READ
        if action_id == ActionId.DEPLOY:
            intent = Action.CREATE
        elif action_id == ActionId.CONFIRM_DELETE:
            intent = Action.DELETE
        elif action_id.startswith(ActionId.CHOOSE_WORKLOAD):
            intent = _INTENTS.get(type(_parse(value)), Action.READ)
        return Asking(user, inv.channel_id, intent), None
    if kind in ("view_submission", "block_suggestion"):
        # A submission, or a search typed into one of the modal's selects: the modal's
        # channel (private_metadata) and what the modal is for.
        view = body.get("view") or {}
        ctx = ModalContext.load(view.get("private_metadata"))
        intent = _SUBMIT_INTENTS.get(str(view.get("callback_id")), Action.READ)
        key = submission_key(body) if kind == "view_submission" else None
        return Asking(user, ctx.channel_id, intent, key=key), None
    return None, None


async def may_create_here(gate: Gate, asking: Asking) -> Denied | None:
    """Whether the caller may create in some project this channel acts on (pure after the
    groups); the denial of the first candidate when not."""
    try:
        await asyncio.wait_for(gate.caller(asking), timeout=GROUPS_BUDGET)
    except TimeoutError:
        return None  # groups unknown for now: the create itself is checked anyway
    policy = gate.policy
    caller = Caller(asking.user, asking.channel, asking.groups or frozenset())
    bound = policy.channels.get(asking.channel or "")
    keys = bound if bound is not None else [*policy.projects, "\x00unnamed"]
    first: Denied | None = None
    for key in keys:
        decision = decide(policy, caller, Action.CREATE, ProjectRef(key, key))
        if decision.allowed:
            return None
        if first is None and isinstance(decision, Denied):
            first = decision
    return first


def _ack_message(payload: Mapping[str, Any]) -> BoltResponse:
    body = dict(payload)
    body["response_type"] = "ephemeral"
    return BoltResponse(
        status=200, body=json.dumps(body), headers={"content-type": "application/json"}
    )


def make_middleware(
    gate: Gate,
    idempotency: Idempotency,
    runai: GuardedRunai,
    deps: Deps,
    replier: Replier,
) -> Callable[..., Awaitable[BoltResponse | None]]:
    """The middleware function for `app.use`."""

    async def guard_rails(
        request: AsyncBoltRequest,
        response: BoltResponse,
        body: dict[str, Any],
        next: Callable[[], Awaitable[None]],
    ) -> BoltResponse | None:
        begin(None)
        key = replay_key(body)
        if key is not None and not idempotency.first_time(key):
            retry = request.headers.get("x-slack-retry-num")
            logger.info(
                "repeated delivery dropped",
                extra={"retry_num": retry[0] if retry else None, "type": body.get("type")},
            )
            return BoltResponse(status=200, body="")
        asking, command = asking_of(body)
        if asking is None:
            await next()
            return response
        begin(asking)
        if isinstance(command, parsing.Policy | parsing.Audit):
            inv = Invocation.from_command(body)
            work = (
                policy_answer(gate, runai, replier, inv)
                if isinstance(command, parsing.Policy)
                else audit_answer(gate, runai, replier, inv, command.ref)
            )
            # Failures (Run:ai away, a denial) end as a message, like every command's.
            deps.tasks.fire(
                commands.guard(replier, inv, work, Doing("read")),
                name=f"guard-{type(command).__name__.lower()}",
            )
            return BoltResponse(status=200, body="")
        if body.get("type") == "block_suggestion":
            # Options offered are narrowed to what the user may create in (ScopedOrgCache),
            # which needs their groups: cached since the modal opened, so quick.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(gate.caller(asking), timeout=GROUPS_BUDGET)
            await next()
            return response
        if asking.intent is Action.CREATE and body.get("type") != "view_submission":
            denied = await may_create_here(gate, asking)
            if denied is not None:
                deps.tasks.fire(
                    gate.deny(
                        denied,
                        Action.CREATE,
                        None,
                        workload_id=None,
                        name=None,
                        summary="create (open the form)",
                    ),
                    name="guard-deny",
                )
                message = render.message("error", sentence=denied.sentence(), detail=None)
                if "command" in body:
                    return _ack_message(message)
                inv = Invocation.from_action(body)
                deps.tasks.fire(replier.respond(inv, message), name="guard-deny-reply")
                return BoltResponse(status=200, body="")
        await next()
        return response

    return guard_rails
