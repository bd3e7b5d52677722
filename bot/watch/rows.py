"""Reading the feature tables: a result row into its frozen dataclass, the one-row and
all-rows reads, and the optional filters of a listing.

A feature dataclass names its fields after its table's columns, so `Record.from_row` maps a
row by the field types alone: a datetime is read as UTC (SQLite hands back naive ones), an
enum field takes the enum of the stored string, a `bool`, `float` or `dict` field is made
one (drivers differ in what they hand back). A field that is not a column, or needs more
than that, is given by the class's own `from_row`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any, Self, TypeVar

from sqlalchemy import ColumnElement, Select

from bot.utc import as_utc
from bot.watch.db.aio import AsyncEngine

T = TypeVar("T")
Convert = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _optional(convert: Convert) -> Convert:
    return lambda value: convert(value) if value is not None else None


def _converter(hint: Any) -> Convert:
    """How a column value becomes a field of type `hint`."""
    members = typing.get_args(hint) if isinstance(hint, types.UnionType) else ()
    optional = type(None) in members
    base = next((m for m in members if m is not type(None)), hint) if members else hint
    if base is datetime:
        return as_utc  # None stays None
    if isinstance(base, type) and issubclass(base, Enum):
        return _optional(base)
    if typing.get_origin(base) is dict:
        return _optional(dict)
    if base in (bool, float):
        return _optional(base) if optional else base
    return _same


_CONVERTERS: dict[type, tuple[tuple[str, Convert], ...]] = {}


def _converters(cls: type) -> tuple[tuple[str, Convert], ...]:
    """Each field of dataclass `cls` with its converter (worked out once per class)."""
    if cls not in _CONVERTERS:
        hints = typing.get_type_hints(cls)
        fields = dataclasses.fields(cls)
        _CONVERTERS[cls] = tuple((f.name, _converter(hints[f.name])) for f in fields)
    return _CONVERTERS[cls]


class Record:
    """A frozen dataclass read from a table row, one field per column of the same name."""

    @classmethod
    def from_row(cls, row: Any, **given: Any) -> Self:
        """Build from a result row; `given` fields are not read from the row."""
        m = row._mapping
        values = {name: convert(m[name]) for name, convert in _converters(cls) if name not in given}
        return cls(**values, **given)


async def first(engine: AsyncEngine, query: Select[Any], build: Callable[[Any], T]) -> T | None:
    """The first row of `query` built by `build`, or None."""
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    return build(row) if row is not None else None


async def every(engine: AsyncEngine, query: Select[Any], build: Callable[[Any], T]) -> list[T]:
    """Every row of `query`, built by `build`."""
    async with engine.connect() as conn:
        return [build(row) for row in await conn.execute(query)]


def where_given(query: Select[Any], *filters: tuple[ColumnElement[Any], object]) -> Select[Any]:
    """`query` narrowed to `column == value` for each (column, value) whose value is given
    (not None): a listing's optional filters."""
    for column, value in filters:
        if value is not None:
            query = query.where(column == value)
    return query
