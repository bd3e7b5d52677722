"""Response bodies built from records: `Inference1`, `Workload`, `WorkloadDetailed`."""

from __future__ import annotations

from typing import Any

from bot.emulator.clock import iso
from bot.emulator.org import (
    CLUSTER_NAME,
    DEPARTMENT_NAME,
    TENANT_ID,
    WORKLOAD_DEPARTMENT_ID,
)
from bot.emulator.phases import K8S_PHASE, SERVING_PHASES
from bot.emulator.state import WorkloadRecord

INFERENCE_TYPE = "inference"
SERVING_DOMAIN = f"{CLUSTER_NAME}.runai.local"


def serving_url(record: WorkloadRecord) -> str:
    """The serving URL Knative would give the workload."""
    return f"https://{record.name}-{record.project.name}.{SERVING_DOMAIN}"


def inference_body(record: WorkloadRecord, now: float) -> dict[str, Any]:
    """`Inference1`: WorkloadMeta1 plus the spec."""
    current = record.status(now)
    body: dict[str, Any] = {
        "name": record.name,
        "requestedName": record.requested_name,
        "workloadId": record.id,
        "projectId": record.project.id,
        "departmentId": WORKLOAD_DEPARTMENT_ID,
        "clusterId": record.project.cluster_id,
        "createdBy": record.created_by,
        "createdAt": iso(record.created_at),
        "deletedAt": None,
        "desiredPhase": "Deleted" if record.deleting else "Running",
        "spec": record.spec,
    }
    if current is not None:
        body["actualPhase"] = current[0]
    else:
        body["deletedAt"] = iso(record.timeline.removed_time())
    return body


def _conditions(phase: str, since: float, message: str | None) -> list[dict[str, Any]]:
    stamp = iso(since)
    if phase in SERVING_PHASES:
        ready = {"type": "Ready", "status": "True", "lastTransitionTime": stamp}
        if phase == "Updating":
            ready = {
                "type": "Ready",
                "status": "True",
                "reason": "RevisionUpdating",
                "message": "A new revision is being rolled out",
                "lastTransitionTime": stamp,
            }
        return [ready, {"type": "Available", "status": "True", "lastTransitionTime": stamp}]
    if phase == "Failed":
        return [
            {
                "type": "Failed",
                "status": "True",
                "reason": "ImagePullBackOff" if message and "pull" in message else "Error",
                "message": message or "The workload failed",
                "lastTransitionTime": stamp,
            },
            {"type": "Ready", "status": "False", "lastTransitionTime": stamp},
        ]
    return [
        {
            "type": "Ready",
            "status": "False",
            "reason": phase,
            "message": message or f"Workload is {phase.lower()}",
            "lastTransitionTime": stamp,
        }
    ]


def workload_body(record: WorkloadRecord, now: float, *, detailed: bool = False) -> dict[str, Any]:
    """`Workload` (list item) or `WorkloadDetailed`, with every required field."""
    current = record.status(now)
    deleted_at = record.deleted_at(now)
    if current is None:
        phase, since, message = "Deleting", record.timeline.anchor, None
    else:
        phase, since, message = current
    replicas, minimum, maximum = record.replicas()
    running = replicas if current is not None and phase in SERVING_PHASES else 0
    compute = record.spec.get("compute") or {}
    body: dict[str, Any] = {
        "type": INFERENCE_TYPE,
        "name": record.name,
        "id": record.id,
        "source": "Control-plane",
        "priority": 100,
        "priorityClassName": "inference",
        "clusterId": record.project.cluster_id,
        "projectName": record.project.name,
        "projectId": record.project.id,
        "departmentName": DEPARTMENT_NAME,
        "departmentId": WORKLOAD_DEPARTMENT_ID,
        "namespace": record.project.namespace,
        "createdAt": iso(record.created_at),
        "submittedBy": record.created_by,
        "phase": phase,
        "phaseUpdatedAt": iso(since),
        "conditions": _conditions(phase, since, message),
        "k8sPhase": K8S_PHASE.get(phase, "Unknown"),
        "k8sPhaseUpdatedAt": iso(since),
        "tenantId": TENANT_ID,
        "runningPods": running,
        "requestedPods": {"number": replicas, "min": minimum, "max": maximum},
        "updatedAt": iso(max(record.updated_at, since)),
        "deletedAt": iso(deleted_at) if deleted_at is not None else None,
        "completedAt": None,
        "category": str(record.spec.get("category") or "Deploy"),
        "images": [record.image] if record.image else [],
        "urls": [serving_url(record)] if running else [],
        "requestedNodePools": list(record.spec.get("nodePools") or ["default"]),
        "preemptible": False,
        "additionalFields": {
            "revision": len(record.revisions),
            "pods": [
                {"id": pod, "name": f"{record.name}-{index:05d}-deployment"}
                for index, pod in enumerate(record.pod_ids(now))
            ],
        },
    }
    if message:
        body["phaseMessage"] = message
    devices = compute.get("gpuDevicesRequest")
    if isinstance(devices, int):
        body["allocatedResources"] = {"gpu": float(devices * running)} if running else {}
    if detailed:
        body["pendingSchedulingMessages"] = []
    return body
