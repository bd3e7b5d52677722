"""Durations as people type them (`30s`, `15m`, `24h`, `7d`), for alert rules and settings.

Stand-in with the names and behaviour of the "care" issue's `bot.durations`
(`parse_duration`, `DurationError.message`, `format_duration`, `say_duration`): when that
module lands, this one becomes `from bot.durations import *` (or its importers switch).
Pure: no I/O.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

DURATION_RE = re.compile(r"^(\d{1,6})([smhd])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_LARGEST_FIRST = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_SPOKEN = {"d": "d", "h": "h", "m": "min", "s": "s"}
EXAMPLES = "30s, 15m, 24h or 7d"


class DurationError(ValueError):
    """Text that is not a duration; `message` is a sentence for the user."""

    def __init__(self, text: str) -> None:
        shown = text if len(text) <= 40 else text[:39] + "…"
        self.message = f"Durations look like {EXAMPLES}, not “{shown}”."
        super().__init__(self.message)


def parse_duration(text: str) -> timedelta:
    """`30s`, `15m`, `24h`, `7d` (any case, blanks around ignored) → a timedelta."""
    match = DURATION_RE.match(text.strip().lower())
    if not match:
        raise DurationError(text)
    return timedelta(seconds=int(match.group(1)) * UNIT_SECONDS[match.group(2)])


def format_duration(value: timedelta) -> str:
    """The shortest text `parse_duration` reads back as `value`: `7d`, `36h`, `90m`, `45s`."""
    seconds = max(int(value.total_seconds()), 0)
    for unit, size in _LARGEST_FIRST:
        if seconds % size == 0 and (seconds or size == 1):
            return f"{seconds // size}{unit}"
    raise AssertionError("unreachable: every whole number of seconds divides by 1")


def say_duration(value: timedelta) -> str:
    """The duration in a sentence: `24 h`, `15 min`, `7 d`, `30 s`."""
    text = format_duration(value)
    return f"{text[:-1]} {_SPOKEN[text[-1]]}"


def _coerce(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


Duration = Annotated[
    timedelta,
    BeforeValidator(_coerce),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
"""A pydantic field type (settings): reads `15m` (or a timedelta), writes `15m` back."""
