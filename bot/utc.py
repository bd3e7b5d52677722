"""UTC, the one time zone stored and compared everywhere in the bot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import overload

_ZERO = timedelta(0)


@overload
def as_utc(value: datetime) -> datetime: ...


@overload
def as_utc(value: None) -> None: ...


def as_utc(value: datetime | None) -> datetime | None:
    """The same moment as an aware UTC datetime; a naive value is read as UTC.

    SQLite hands back naive datetimes and Run:ai sometimes writes times without a zone:
    in both, a naive time means UTC.
    """
    if value is None:
        return None
    zone = value.tzinfo
    if zone is UTC:
        return value
    # Naive, or a zero offset (pydantic parses `Z` into its own tzinfo, whose astimezone
    # is ~20 µs): label it UTC without converting.
    if zone is None or value.utcoffset() == _ZERO:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)
