"""Turn Run:ai's workload bodies into the watch's own `Observation` (no I/O)."""

from __future__ import annotations

from bot.runai import models
from bot.watch.diff import Observation

MAX_CONDITIONS = 3


def _replicas_from_pods(workload: models.Workload) -> str | None:
    pods = workload.requested_pods
    running = workload.running_pods
    low = pods.min if pods is not None else None
    high = pods.max if pods is not None else None
    if low is None and pods is not None:
        low = pods.number
    return _replicas_text(running, low, high)


def _replicas_text(running: int | None, low: int | None, high: int | None) -> str | None:
    parts: list[str] = []
    if running is not None:
        parts.append(f"{running} running")
    if low is not None and high is not None and low != high:
        parts.append(f"min {low} · max {high}")
    elif low is not None or high is not None:
        parts.append(f"{low if low is not None else high} requested")
    return ", ".join(parts) or None


def _conditions(workload: models.Workload) -> tuple[str, ...]:
    lines: list[str] = []
    for condition in workload.conditions:
        if not condition.message:
            continue
        lines.append(f"{condition.type}: {condition.message}")
    return tuple(lines[:MAX_CONDITIONS])


def observe(workload: models.Workload | models.Inference) -> Observation:
    """What a workload (list item, detail or inference body) says about itself now."""
    if isinstance(workload, models.Inference):
        spec = workload.spec
        scaling = spec.autoscaling if spec is not None else None
        return Observation(
            workload_id=workload.workload_id,
            phase=str(workload.actual_phase or "Creating"),
            phase_updated_at=workload.created_at,
            name=workload.name,
            project=workload.project_id,
            image=spec.image if spec is not None else None,
            replicas=_replicas_text(
                None,
                scaling.min_replicas if scaling is not None else None,
                scaling.max_replicas if scaling is not None else None,
            ),
        )
    return Observation(
        workload_id=workload.id,
        phase=str(workload.phase or "Unknown"),
        phase_message=workload.phase_message,
        phase_updated_at=workload.phase_updated_at,
        conditions=_conditions(workload),
        urls=tuple(workload.urls),
        name=workload.name,
        project=workload.project_name or workload.project_id,
        image=workload.images[0] if workload.images else None,
        replicas=_replicas_from_pods(workload),
    )
