"""The dispatcher's table: every command the grammar produces is routed to its handler."""

from __future__ import annotations

import typing

import pytest

from bot.slack import parsing
from bot.slack.commands import dispatch, opens_modal


def test_every_parsed_command_type_has_a_route() -> None:
    # A parser added without a Route would make the command fail after the ack.
    parsed = set(typing.get_args(parsing.Command))
    unrouted = sorted(t.__name__ for t in parsed - set(dispatch.ROUTES))
    assert not unrouted, f"parsed but not routed (add a Route in its family): {unrouted}"
    assert set(dispatch.ROUTES) <= parsed


def test_a_route_per_command_type_only() -> None:
    route = dispatch.ROUTES[parsing.Status]
    with pytest.raises(ValueError, match="two routes for Status"):
        dispatch._by_command([route, route])


@pytest.mark.parametrize(
    ("text", "modal"),
    [
        ("create", True),
        ("update llama", True),
        ("scale llama", True),
        ("scale llama 2 2", False),
        ("status llama", False),
        ("list", False),
        ("policy", False),
    ],
)
def test_only_commands_that_open_a_modal_spend_the_trigger(text: str, modal: bool) -> None:
    assert opens_modal(parsing.parse(text)) is modal
