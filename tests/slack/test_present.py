"""Cards, numbers and the chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.runai import models
from bot.slack.charts import chart_png, render_chart
from bot.slack.present import (
    percentile,
    replicas_text,
    resources_text,
    series_stats,
    window_text,
    workload_card,
)


def _m(kind: str, values: list[float | None]) -> models.Measurement:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return models.Measurement(
        type=kind,
        values=[
            models.MetricValue(value=v, timestamp=start + timedelta(minutes=i))
            for i, v in enumerate(values)
        ],
    )


def test_percentile_nearest_rank() -> None:
    assert percentile([1.0], 95) == 1.0
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0
    assert percentile([5.0, 1.0, 3.0], 50) == 3.0


def test_series_stats() -> None:
    stats = series_stats(_m("THROUGHPUT", [1.0, None, 3.0, 2.0]))
    assert stats is not None
    assert (stats.last, stats.min, stats.max, stats.p95, stats.samples) == ("2", "1", "3", "3", 3)
    assert stats.unit == "requests/s"
    assert series_stats(_m("LATENCY", [None])) is None


def test_texts() -> None:
    assert window_text(timedelta(hours=6)) == "6h"
    assert window_text(timedelta(minutes=90)) == "90m"
    assert window_text(timedelta(days=2)) == "2d"
    assert replicas_text(2, models.AutoScaling(min_replicas=1, max_replicas=3), None) == (
        "2 running (min 1, max 3)"
    )
    assert replicas_text(None, None, None) == "0 running"
    assert (
        resources_text(
            models.Compute(
                gpu_devices_request=1,
                gpu_portion_request=0.5,
                cpu_core_request=2.0,
                cpu_memory_request="8Gi",
            )
        )
        == "1 GPU x 0.5 · 2 CPU · 8Gi RAM"
    )
    assert resources_text(None) == "not set"


def test_card_prefers_workload_project_name() -> None:
    w = models.Workload(
        id="i", name="n", type="inference", phase="Running", project_id="1", project_name="team-a"
    )
    card = workload_card(w)
    assert card.project == "team-a" and card.phase_emoji == ":large_green_circle:"


def test_chart_is_a_png() -> None:
    png = chart_png("llama, 1h", [_m("THROUGHPUT", [1.0, 2.0]), _m("LATENCY", [10.0, 12.0])])
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    assert chart_png("empty", []).startswith(b"\x89PNG")


@pytest.mark.asyncio
async def test_chart_renders_off_the_loop() -> None:
    png = await render_chart("x", [_m("THROUGHPUT", [1.0])])
    assert png.startswith(b"\x89PNG")
