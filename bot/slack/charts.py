"""Metrics → a PNG chart (matplotlib Agg, imported on the first chart, run off the event loop)."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Sequence
from datetime import datetime

from bot.runai import models
from bot.slack.present import METRIC_LABELS, UNITS

# One chart at a time: a render holds the GIL for tens of ms, and several at once would
# starve the event loop thread that acks Slack; matplotlib isn't thread-safe either.
_RENDER_LOCK = threading.Lock()


def _series(m: models.Measurement) -> tuple[list[datetime], list[float]]:
    xs: list[datetime] = []
    ys: list[float] = []
    for v in m.values:
        if v.value is not None and v.timestamp is not None:
            xs.append(v.timestamp)
            ys.append(v.value)
    return xs, ys


def chart_png(title: str, measurements: Sequence[models.Measurement]) -> bytes:
    """One panel per series (throughput, latency), as PNG bytes. CPU-bound: use `render_chart`."""
    # Imported on the first chart, not at start: matplotlib and numpy are about 55 MB and
    # a second of start-up, and most processes never draw a chart (bench/startup.py).
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    panels = [m for m in measurements if any(v.value is not None for v in m.values)]
    fig = Figure(figsize=(8, 2.6 * max(len(panels), 1)), dpi=100)
    axes = fig.subplots(max(len(panels), 1), 1, squeeze=False)
    if not panels:
        axes[0, 0].text(0.5, 0.5, "no samples", ha="center", va="center")
    for ax, m in zip(axes[:, 0], panels, strict=False):
        xs, ys = _series(m)
        kind = m.type.upper()
        ax.plot(xs, ys, marker="o", markersize=3, linewidth=1.5)
        ax.set_ylabel(UNITS.get(kind, ""))
        ax.set_title(METRIC_LABELS.get(kind, m.type), fontsize=10, loc="left")
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=11)
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


async def render_chart(title: str, measurements: Sequence[models.Measurement]) -> bytes:
    """`chart_png` in a worker thread, so the event loop keeps acking."""
    return await asyncio.to_thread(_locked_chart, title, list(measurements))


def _locked_chart(title: str, measurements: list[models.Measurement]) -> bytes:
    with _RENDER_LOCK:
        return chart_png(title, measurements)
