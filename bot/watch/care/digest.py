"""The daily digest: the workloads a channel follows → the data of one Block Kit message.

One message within Slack's limits whatever the channel follows: at most `MAX_LINES`
workload lines (idle ones first, then by GPUs held), the rest summed up in one line; totals
per project (at most `MAX_PROJECTS`, the rest summed up too). Lines come in groups of
`LINES_PER_BLOCK` (projects in tens) so each section stays below Slack's 3,000 characters.

Pure: the digest job gathers the rows; `templates/messages/care_digest.json.j2` renders
the result (every string through `esc`).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from bot.watch.care.usage import cost, say_gpu_hours, say_gpus, say_money, say_requests

MAX_LINES = 40
MAX_PROJECTS = 20
LINES_PER_BLOCK = 8


@dataclass(frozen=True)
class DigestRow:
    """What the digest job gathered about one followed workload."""

    workload_id: str
    name: str
    project: str
    phase: str
    running: int
    """Running replicas (`runningPods`)."""
    min_replicas: int | None
    max_replicas: int | None
    gpus: float
    """GPUs allocated now (`allocatedResources.gpu`)."""
    gpu_hours_24h: float
    """From `GPU_ALLOCATION` over the last 24 h."""
    requests_24h: float | None
    """Requests served over the last 24 h; None when the metrics could not be read."""
    p95_latency_ms: float | None
    idle: bool


@dataclass(frozen=True)
class DigestLine:
    """One workload's line (strings for the template to escape)."""

    name: str
    project: str
    phase: str
    replicas: str
    gpus: str
    requests: str
    latency: str
    idle: bool


@dataclass(frozen=True)
class ProjectTotal:
    """One project's totals."""

    project: str
    workloads: int
    idle: int
    gpus: str
    gpu_hours: str
    money: str | None


@dataclass(frozen=True)
class DigestData:
    """Everything the digest template prints."""

    title: str
    summary: str
    """`12 workloads · 3 idle · 7 GPUs now · 120 GPU-hours in 24 h (300.00 USD)`."""
    groups: tuple[tuple[DigestLine, ...], ...]
    rest: str | None
    """`…and 12 more workloads: 8 GPUs, 3 idle.`"""
    totals: tuple[ProjectTotal, ...]
    totals_rest: str | None
    text: str
    """The notification text."""


def digest_date(scheduled_at: datetime, zone: str) -> date:
    """The channel's local date of a digest: with the channel, the key that posts it once
    a day."""
    return scheduled_at.astimezone(zoneinfo.ZoneInfo(zone)).date()


def _replicas(row: DigestRow) -> str:
    if row.min_replicas is None and row.max_replicas is None:
        return f"{row.running} running"
    low = row.min_replicas if row.min_replicas is not None else "?"
    high = row.max_replicas if row.max_replicas is not None else low
    return f"{row.running} running ({low}\u2013{high})"


def _latency(ms: float | None) -> str:
    if ms is None:
        return "p95 n/a"
    return f"p95 {ms / 1000:.1f} s" if ms >= 1000 else f"p95 {round(ms)} ms"


def _line(row: DigestRow) -> DigestLine:
    requests = "requests n/a" if row.requests_24h is None else say_requests(row.requests_24h)
    if row.requests_24h is not None:
        requests += " requests"
    return DigestLine(
        name=row.name,
        project=row.project,
        phase=row.phase,
        replicas=_replicas(row),
        gpus=say_gpus(row.gpus),
        requests=requests,
        latency=_latency(row.p95_latency_ms),
        idle=row.idle,
    )


def _money(hours: float, price: Decimal | None, currency: str) -> str | None:
    amount = cost(hours, price)
    return say_money(amount, currency) if amount is not None else None


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def build_digest(
    rows: Iterable[DigestRow],
    now: datetime,
    zone: str,
    price: Decimal | None,
    currency: str,
) -> DigestData:
    """The digest of `rows` as of `now` (its date said in the channel's `zone`)."""
    ordered = sorted(rows, key=lambda r: (not r.idle, -r.gpus, r.name, r.workload_id))
    day = now.astimezone(zoneinfo.ZoneInfo(zone))
    title = f"Daily digest · {day:%a} {day.day} {day:%b %Y}"
    shown = [_line(r) for r in ordered[:MAX_LINES]]
    groups = tuple(
        tuple(shown[i : i + LINES_PER_BLOCK]) for i in range(0, len(shown), LINES_PER_BLOCK)
    )
    hidden = ordered[MAX_LINES:]
    rest = None
    if hidden:
        rest = (
            f"…and {_plural(len(hidden), 'more workload')}: "
            f"{say_gpus(sum(r.gpus for r in hidden))}, {sum(r.idle for r in hidden)} idle."
        )
    totals, totals_rest = _totals(ordered, price, currency)
    hours = sum(r.gpu_hours_24h for r in ordered)
    money = _money(hours, price, currency)
    summary = " · ".join(
        [
            _plural(len(ordered), "workload"),
            f"{sum(r.idle for r in ordered)} idle",
            f"{say_gpus(sum(r.gpus for r in ordered))} now",
            f"{say_gpu_hours(hours)} in 24 h" + (f" ({money})" if money else ""),
        ]
    )
    if not ordered:
        summary = "This channel follows no workloads. `/inference watch <name>` adds one."
    return DigestData(title, summary, groups, rest, totals, totals_rest, f"{title}: {summary}")


def _totals(
    rows: Sequence[DigestRow], price: Decimal | None, currency: str
) -> tuple[tuple[ProjectTotal, ...], str | None]:
    by_project: dict[str, list[DigestRow]] = {}
    for row in rows:
        by_project.setdefault(row.project, []).append(row)
    # The projects holding the most GPU-hours first: where the money goes.
    ranked = sorted(
        by_project.items(), key=lambda kv: (-sum(r.gpu_hours_24h for r in kv[1]), kv[0])
    )
    totals = []
    for project, members in ranked[:MAX_PROJECTS]:
        hours = sum(r.gpu_hours_24h for r in members)
        totals.append(
            ProjectTotal(
                project=project,
                workloads=len(members),
                idle=sum(r.idle for r in members),
                gpus=say_gpus(sum(r.gpus for r in members)),
                gpu_hours=say_gpu_hours(hours),
                money=_money(hours, price, currency),
            )
        )
    rest = None
    hidden = [r for _project, members in ranked[MAX_PROJECTS:] for r in members]
    if hidden:
        hours = sum(r.gpu_hours_24h for r in hidden)
        money = _money(hours, price, currency)
        rest = (
            f"…and {_plural(len(ranked) - MAX_PROJECTS, 'more project')}: "
            f"{say_gpu_hours(hours)}" + (f" ({money})" if money else "") + "."
        )
    return tuple(totals), rest
