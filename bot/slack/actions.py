"""Buttons: ack at once, then act (Deploy, token, which-one, delete confirm, list pages)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bot.slack import commands, parsing, render
from bot.slack.commands import workloads
from bot.slack.deps import Deps, Invocation
from bot.slack.errors import Doing
from bot.slack.modals import create as create_modal
from bot.slack.modals import hf_token as hf_token_modal
from bot.slack.reply import Replier

logger = logging.getLogger(__name__)

Ack = Callable[..., Awaitable[Any]]


def _value(body: Mapping[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")


async def on_deploy(deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any]) -> None:
    """Deploy: open the create form prefilled for the model."""
    await ack()
    inv = Invocation.from_action(body)
    info = create_modal.model_from_deploy_value(_value(body))
    if info is None:
        await replier.problem(inv, "That button is from an older version; run the command again.")
        return
    deps.tasks.fire(
        commands.run_modal(deps, replier, inv, create_modal.open_create(deps, replier, inv, info)),
        name="deploy",
        urgent=True,
    )


async def on_enter_hf_token(
    deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any]
) -> None:
    """Open the token modal for a gated model."""
    await ack()
    inv = Invocation.from_action(body)
    view = hf_token_modal.hf_token_view(_value(body), inv.channel_id)
    deps.tasks.fire(
        commands.run_modal(deps, replier, inv, _open(replier, inv, view)),
        name="hf-token",
        urgent=True,
    )


async def _open(replier: Replier, inv: Invocation, view: dict[str, Any]) -> None:
    await replier.open_view(inv, view)


async def on_choose(
    deps: Deps,
    replier: Replier,
    ack: Ack,
    body: Mapping[str, Any],
    command: commands.Parsed,
) -> None:
    """A choice among same-named workloads: run the command again (the button's value,
    parsed) with the chosen id."""
    await ack()
    inv = Invocation.from_action(body)
    if isinstance(command, parsing.ParseError):
        await replier.respond(inv, commands.help_message(command.message, command.usage))
        return
    deps.tasks.fire(
        commands.run(deps, replier, inv, command),
        name="choose",
        urgent=commands.opens_modal(command),
    )


async def on_confirm_delete(
    deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any]
) -> None:
    """Delete confirmed: DELETE, then replace the confirmation with what happened."""
    await ack()
    inv = Invocation.from_action(body)
    workload_id = _value(body)
    if not parsing.is_workload_id(workload_id):
        await replier.problem(inv, "That button doesn't name a workload.")
        return
    deps.tasks.fire(
        commands.report_failures(
            replier, inv, workloads.delete(deps, replier, inv, workload_id), Doing("delete", None)
        ),
        name="delete",
    )


async def on_cancel_delete(deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any]) -> None:
    """Delete cancelled: say so in place of the confirmation."""
    await ack()
    inv = Invocation.from_action(body)
    deps.tasks.fire(
        replier.respond(
            inv,
            render.message(
                "notice",
                emoji=":ok_hand:",
                text="Kept it: nothing was deleted.",
                user=None,
                detail=None,
            ),
            replace_original=True,
        ),
        name="cancel-delete",
    )


async def on_list_page(deps: Deps, replier: Replier, ack: Ack, body: Mapping[str, Any]) -> None:
    """Next page of `/inference list`, in place."""
    await ack()
    inv = Invocation.from_action(body)
    # The button carries the list's own words ("llama --phase Failed 3"): parsed again,
    # so a tampered value is refused like typed text, and falls back to page 1.
    try:
        query = parsing.parse(f"list {_value(body)}")
    except parsing.ParseError:
        query = parsing.ListInferences()
    if not isinstance(query, parsing.ListInferences):
        query = parsing.ListInferences()
    deps.tasks.fire(
        commands.report_failures(
            replier,
            inv,
            workloads.list_inferences(deps, replier, inv, query, replace=True),
            Doing("list workloads"),
        ),
        name="list-page",
    )
