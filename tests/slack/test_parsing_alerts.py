"""The grammar of alerts, quieter threads, `why` and `history`; Slack's entities."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack import parsing
from bot.slack.parsing import (
    Alert,
    Alerts,
    History,
    Mute,
    ParseError,
    Unalert,
    Unmute,
    Watch,
    Why,
    decode_entities,
    parse,
)
from bot.watch.alerts.rules import Metric, Op, Rule

UUID = "0b9a5c43-3f5e-4e7a-9d35-2f6a1b8c7d10"
M = timedelta(minutes=1)


def rule(metric: Metric, op: Op, value: float, for_: timedelta = 5 * M) -> Rule:
    return Rule(metric, op, value, for_)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alert my-qwen latency > 500 for 5m", Alert("my-qwen", rule(Metric.LATENCY, Op.GT, 500))),
        (
            "alert my-qwen latency &gt; 500 for 5m",
            Alert("my-qwen", rule(Metric.LATENCY, Op.GT, 500)),
        ),
        ("alert my-qwen latency>500", Alert("my-qwen", rule(Metric.LATENCY, Op.GT, 500))),
        ("alert my-qwen latency&gt;=500ms", Alert("my-qwen", rule(Metric.LATENCY, Op.GE, 500))),
        (
            "alert my-qwen latency > 500 ms for 2h",
            Alert("my-qwen", rule(Metric.LATENCY, Op.GT, 500, 120 * M)),
        ),
        (
            "alert my-qwen throughput < 1 for 30m",
            Alert("my-qwen", rule(Metric.THROUGHPUT, Op.LT, 1, 30 * M)),
        ),
        (
            "alert my-qwen throughput &lt; 0.5rps",
            Alert("my-qwen", rule(Metric.THROUGHPUT, Op.LT, 0.5)),
        ),
        ("alert my-qwen gpu < 10 for 1h", Alert("my-qwen", rule(Metric.GPU, Op.LT, 10, 60 * M))),
        (
            "alert my-qwen GPU &lt;= 10% FOR 1H",
            Alert("my-qwen", rule(Metric.GPU, Op.LE, 10, 60 * M)),
        ),
        (
            "alert my-qwen replicas < 2 for 10m",
            Alert("my-qwen", rule(Metric.REPLICAS, Op.LT, 2, 10 * M)),
        ),
        (f"alert {UUID} replicas <= 0", Alert(UUID, rule(Metric.REPLICAS, Op.LE, 0))),
        ("alerts", Alerts()),
        ("alerts my-qwen", Alerts("my-qwen")),
        ("unalert 12", Unalert("12")),
        ("unalert a-7f3c", Unalert("a-7f3c")),
        ("watch my-qwen", Watch("my-qwen")),
        (
            "watch my-qwen --only failed,degraded",
            Watch("my-qwen", frozenset({"failed", "degraded"})),
        ),
        (
            "watch my-qwen --only=Running,DELETED",
            Watch("my-qwen", frozenset({"running", "deleted"})),
        ),
        ("mute my-qwen", Mute("my-qwen")),
        ("mute my-qwen for 2h", Mute("my-qwen", 120 * M)),
        ("mute my-qwen 30m", Mute("my-qwen", 30 * M)),
        ("unmute my-qwen", Unmute("my-qwen")),
        ("why my-qwen", Why("my-qwen")),
        (f"why {UUID}", Why(UUID)),
        ("history my-qwen", History("my-qwen")),
    ],
)
def test_valid(text: str, expected: parsing.Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "words", "usage"),
    [
        ("alert", "needs a workload name or id", "alert"),
        ("alert my-qwen", "needs a metric: latency, throughput, gpu or replicas", "alert"),
        ("alert my-qwen memory > 5", "“memory” is not a metric", "alert"),
        ("alert my-qwen latency", "needs a comparison after latency", "alert"),
        ("alert my-qwen latency = 5", "“=” is not a comparison", "alert"),
        ("alert my-qwen latency == 5", "“==” is not a comparison", "alert"),
        ("alert my-qwen latency => 5", "“=>” is not a comparison", "alert"),
        ("alert my-qwen latency 500", "“500” is not a comparison", "alert"),
        ("alert my-qwen latency >", "needs a value to compare latency with", "alert"),
        ("alert my-qwen latency > fast", "“fast” is not a number", "alert"),
        ("alert my-qwen latency > -5", "“-5” is not a number", "alert"),
        ("alert my-qwen latency > 5%", "“5%” is not a number", "alert"),
        ("alert my-qwen gpu > 101", "at most 100 %", "alert"),
        ("alert my-qwen replicas < 1.5", "whole number", "alert"),
        ("alert my-qwen latency > 500 for", "`for` needs a duration", "alert"),
        (
            "alert my-qwen latency > 500 for ever",
            "Durations look like 30s, 15m, 24h or 7d",
            "alert",
        ),
        ("alert my-qwen latency > 500 for 10s", "between 1m and 1d", "alert"),
        ("alert my-qwen latency > 500 for 2d", "between 1m and 1d", "alert"),
        ("alert my-qwen latency > 500 during 5m", "a duration comes after `for`", "alert"),
        ("alert my-qwen latency > 500 for 5m please", "unexpected “please”", "alert"),
        ("alert My_Qwen latency > 500", "not a workload name or id", "alert"),
        ("alerts a b", "unexpected “b”", "alerts"),
        ("alerts &lt;!channel&gt;", "not a workload name or id", "alerts"),
        ("unalert", "needs the id of an alert", "unalert"),
        ("unalert 1 2", "unexpected “2”", "unalert"),
        ("unalert &lt;@U1&gt;", "not an alert id", "unalert"),
        (
            "watch my-qwen --only pending",
            "list of failed, degraded, running, deleted, not “pending”",
            "watch",
        ),
        ("watch my-qwen --only ,", "not “”", "watch"),
        ("watch my-qwen --only", "--only needs a value", "watch"),
        ("watch my-qwen --since 1h", "doesn't know “--since”", "watch"),
        ("watch my-qwen failed", "doesn't know “failed”", "watch"),
        ("mute", "needs a workload name or id", "mute"),
        ("mute my-qwen for", "`for` needs a duration", "mute"),
        ("mute my-qwen for a while", "unexpected “while”", "mute"),
        ("mute my-qwen forever", "Durations look like", "mute"),
        ("mute my-qwen for 31d", "between 1m and 30d", "mute"),
        ("unmute", "needs a workload name or id", "unmute"),
        ("unmute a b", "unexpected “b”", "unmute"),
        ("why", "needs a workload name or id", "why"),
        ("why a b", "unexpected “b”", "why"),
        ("history", "needs a workload name or id", "history"),
        ("history a --all", "unexpected “--all”", "history"),
    ],
)
def test_invalid(text: str, words: str, usage: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(text)
    assert words in info.value.message
    assert info.value.usage == parsing.usage_of(usage)


def test_entities_are_decoded_once_for_every_subcommand() -> None:
    assert decode_entities("a &amp;lt; b &lt; c &gt; d &amp; e") == "a &lt; b < c > d & e"
    # any subcommand sees the typed characters: `list` refuses the decoded name
    with pytest.raises(ParseError) as info:
        parse("list &lt;!here&gt;")
    assert "<!here>" in info.value.message
    assert parse("metrics llama --since&#61;1h".replace("&#61;", "=")) == parse(
        "metrics llama --since=1h"
    )


def test_alert_reply_restates_the_rule() -> None:
    command = parse("alert my-qwen latency &gt; 500 for 5m")
    assert isinstance(command, Alert)
    assert command.rule.words() == "latency above 500 ms for 5 min"


def test_help_lists_the_new_subcommands() -> None:
    names = {u.name for u in parsing.USAGES}
    assert {"alert", "alerts", "unalert", "mute", "unmute", "why", "history"} <= names
    assert "--only" in parsing.usage_of("watch")


ops = st.sampled_from([">", ">=", "<", "<="])
encoded = {">": "&gt;", ">=": "&gt;=", "<": "&lt;", "<=": "&lt;="}


@given(
    st.sampled_from(list(Metric)),
    ops,
    st.integers(0, 100),
    st.booleans(),
    st.booleans(),
    st.one_of(st.none(), st.integers(1, 1440)),
)
def test_typed_and_slack_encoded_alerts_read_the_same(
    metric: Metric, op: str, value: int, spaced: bool, slack: bool, minutes: int | None
) -> None:
    sign = encoded[op] if slack else op
    gap = " " if spaced else ""
    text = f"alert w {metric}{gap}{sign}{gap}{value}" + (f" for {minutes}m" if minutes else "")
    command = parse(text)
    assert command == Alert("w", Rule(metric, Op(op), value, (minutes or 5) * M))
    assert isinstance(command, Alert)
    assert parse(f"alert w {command.rule.command()}") == command


@given(st.text(max_size=80))
def test_any_alert_text_parses_or_says_why(tail: str) -> None:
    try:
        parse(f"alert w {tail}")
    except ParseError as exc:
        assert exc.message and len(exc.message) < 500
        assert exc.usage == parsing.usage_of("alert")
