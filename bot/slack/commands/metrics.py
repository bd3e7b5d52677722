"""`metrics <name|id> [--since 1h] [--pod <podId>]`: a PNG chart in the channel and the
numbers (last, min, max, p95) in the reply."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.runai import errors as runai_errors
from bot.slack import parsing, render
from bot.slack.charts import render_chart
from bot.slack.commands.route import Route
from bot.slack.deps import Deps, Invocation
from bot.slack.errors import UserFacingError
from bot.slack.present import METRIC_LABELS, series_stats, window_text
from bot.slack.reply import Replier
from bot.slack.resolve import resolve


async def metrics(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Metrics) -> None:
    """Throughput and latency: a PNG chart in the channel plus the numbers."""
    workload = await resolve(deps.runai, command.ref)
    end = datetime.now(UTC)
    start = end - command.since
    if command.pod:
        try:
            response = await deps.runai.pod_metrics(workload.id, command.pod, start, end)
        except runai_errors.NotFoundError as exc:
            raise UserFacingError(
                f"{workload.name} has no pod {command.pod}.", exc.message
            ) from exc
    else:
        response = await deps.runai.inference_metrics(workload.id, start, end)
    stats = [s for s in (series_stats(m) for m in response.measurements) if s is not None]
    window = window_text(command.since)
    title = f"{workload.name}" + (f" pod {command.pod}" if command.pod else "") + f", {window}"
    uploaded = False
    if stats and inv.channel_id:
        png = await render_chart(title, response.measurements)
        text_only = render.message(
            "metrics", name=workload.name, pod=command.pod, window=window, series=stats, note=""
        )["text"]
        uploaded = await replier.upload_png(
            inv.channel_id,
            png,
            filename=f"{workload.name}-metrics.png",
            title=title,
            comment=text_only,
        )
    place = "this DM" if (inv.channel_id or "").startswith("D") else "the channel"
    note = (
        f"Chart posted in {place}."
        if uploaded
        else "No chart: no samples in this window."
        if not stats
        else "I couldn't post the chart here (invite me to the channel to get charts)."
    )
    shown = {s.label for s in stats}
    missing = [label for label in METRIC_LABELS.values() if label not in shown]
    if stats and missing:
        # Run:ai's 207 "partial success", or a series with no samples: say which is absent.
        note = f"No {' or '.join(m.lower() for m in missing)} samples in this window. {note}"
    await replier.respond(
        inv,
        render.message(
            "metrics", name=workload.name, pod=command.pod, window=window, series=stats, note=note
        ),
    )


ROUTES = (Route(parsing.Metrics, metrics, "read the metrics of"),)
