"""Run:ai models → the user words templates print (cards). Pure."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.durations import format_duration
from bot.runai import models

PHASE_EMOJI: dict[str, str] = {
    "Creating": ":hatching_chick:",
    "Initializing": ":hourglass_flowing_sand:",
    "Resuming": ":arrow_forward:",
    "Pending": ":hourglass:",
    "Deleting": ":wastebasket:",
    "Running": ":large_green_circle:",
    "Updating": ":arrows_counterclockwise:",
    "Stopped": ":black_square_for_stop:",
    "Stopping": ":double_vertical_bar:",
    "Degraded": ":warning:",
    "Failed": ":red_circle:",
    "Completed": ":white_check_mark:",
    "Terminating": ":wastebasket:",
    "Unknown": ":grey_question:",
    "Deleted": ":x:",  # the watch room's pseudo-phase of a workload that is gone
}
"""One emoji per phase, the same in replies, cards and thread messages."""


def phase_emoji(phase: str | None) -> str:
    """A status emoji for a phase."""
    return PHASE_EMOJI.get(str(phase or "Unknown"), ":grey_question:")


@dataclass(frozen=True)
class WorkloadCard:
    """What a message says about one workload."""

    id: str
    name: str
    project: str
    phase: str
    phase_emoji: str
    replicas: str
    image: str = "not set"
    resources: str = "not set"
    created_by: str = "unknown"
    created_at: str = "unknown"
    phase_message: str | None = None
    urls: tuple[str, ...] = ()
    conditions: tuple[str, ...] = field(default_factory=tuple)
    labels: str | None = None


def when(moment: datetime | None) -> str:
    """A timestamp as users read it (UTC)."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "unknown"


def replicas_text(
    running: int | None, auto: models.AutoScaling | None, requested: models.RequestedPods | None
) -> str:
    """`2 running (min 1, max 3)`."""
    low = auto.min_replicas if auto and auto.min_replicas is not None else None
    high = auto.max_replicas if auto and auto.max_replicas is not None else None
    if low is None and requested is not None:
        low, high = requested.min, requested.max
    parts = [f"{running if running is not None else 0} running"]
    if low is not None or high is not None:
        parts.append(
            f"(min {low if low is not None else '?'}, max {high if high is not None else '?'})"
        )
    return " ".join(parts)


def resources_text(compute: models.Compute | None) -> str:
    """`1 GPU x 20Gi · 2 CPU · 8Gi RAM`."""
    if compute is None:
        return "not set"
    parts: list[str] = []
    devices = compute.gpu_devices_request
    if compute.gpu_portion_request is not None:
        parts.append(f"{devices or 1} GPU x {compute.gpu_portion_request:g}")
    elif compute.gpu_memory_request:
        parts.append(f"{devices or 1} GPU x {compute.gpu_memory_request}")
    elif devices:
        parts.append(f"{devices} GPU" + ("s" if devices > 1 else ""))
    if compute.cpu_core_request is not None:
        parts.append(f"{compute.cpu_core_request:g} CPU")
    if compute.cpu_memory_request:
        parts.append(f"{compute.cpu_memory_request} RAM")
    return " · ".join(parts) or "not set"


def labels_text(spec: models.InferenceSpecSpec | None) -> str | None:
    """`team=a, tier=gold`, or None without labels."""
    if spec is None or not spec.labels:
        return None
    pairs = [f"{label.name}={label.value or ''}" for label in spec.labels if label.name]
    return ", ".join(pairs) or None


def workload_card(
    workload: models.Workload | None,
    inference: models.Inference | None = None,
    project_names: dict[str, str] | None = None,
) -> WorkloadCard:
    """A card from the workload (list/get) and, when known, the inference (spec)."""
    spec = inference.spec if inference else None
    names = project_names or {}
    if workload is not None:
        project = (
            workload.project_name
            or names.get(workload.project_id or "", "")
            or (workload.project_id or "unknown")
        )
        phase = str(workload.phase or (inference.actual_phase if inference else None) or "Unknown")
        image = (spec.image if spec and spec.image else None) or (
            ", ".join(workload.images) if workload.images else "not set"
        )
        return WorkloadCard(
            id=workload.id,
            name=workload.name,
            project=project,
            phase=phase,
            phase_emoji=phase_emoji(phase),
            replicas=replicas_text(
                workload.running_pods, spec.autoscaling if spec else None, workload.requested_pods
            ),
            image=image,
            resources=resources_text(spec.compute if spec else None),
            created_by=workload.submitted_by
            or (inference.created_by if inference else None)
            or "unknown",
            created_at=when(workload.created_at),
            phase_message=workload.phase_message,
            urls=tuple(workload.urls),
            conditions=tuple(
                f"{c.type}: {c.status}" + (f" ({c.message})" if c.message else "")
                for c in workload.conditions
                if c.status != "True" or c.message
            ),
            labels=labels_text(spec),
        )
    assert inference is not None
    phase = str(inference.actual_phase or "Creating")
    return WorkloadCard(
        id=inference.workload_id,
        name=inference.name,
        project=names.get(inference.project_id, inference.project_id),
        phase=phase,
        phase_emoji=phase_emoji(phase),
        replicas=replicas_text(0, spec.autoscaling if spec else None, None),
        image=(spec.image if spec else None) or "not set",
        resources=resources_text(spec.compute if spec else None),
        created_by=inference.created_by or "unknown",
        created_at=when(inference.created_at),
        labels=labels_text(spec),
    )


@dataclass(frozen=True)
class ListRow:
    """One line of `/inference list`."""

    name: str
    project: str
    phase: str
    phase_emoji: str
    replicas: str
    followed: bool


def list_rows(workloads: Iterable[models.Workload], followed: set[str]) -> list[ListRow]:
    """Workloads → list lines, marking those this channel follows."""
    rows = []
    for w in workloads:
        phase = str(w.phase or "Unknown")
        rows.append(
            ListRow(
                name=w.name,
                project=w.project_name or w.project_id or "unknown",
                phase=phase,
                phase_emoji=phase_emoji(phase),
                replicas=replicas_text(w.running_pods, None, w.requested_pods),
                followed=w.id in followed,
            )
        )
    return rows


@dataclass(frozen=True)
class Choice:
    """A button of the "which one?" question."""

    label: str
    value: str


def choice_label(w: models.Workload) -> str:
    """`name · team-a · Running`."""
    return f"{w.name} · {w.project_name or w.project_id or '?'} · {w.phase or '?'}"


@dataclass(frozen=True)
class ModelCard:
    """What `/inference model` says."""

    model: str
    task: str
    architectures: str
    vllm_versions: str
    min_gib: str
    gated: bool = False
    source: str | None = None


def model_card(
    info: models.ModelInfo, *, gated: bool = False, source: str | None = None
) -> ModelCard:
    """Model info → its card; memory in GiB rounded up."""
    mb = info.min_memory_requirements_mb
    return ModelCard(
        model=info.model_name,
        task=info.pipeline_tag or "unknown",
        architectures=", ".join(info.architectures) or "unknown",
        vllm_versions=", ".join(info.vllm_supporting_versions) or "none known",
        min_gib=f"{math.ceil(mb / 1024)} GiB" if mb else "unknown",
        gated=gated,
        source=source,
    )


@dataclass(frozen=True)
class SeriesStats:
    """Numbers of one metrics series."""

    label: str
    unit: str
    last: str
    min: str
    max: str
    p95: str
    samples: int


UNITS = {"THROUGHPUT": "requests/s", "LATENCY": "ms"}
METRIC_LABELS = {"THROUGHPUT": "Throughput", "LATENCY": "Latency"}


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def series_stats(measurement: models.Measurement) -> SeriesStats | None:
    """A series → last/min/max/p95, or None when it has no samples."""
    values = [v.value for v in measurement.values if v.value is not None]
    if not values:
        return None
    kind = measurement.type.upper()
    return SeriesStats(
        label=METRIC_LABELS.get(kind, measurement.type),
        unit=UNITS.get(kind, ""),
        last=_fmt(values[-1]),
        min=_fmt(min(values)),
        max=_fmt(max(values)),
        p95=_fmt(percentile(values, 95)),
        samples=len(values),
    )


def list_description(name: str | None, phase: str | None, project: str | None) -> str:
    """What a narrowed `list` holds, in words: `named *llama* · Failed · in team-a`."""
    parts = []
    if name:
        parts.append(f"named *{name}*")
    if phase:
        parts.append(phase)
    if project:
        parts.append(f"in {project}")
    return " · ".join(parts)


def window_text(since: timedelta) -> str:
    """`1h`, `30m`, `2d`: the duration as `metrics --since` reads it."""
    return format_duration(since)


def scale_summary(
    name: str, min_replicas: int, max_replicas: int, metric: str | None, threshold: int | None
) -> str:
    """`Scaled llama to 1-3 replicas (concurrency 10).`"""
    span = f"{min_replicas}" if min_replicas == max_replicas else f"{min_replicas}-{max_replicas}"
    how = f" ({metric} {threshold})" if metric else ""
    return f"Scaled {name} to {span} replicas{how}."
