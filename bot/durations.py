"""Durations as people type them: `30s`, `15m`, `24h`, `7d`; one home for reading and
printing them.

Commands (`metrics --since`), settings (`IDLE_AFTER`) and the policy file (`idle.after`)
all read durations through `parse_duration`, so the grammar cannot drift between them.
Pure: no I/O.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

DURATION_RE = re.compile(r"^(\d{1,6})([smhd])$")
"""A whole number (at most six digits) and one unit: s, m, h or d."""

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Largest first: a duration prints in the largest unit that divides it.
_PRINT_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))

EXAMPLES = "30s, 15m, 24h or 7d"


class DurationError(ValueError):
    """Text that is not a duration; `message` is a sentence for the user."""

    def __init__(self, text: str) -> None:
        self.message = f"Durations look like {EXAMPLES}, not “{_short(text)}”."
        super().__init__(self.message)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_duration(text: str) -> timedelta:
    """`30s`, `15m`, `24h`, `7d` (any case, surrounding blanks ignored) → a timedelta."""
    match = DURATION_RE.match(text.strip().lower())
    if not match:
        raise DurationError(text)
    return timedelta(seconds=int(match.group(1)) * UNIT_SECONDS[match.group(2)])


def format_duration(value: timedelta) -> str:
    """The shortest text `parse_duration` reads back as `value`: `7d`, `36h`, `90m`, `45s`.

    Fractions of a second are dropped (no duration we read has them)."""
    seconds = max(int(value.total_seconds()), 0)
    for unit, size in _PRINT_UNITS:
        if seconds % size == 0 and (seconds or size == 1):
            return f"{seconds // size}{unit}"
    raise AssertionError("unreachable: every whole number of seconds divides by 1")


def say_duration(value: timedelta) -> str:
    """The duration in a sentence: `24 h`, `36 h`, `7 days`, `15 min`, `30 s` (a day is
    said in hours, as in "the last 24 h")."""
    seconds = max(int(value.total_seconds()), 0)
    if seconds and seconds % 86400 == 0 and seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _coerce(value: Any) -> Any:
    # Only our grammar for text: pydantic's own timedelta parsing would also accept
    # "86400" or "P1D", which nothing else in the bot reads.
    if isinstance(value, str):
        return parse_duration(value)
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(_coerce),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
"""A pydantic field type: reads `24h` (or a timedelta), writes `24h` back in JSON."""
