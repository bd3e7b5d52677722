"""The digest's data: lines, the 40-line cut, totals per project, money."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from bot.watch.care.digest import MAX_LINES, DigestRow, build_digest, digest_date

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def _row(i: int, project: str = "team-a", idle: bool = False, gpus: float = 1) -> DigestRow:
    return DigestRow(
        workload_id=f"id-{i}",
        name=f"w{i}",
        project=project,
        phase="Running",
        running=1,
        min_replicas=1,
        max_replicas=2,
        gpus=gpus,
        gpu_hours_24h=gpus * 24,
        requests_24h=0 if idle else 1000.0 * i,
        p95_latency_ms=None if idle else 250.0,
        idle=idle,
    )


def test_lines_idle_first_then_by_gpus_with_totals_and_money() -> None:
    rows = [_row(1), _row(2, idle=True, gpus=2), _row(3, project="team-b", gpus=4)]
    d = build_digest(rows, NOW, "Europe/Berlin", Decimal("2.50"), "USD")
    lines = [line for group in d.groups for line in group]
    assert [line.name for line in lines] == ["w2", "w3", "w1"]
    assert lines[0].idle and lines[0].requests == "0 requests"
    assert lines[0].latency == "p95 n/a"
    assert lines[1].latency == "p95 250 ms" and lines[1].replicas == "1 running (1\u20132)"
    assert d.title == "Daily digest · Wed 2 Dec 2026"
    assert d.summary == "3 workloads · 1 idle · 7 GPUs now · 168 GPU-hours in 24 h (420.00 USD)"
    assert [(t.project, t.gpu_hours, t.money, t.idle) for t in d.totals] == [
        ("team-b", "96 GPU-hours", "240.00 USD", 0),
        ("team-a", "72 GPU-hours", "180.00 USD", 1),
    ]
    assert d.rest is None and d.totals_rest is None


def test_past_forty_workloads_the_rest_is_one_line() -> None:
    rows = [_row(i, project=f"p{i % 25}", idle=i % 10 == 0) for i in range(100)]
    d = build_digest(rows, NOW, "UTC", None, "USD")
    assert sum(len(g) for g in d.groups) == MAX_LINES and len(d.groups) == 5
    assert d.rest == "…and 60 more workloads: 60 GPUs, 0 idle."
    assert len(d.totals) == 20 and d.totals_rest is not None
    assert d.totals_rest.startswith("…and 5 more projects: ")
    assert all(t.money is None for t in d.totals) and "USD" not in d.summary


def test_an_empty_channel_says_how_to_follow_one() -> None:
    d = build_digest([], NOW, "UTC", None, "USD")
    assert d.groups == () and d.totals == ()
    assert "follows no workloads" in d.summary


def test_the_digest_date_is_the_channels_own() -> None:
    late = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)
    assert digest_date(late, "UTC").isoformat() == "2026-12-02"
    assert digest_date(late, "Europe/Berlin").isoformat() == "2026-12-03"
