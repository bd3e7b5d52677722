"""`admit`: the Bolt middleware of access control: repeats, who is asking, early refusals.

Runs after the signature was verified (a bad or stale one never gets here: 401) and after
`slack.app` parsed the command text (`context["command"]`), before any listener:
1. A request Slack already delivered (same trigger_id: a retry with `X-Slack-Retry-Num`,
   or a replay) is acked empty and dropped: its first delivery is being handled.
2. Who asks, where, and what they mean to do (`Asker`) goes into `context["asker"]`; the
   listener binds its parts to it (`Deps.bound`).
3. `create` (command or Deploy button) is refused at once when the caller may create in
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

from bot.access.asker import Asker
from bot.access.gate import Gate
from bot.access.idempotency import Idempotency
from bot.policy import Action, Caller, Denied, ProjectRef, decide
from bot.slack import parsing, render
from bot.slack.deps import Invocation
from bot.slack.ids import Action as ActionId
from bot.slack.ids import Callback
from bot.slack.modals.fields import ModalContext
from bot.slack.reply import Replier
from bot.slack.tasks import Background

logger = logging.getLogger(__name__)

GROUPS_BUDGET = 0.5
"""Seconds the ack path may wait for user-group members (cached afterwards)."""

_INTENTS: dict[type, Action] = {
    parsing.Create: Action.CREATE,
    parsing.Scale: Action.SCALE,
    parsing.Update: Action.UPDATE,
    parsing.Delete: Action.DELETE,
    parsing.Schedule: Action.SCALE,  # checked as a scale of the workload before it is stored
}
_SUBMIT_INTENTS = {
    Callback.CREATE.value: Action.CREATE,
    Callback.SCALE.value: Action.SCALE,
    Callback.UPDATE.value: Action.UPDATE,
}


def replay_key(body: Mapping[str, Any]) -> str | None:
    """What identifies one delivery: Slack sends the same trigger_id (event_id) again."""
    for name in ("trigger_id", "event_id"):
        value = body.get(name)
        if isinstance(value, str) and value:
            return f"{name}:{value}"
    return None


def submission_key(body: Mapping[str, Any]) -> str | None:
    """The same user submitting the same modal with the same values (a double click on
    Submit); another user's submission of that view is theirs, decided for them."""
    view = body.get("view")
    if not isinstance(view, Mapping) or not view.get("id"):
        return None
    user = body.get("user")
    user_id = user.get("id") if isinstance(user, Mapping) else None
    state = view.get("state")
    values = state.get("values") if isinstance(state, Mapping) else None
    state = json.dumps(values or {}, sort_keys=True, default=str)
    digest = hashlib.sha256(state.encode()).hexdigest()[:32]
    return f"view:{user_id}:{view['id']}:{digest}"


def asker_of(body: Mapping[str, Any], command: object = None) -> Asker | None:
    """Who asks, where and for what, from a command (`command`: its parsed text), a block
    action or a view submission; None for anything else, or a body not shaped like
    Slack's."""
    try:
        return _asker_of(body, command)
    except (AttributeError, TypeError, KeyError, IndexError, ValueError):
        return None


def _asker_of(body: Mapping[str, Any], command: object) -> Asker | None:
    intent = _INTENTS.get(type(command), Action.READ)
    if "command" in body:
        return Asker(str(body.get("user_id", "")), body.get("channel_id"), intent)
    kind = body.get("type")
    user = str((body.get("user") or {}).get("id", ""))
    if kind == "block_actions":
        inv = Invocation.from_action(body)
        actions = body.get("actions") or [{}]
        action_id = str(actions[0].get("action_id") or "")
        if action_id in (ActionId.DEPLOY, ActionId.HOME_DEPLOY):
            intent = Action.CREATE
        elif action_id == ActionId.CONFIRM_DELETE:
            intent = Action.DELETE
        elif action_id == ActionId.CONFIRM_ROLLBACK:
            intent = Action.UPDATE
        elif action_id in (ActionId.IDLE_SCALE_TO_ZERO, ActionId.IDLE_KEEP):
            intent = Action.SCALE  # Keep also stops the policy's automatic scale
        elif action_id == ActionId.IDLE_DELETE:
            intent = Action.DELETE
        elif not action_id.startswith(ActionId.CHOOSE_WORKLOAD):
            intent = Action.READ
        channel = inv.channel_id
        if channel is None and (body.get("view") or {}).get("type") == "home":
            # The App Home has no channel: its buttons answer in the app's DM with the
            # user, where no channel binding scopes it (the project rights and caps do;
            # approval thresholds come from the workload's owning channels).
            channel = user
        return Asker(user, channel, intent)
    if kind in ("view_submission", "block_suggestion"):
        # A submission, or a search typed into one of the modal's selects: the modal's
        # channel (private_metadata) and what the modal is for.
        view = body.get("view") or {}
        ctx = ModalContext.load(view.get("private_metadata"))
        intent = _SUBMIT_INTENTS.get(str(view.get("callback_id")), Action.READ)
        key = submission_key(body) if kind == "view_submission" else None
        return Asker(user, ctx.channel_id, intent, key=key, modal=True)
    return None


async def may_create_here(gate: Gate, asker: Asker) -> Denied | None:
    """Whether the caller may create in some project this channel acts on (pure after the
    groups); the denial of the first candidate when not."""
    try:
        await asyncio.wait_for(gate.caller(asker), timeout=GROUPS_BUDGET)
    except TimeoutError:
        return None  # groups unknown for now: the create itself is checked anyway
    policy = gate.policy
    caller = Caller(asker.user, asker.channel, asker.groups or frozenset())
    bound = policy.channels.get(asker.channel or "")
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


Middleware = Callable[..., Awaitable[BoltResponse | None]]


def make_admit(
    gate: Gate, idempotency: Idempotency, tasks: Background, replier: Replier
) -> Middleware:
    """The `admit` middleware function for `app.use`."""

    async def admit(
        request: AsyncBoltRequest,
        response: BoltResponse,
        body: dict[str, Any],
        context: dict[str, Any],
        next: Callable[[], Awaitable[None]],
    ) -> BoltResponse | None:
        key = replay_key(body)
        if key is not None and not idempotency.first_time(key):
            retry = request.headers.get("x-slack-retry-num")
            logger.info(
                "repeated delivery dropped",
                extra={"retry_num": retry[0] if retry else None, "type": body.get("type")},
            )
            return BoltResponse(status=200, body="")
        asker = asker_of(body, context.get("command"))
        if asker is None:
            await next()
            return response
        context["asker"] = asker
        if body.get("type") == "block_suggestion":
            # Options offered are narrowed to what the user may create in (ScopedOrgs),
            # which needs their groups: cached since the modal opened, so quick.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(gate.caller(asker), timeout=GROUPS_BUDGET)
            await next()
            return response
        if asker.intent is Action.CREATE and body.get("type") != "view_submission":
            denied = await may_create_here(gate, asker)
            if denied is not None:
                tasks.fire(
                    gate.deny(
                        asker,
                        denied,
                        Action.CREATE,
                        None,
                        workload_id=None,
                        name=None,
                        summary="create (open the form)",
                    ),
                    name="access-deny",
                )
                message = render.message("error", sentence=denied.sentence(), detail=None)
                if "command" in body:
                    return _ack_message(message)
                inv = Invocation.from_action(body)
                tasks.fire(replier.respond(inv, message), name="access-deny-reply")
                return BoltResponse(status=200, body="")
        await next()
        return response

    return admit
