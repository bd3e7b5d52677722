"""The care subcommands' grammar: schedule, schedules, unschedule, digest."""

from __future__ import annotations

from datetime import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack import parsing
from bot.slack.parsing import Digest, ParseError, Schedule, Schedules, Unschedule, parse

UUID = "0b9a5c43-3f5e-4e7a-9d35-2f6a1b8c7d10"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('schedule my-qwen "0 19 * * 1-5" 0', Schedule("my-qwen", "0 19 * * 1-5", 0)),
        (
            'schedule my-qwen "0 19 * * 1-5" 0 --tz Europe/Berlin',
            Schedule("my-qwen", "0 19 * * 1-5", 0, None, "Europe/Berlin"),
        ),
        # Slack's clients curl the quotes; some keyboards open low.
        ("schedule my-qwen “0 7 * * MON-FRI” 1 4", Schedule("my-qwen", "0 7 * * mon-fri", 1, 4)),
        ("schedule my-qwen „*/15  *  * * *“ 2 2", Schedule("my-qwen", "*/15 * * * *", 2, 2)),
        ("schedule my-qwen '0 0 * * *' 0 1", Schedule("my-qwen", "0 0 * * *", 0, 1)),
        (
            'schedule my-qwen "0 8 * * *" 1 --tz=utc',
            Schedule("my-qwen", "0 8 * * *", 1, None, "UTC"),
        ),
        (
            f'schedule {UUID} "0 8 * * *" --tz america/new_york 1',
            Schedule(UUID, "0 8 * * *", 1, None, "America/New_York"),
        ),
        ("schedules", Schedules()),
        ("schedules my-qwen", Schedules("my-qwen")),
        ("unschedule s7k2qa", Unschedule("s7k2qa")),
        ("unschedule #S7K2QA", Unschedule("s7k2qa")),
        ("digest 09:00", Digest("at", time(9, 0))),
        ("digest 9:30 --tz Europe/Berlin", Digest("at", time(9, 30), "Europe/Berlin")),
        ("digest 23:59", Digest("at", time(23, 59))),
        ("digest OFF", Digest("off")),
        ("digest now", Digest("now")),
    ],
)
def test_valid(text: str, expected: parsing.Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("schedule", "needs a workload name"),
        ('schedule Bad_Name "* * * * *" 0', "not a workload name"),
        ("schedule my-qwen 0 19 * * 1-5 0", "Put the cron expression in quotes"),
        ('schedule my-qwen 0 "0 19 * * 1-5"', "Put the cron expression in quotes"),
        ('schedule my-qwen "0 19 * * 1-5 0', "no closing quote"),
        ('schedule my-qwen "0 19 * *" 0', "has five fields"),
        ('schedule my-qwen "0 25 * * *" 0', "hour field takes 0 to 23, not “25”"),
        ('schedule my-qwen "0 0 31 2 *" 0', "never fires"),
        ('schedule my-qwen "* * * * *"', "needs the min replicas"),
        ('schedule my-qwen "* * * * *" 3 1', "can't be more than max"),
        ('schedule my-qwen "* * * * *" 0 0', "at least 1"),
        ('schedule my-qwen "* * * * *" two', "whole number"),
        ('schedule my-qwen "* * * * *" 5000', "at most 1000"),
        ('schedule my-qwen "* * * * *" 1 2 3', "doesn't know"),
        ('schedule my-qwen "* * * * *" 1 --tz Mars/Base', "not a time zone I know"),
        ('schedule my-qwen "* * * * *" 1 --tz', "needs a value"),
        ('schedule my-qwen "* * * * *" 1 --at 5', "doesn't know"),
        ("schedules a b", "unexpected"),
        ("schedules <!channel>", "not a workload name"),
        ("unschedule", "needs a schedule id"),
        ("unschedule abc", "not a schedule id"),
        ("unschedule 0", "not a schedule id"),
        ("unschedule 12", "not a schedule id"),
        ("unschedule s7k2q", "not a schedule id"),
        ("unschedule 1 2", "unexpected"),
        ("digest", "needs a time (HH:MM), `off` or `now`"),
        ("digest 25:00", "24-hour HH:MM"),
        ("digest 9am", "24-hour HH:MM"),
        ("digest 09:60", "24-hour HH:MM"),
        ("digest 09:00 --tz Nowhere", "not a time zone I know"),
        ("digest 09:00 daily", "doesn't know"),
        ("digest now please", "unexpected"),
    ],
)
def test_invalid(text: str, words: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(text)
    assert words in info.value.message
    assert info.value.usage is not None and info.value.usage.startswith(
        "/inference " + text.split()[0]
    )


def test_schedule_max_follows_runai_defaults() -> None:
    assert Schedule("a", "* * * * *", 0).effective_max == 1
    assert Schedule("a", "* * * * *", 2).effective_max == 2
    assert Schedule("a", "* * * * *", 1, 3).effective_max == 3


def test_the_new_subcommands_are_in_the_help() -> None:
    names = {u.name for u in parsing.USAGES}
    assert {"schedule", "schedules", "unschedule", "digest"} <= names
    # Every example parses to its own subcommand.
    for usage in parsing.USAGES:
        parse(usage.example.removeprefix("/inference "))


_cron_chars = st.text(alphabet="0123456789*/-, abcdefjmnorstuvwy", max_size=30)


@given(
    _cron_chars, st.sampled_from(["", "0", "1 2", "3 1", "x"]), st.sampled_from(["", " --tz UTC"])
)
def test_any_schedule_parses_or_fails_cleanly(expr: str, numbers: str, tz: str) -> None:
    try:
        command = parse(f'schedule w "{expr}" {numbers}{tz}')
    except ParseError as exc:
        assert exc.message and exc.usage
        return
    assert isinstance(command, Schedule)
    assert command.max_replicas is None or command.min_replicas <= command.max_replicas


@pytest.mark.parametrize(
    "text",
    [
        'schedule my-qwen "0 19 * * 1-5" 0',
        'schedule my-qwen "*/15 8-18 * * mon-fri" 1 3 --tz Europe/Berlin',
    ],
)
def test_a_which_one_button_runs_the_same_schedule_on_the_chosen_id(text: str) -> None:
    from bot.slack.commands.choose import command_text

    first = parse(text)
    assert isinstance(first, Schedule)
    again = parse(command_text(first, UUID))
    assert again == Schedule(UUID, first.cron, first.min_replicas, first.max_replicas, first.zone)
