"""Durations: one grammar for commands, settings and the policy file."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from bot.durations import (
    Duration,
    DurationError,
    format_duration,
    parse_duration,
    say_duration,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        (" 2D ", timedelta(days=2)),
        ("0s", timedelta(0)),
        ("999999s", timedelta(seconds=999_999)),
    ],
)
def test_reads_the_four_units(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "24", "h", "1.5h", "-1h", "1w", "1h30m", "1 h", "1000000s", "forever", "P1D"]
)
def test_refuses_anything_else_with_the_examples(text: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(text)
    assert "30s, 15m, 24h or 7d" in info.value.message


@pytest.mark.parametrize(
    ("value", "text", "spoken"),
    [
        (timedelta(days=7), "7d", "7 days"),
        (timedelta(hours=36), "36h", "36 h"),
        (timedelta(hours=24), "1d", "24 h"),
        (timedelta(minutes=90), "90m", "90 min"),
        (timedelta(seconds=45), "45s", "45 s"),
        (timedelta(0), "0s", "0 s"),
    ],
)
def test_prints_in_the_largest_unit_that_divides(value: timedelta, text: str, spoken: str) -> None:
    assert format_duration(value) == text
    assert say_duration(value) == spoken


@given(st.integers(min_value=0, max_value=999_999), st.sampled_from("smhd"))
def test_printing_reads_back_as_the_same_duration(number: int, unit: str) -> None:
    value = parse_duration(f"{number}{unit}")
    assert parse_duration(format_duration(value)) == value
    assert len(format_duration(value)) <= len(f"{number}{unit}")


class _Model(BaseModel):
    after: Duration


def test_pydantic_type_reads_our_grammar_only_and_writes_it_back() -> None:
    assert _Model(after="24h").after == timedelta(hours=24)  # type: ignore[arg-type]
    assert _Model(after=timedelta(minutes=5)).after == timedelta(minutes=5)
    assert _Model(after="36h").model_dump(mode="json") == {"after": "36h"}
    for bad in ("86400", "P1D", "soon"):
        with pytest.raises(ValidationError, match="30s, 15m, 24h or 7d"):
            _Model(after=bad)  # type: ignore[arg-type]
