"""The `/inference` grammar."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack import parsing
from bot.slack.parsing import (
    Create,
    Delete,
    Help,
    ListInferences,
    Metrics,
    ModelInfo,
    ParseError,
    Scale,
    Status,
    Unwatch,
    Update,
    Watch,
    parse,
)

UUID = "0b9a5c43-3f5e-4e7a-9d35-2f6a1b8c7d10"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Help()),
        ("   ", Help()),
        ("help", Help()),
        ("HELP", Help()),
        ("model Qwen/Qwen2.5-0.5B-Instruct", ModelInfo("Qwen/Qwen2.5-0.5B-Instruct")),
        ("model facebook/opt-125m", ModelInfo("facebook/opt-125m")),
        ("create", Create()),
        ("status llama-chat", Status("llama-chat")),
        (f"status {UUID}", Status(UUID)),
        ("scale llama 2", Scale("llama", 2, None)),
        ("scale llama 0 1", Scale("llama", 0, 1)),
        ("scale llama 1 4", Scale("llama", 1, 4)),
        ("scale llama", Scale("llama")),
        ("update llama", Update("llama")),
        ("delete llama", Delete("llama")),
        ("metrics llama", Metrics("llama")),
        ("metrics llama --since 6h", Metrics("llama", timedelta(hours=6))),
        ("metrics llama --since=30m --pod p-1", Metrics("llama", timedelta(minutes=30), "p-1")),
        (f"metrics llama --pod {UUID} --since 2d", Metrics("llama", timedelta(days=2), UUID)),
        ("watch llama", Watch("llama")),
        ("unwatch llama", Unwatch("llama")),
        ("list", ListInferences()),
        ("list 3", ListInferences(3)),
        ("list llama", ListInferences(1, "llama")),
        ("list LLAMA 2", ListInferences(2, "llama")),
        ("list 2 llama", ListInferences(2, "llama")),
        ("list --phase failed", ListInferences(phase="Failed")),
        ("list --phase=RUNNING --project team-a 4", ListInferences(4, None, "Running", "team-a")),
        ("list qwen --project team-b", ListInferences(1, "qwen", None, "team-b")),
        ("policy", parsing.Policy()),
        ("audit llama", parsing.Audit("llama")),
        ("  status\u00a0llama  ", Status("llama")),
    ],
)
def test_valid_commands(text: str, expected: parsing.Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("frobnicate", "I don't know"),
        ("status", "needs a workload name"),
        ("status Bad_Name", "not a workload name"),
        ("status a b", "unexpected"),
        ("scale llama two", "whole number"),
        ("scale llama 1 x", "whole number"),
        ("scale llama -1", "whole number"),
        ("scale llama 3 1", "can't be more than max"),
        ("scale llama 0 0", "at least 1"),
        ("scale llama 5000", "at most 1000"),
        ("scale llama 1 2 3", "unexpected"),
        ("model", "needs a Hugging Face model"),
        ("model <https://evil|click>", "not a Hugging Face model"),
        ("metrics llama --since forever", "duration"),
        ("metrics llama --since 0m", "between 1m and 30d"),
        ("metrics llama --since 31d", "between 1m and 30d"),
        ("metrics llama --pod", "needs a value"),
        ("metrics llama --verbose", "doesn't know"),
        ("metrics llama --pod <!channel>", "not a pod id"),
        ("list 0", "page number must be between 1 and"),
        ("list 100000", "page number must be between 1 and"),
        ("list Bad_Name", "can't be part of a workload name"),
        ("list llama qwen", "one name and one page number"),
        ("list 1 2", "one name and one page number"),
        ("list a b c", "doesn't know"),
        ("list --phase sleeping", "not a phase; one of Creating, Initializing"),
        ("list --phase", "needs a value"),
        ("list --colour red", "doesn't know"),
        ("list --project a,b", "not a project name"),
        ("list --project <!here>", "not a project name"),
        ("create now", "unexpected"),
        ("x" * 3000, "too long"),
    ],
)
def test_invalid_commands(text: str, words: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(text)
    assert words in info.value.message


def test_a_list_gives_its_own_words_back_for_the_next_page() -> None:
    query = parse("list llama --phase failed --project team-a 2")
    assert isinstance(query, ListInferences)
    assert query.words(3) == "llama --phase Failed --project team-a 3"
    assert parse(f"list {query.words(3)}") == ListInferences(3, "llama", "Failed", "team-a")
    assert ListInferences().words(2) == "2"


def test_errors_carry_the_usage_of_the_subcommand() -> None:
    with pytest.raises(ParseError) as info:
        parse("scale llama two")
    assert info.value.usage == "/inference scale <name|id> [<min> [max]]"


def test_effective_max_follows_runai_defaults() -> None:
    assert Scale("a", 2).effective_max == 2
    assert Scale("a", 0).effective_max == 1
    assert Scale("a", 1, 3).effective_max == 3
    assert Scale("a").effective_max is None


def test_every_subcommand_has_usage() -> None:
    assert set(parsing.SUBCOMMANDS) == {u.name for u in parsing.USAGES}


@given(st.text(max_size=300))
def test_any_text_parses_or_fails_cleanly(text: str) -> None:
    try:
        result = parse(text)
    except ParseError as exc:
        assert exc.message
        return
    assert isinstance(result, parsing.Command)  # type: ignore[arg-type]
