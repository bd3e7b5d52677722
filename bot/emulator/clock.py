"""Time for the emulator: wall clock plus an offset tests can advance."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime


class Clock:
    """Epoch seconds, shifted by `advance()` so tests can jump ahead without sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        """Current emulator time in epoch seconds."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move emulator time forward (token expiry, phases) by `seconds`."""
        self.offset += seconds


def iso(epoch: float) -> str:
    """RFC 3339 UTC timestamp with milliseconds, as the API writes them."""
    millis = round(epoch * 1000)
    moment = datetime.fromtimestamp(millis // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


def parse_timestamp(text: str) -> float:
    """Parse ISO 8601 with `T` or a space, `Z`/offset or naive (UTC); epoch seconds.

    Raises ValueError on anything else.
    """
    cleaned = text.strip()
    # An unencoded '+' in a query string arrives as a space: "... 12:09:18 00:00".
    cleaned = re.sub(r"(\d) (\d{2}:?\d{2})$", r"\1+\2", cleaned)
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    moment = datetime.fromisoformat(cleaned)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
