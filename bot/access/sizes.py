"""What a request asks for in GPUs: one rule for the caps and the approval thresholds."""

from __future__ import annotations

from bot.policy import gpus_of
from bot.runai import models


def compute_gpus(compute: models.Compute | None, max_replicas: int | None) -> float:
    """GPUs at most for `max_replicas` replicas of `compute` (a fraction or a memory
    request counts as one device's share)."""
    if compute is None:
        return 0.0
    devices = compute.gpu_devices_request
    if devices is None and (compute.gpu_portion_request or compute.gpu_memory_request):
        devices = 1
    return gpus_of(devices, compute.gpu_portion_request, max_replicas)
