"""UTC, the one time zone stored and compared everywhere in the bot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


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
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)
