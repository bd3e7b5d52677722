"""`filterBy`, `sortBy`/`sortOrder` and paging for list endpoints (FACTS.md §2)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.emulator.clock import parse_timestamp
from bot.emulator.errors import bad_request

OPERATORS = ("==", "!=", "<=", ">=", "=@", "!@", "=^", "=$")
DATE_OPERATORS = frozenset(
    {
        "==",
        "!=",
        "<=",
        ">=",
    }
)
MAX_FILTERS = 10
WORKLOAD_FIELDS = (
    "type", "name", "clusterId", "projectId", "projectName", "departmentId", "departmentName",
    "createdAt", "deletedAt", "submittedBy", "phase", "completedAt", "nodepool",
    "distributedFramework", "allocatedGPU", "idleGpus", "idleAllocatedGpus", "phaseUpdatedAt",
    "category", "totalPendingTimeSeconds", "totalRunningTimeSeconds", "priority",
    "priorityClassName", "guaranteedRuntimeEndsAt", "aiApplicationId", "aiApplicationName",
)  # fmt: skip
WORKLOAD_DATE_FIELDS = frozenset(
    {"createdAt", "deletedAt", "completedAt", "phaseUpdatedAt", "guaranteedRuntimeEndsAt"}
)
PROJECT_FIELDS = (
    "name", "clusterId", "departmentId", "parentId", "parentName", "phase", "totalGpuQuota",
    "gpuAllocated", "createdAt", "avgGpuAllocation24h", "avgGpuUtilization24h",
    "avgGpuMemoryUtilization24h", "avgGpuAllocation7d", "avgGpuUtilization7d",
    "avgGpuMemoryUtilization7d", "avgGpuAllocation30d", "avgGpuUtilization30d",
    "avgGpuMemoryUtilization30d",
)  # fmt: skip
PROJECT_DATE_FIELDS = frozenset({"createdAt"})

Value = str | float | None
Getter = Callable[[Any], Value]


@dataclass(frozen=True)
class Filter:
    """One `field<op>value` term; a row must satisfy every term."""

    field: str
    operator: str
    value: str
    number: float | None

    def accepts(self, actual: Value) -> bool:
        """Whether a row's value for `field` satisfies the term."""
        if actual is None:
            return self.operator in ("!=", "!@")
        if isinstance(actual, float) and self.number is not None:
            # Timestamps are shown with millisecond precision: compare at that precision.
            return _compare(round(actual * 1000), self.operator, round(self.number * 1000))
        text = str(actual)
        if self.operator in ("==", "!=", "<=", ">="):
            return _compare(text, self.operator, self.value)
        if self.operator == "=@":
            return self.value in text
        if self.operator == "!@":
            return self.value not in text
        if self.operator == "=^":
            return text.startswith(self.value)
        return text.endswith(self.value)


def _compare(left: Any, operator: str, right: Any) -> bool:
    if operator == "==":
        return bool(left == right)
    if operator == "!=":
        return bool(left != right)
    if operator == "<=":
        return bool(left <= right)
    return bool(left >= right)


def split_params(values: Sequence[str]) -> list[str]:
    """`explode: false` arrays arrive comma-joined; repeated params are accepted too."""
    items: list[str] = []
    for value in values:
        items.extend(part for part in value.split(",") if part != "")
    return items


def parse_filters(
    terms: Iterable[str], fields: Sequence[str], date_fields: frozenset[str]
) -> list[Filter]:
    """Parse `filterBy` terms; 400 naming the bad term on any error."""
    pattern = re.compile("^(" + "|".join(fields) + ")(==|!=|<=|>=|=@|!@|=\\^|=\\$)(.+)$")
    filters = []
    for term in terms:
        match = pattern.match(term)
        if match is None:
            raise bad_request(
                f"Bad request - invalid filterBy {term!r}",
                details="use field-name operator value, e.g. name==my-model; fields: "
                + ", ".join(fields)
                + "; operators: "
                + " ".join(OPERATORS),
            )
        field, operator, value = match.groups()
        number: float | None = None
        if field in date_fields:
            if operator not in DATE_OPERATORS:
                raise bad_request(
                    f"Bad request - invalid filterBy {term!r}: dates support only == != <= >="
                )
            try:
                number = parse_timestamp(value)
            except ValueError:
                raise bad_request(
                    f"Bad request - invalid filterBy {term!r}: {value!r} is not an ISO 8601 date"
                ) from None
        else:
            try:
                number = float(value)
            except ValueError:
                number = None
        filters.append(Filter(field, operator, value, number))
    if len(filters) > MAX_FILTERS:
        raise bad_request(f"Bad request - at most {MAX_FILTERS} filterBy terms are allowed")
    return filters


def apply(
    rows: Iterable[Any], filters: Sequence[Filter], getters: Mapping[str, Getter]
) -> list[Any]:
    """Rows passing every filter."""
    if not filters:
        return list(rows)
    checks = [(getters.get(item.field, _missing), item) for item in filters]
    return [row for row in rows if all(item.accepts(get(row)) for get, item in checks)]


def _missing(_: Any) -> Value:
    return None


def sort_rows(rows: list[Any], sort_by: str | None, order: str, getter: Getter | None) -> None:
    """Sort in place; rows without a value go last whatever the order."""
    if sort_by is None or getter is None:
        if order == "desc":
            rows.reverse()
        return
    present = [row for row in rows if getter(row) is not None]
    absent = [row for row in rows if getter(row) is None]
    present.sort(key=lambda row: _sort_key(getter(row)), reverse=order == "desc")
    rows[:] = present + absent


def _sort_key(value: Value) -> tuple[int, float, str]:
    if isinstance(value, float):
        return (0, value, "")
    return (1, 0.0, str(value))


def paging(query: Mapping[str, str], default_limit: int = 50) -> tuple[int, int]:
    """(offset, limit) from the query: limit 1..500 (default 50), offset >= 0; else 400."""
    limit = _int_param(query, "limit", default_limit)
    offset = _int_param(query, "offset", 0)
    if not 1 <= limit <= 500:
        raise bad_request(f"Bad request - limit must be between 1 and 500, got {limit}")
    if offset < 0:
        raise bad_request(f"Bad request - offset must be >= 0, got {offset}")
    return offset, limit


def _int_param(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f"Bad request - {name} must be an integer, got {raw!r}") from None


def sort_params(query: Mapping[str, str], fields: Sequence[str]) -> tuple[str | None, str]:
    """(sortBy, sortOrder) from the query; 400 on values outside the enums."""
    sort_by = query.get("sortBy") or None
    if sort_by is not None and sort_by not in fields:
        raise bad_request(
            f"Bad request - sortBy {sort_by!r} is not supported",
            details="one of " + ", ".join(fields),
        )
    order = query.get("sortOrder") or "asc"
    if order not in ("asc", "desc"):
        raise bad_request(f"Bad request - sortOrder must be asc or desc, got {order!r}")
    return sort_by, order


def parse_bool(query: Mapping[str, str], name: str) -> bool | None:
    """A boolean query parameter; 400 unless true/false."""
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise bad_request(f"Bad request - {name} must be true or false, got {raw!r}")
