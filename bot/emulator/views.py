"""Response bodies built from records: `Inference1`, `Workload`, `WorkloadDetailed`,
`Revision` and `Pod`."""

from __future__ import annotations

import hashlib
from typing import Any

from bot.emulator import metrics
from bot.emulator.clock import iso
from bot.emulator.org import (
    CLUSTER_NAME,
    DEPARTMENT_NAME,
    TENANT_ID,
    WORKLOAD_DEPARTMENT_ID,
)
from bot.emulator.phases import K8S_PHASE, SERVING_PHASES
from bot.emulator.state import Revision, WorkloadRecord, pod_id, spec_replicas
from bot.emulator.usage import gpus_per_pod

INFERENCE_TYPE = "inference"
# No public source names a revision's `type`; this is the schema's example.
REVISION_TYPE = "runai-revision"
CONTAINER_NAME = "user-container"  # Knative's name for the serving container
POD_PHASE = {
    "Failed": "Failed",
    "Deleting": "Terminating",
    "Stopping": "Terminating",
    "Terminating": "Terminating",
}
NODES = 4  # GPU nodes of the emulated cluster: gpu-node-1 .. gpu-node-4
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
    idle = metrics.idle_gpus(record, now) if current is not None else 0.0
    body["allocatedResources"] = {
        "gpu": metrics.gpu_allocation(record, now) if current is not None else 0.0
    }
    body["idleAllocatedGpus"] = idle
    body["idleGpus"] = round(idle)  # the deprecated twin, an integer
    if detailed:
        body["pendingSchedulingMessages"] = []
    return body


def pod_name(record: WorkloadRecord, index: int) -> str:
    """The name of replica `index`'s pod."""
    return f"{record.name}-{index:05d}-deployment"


def _spread(key: str, modulo: int) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % modulo


def node_name(workload_id: str, index: int) -> str:
    """The node replica `index` is scheduled on: stable per replica."""
    return f"gpu-node-{_spread(f'{workload_id}/{index}', NODES) + 1}"


def pod_ip(workload_id: str, index: int) -> str:
    """The pod's cluster IP: in its node's pod range, stable per replica."""
    node = _spread(f"{workload_id}/{index}", NODES) + 1
    return f"10.244.{node}.{_spread(f'{workload_id}/{index}/ip', 250) + 2}"


def _requested(spec: dict[str, Any]) -> dict[str, Any]:
    """`WorkloadRequestResources` / `PodRequestResources` of one replica."""
    compute = spec.get("compute") or {}
    requested: dict[str, Any] = {}
    if compute.get("gpuRequestType") in ("portion", "memory"):
        requested["gpuRequestType"] = compute["gpuRequestType"]
    gpus = gpus_per_pod(spec)
    if gpus:
        requested["gpu"] = {"request": gpus}
    if compute.get("gpuMemoryRequest"):
        requested["gpuMemory"] = {"request": compute["gpuMemoryRequest"]}
    if compute.get("cpuCoreRequest") is not None or compute.get("cpuCoreLimit") is not None:
        requested["cpu"] = {
            "request": compute.get("cpuCoreRequest"),
            "limit": compute.get("cpuCoreLimit"),
        }
    if compute.get("cpuMemoryRequest") or compute.get("cpuMemoryLimit"):
        requested["cpuMemory"] = {
            "request": compute.get("cpuMemoryRequest"),
            "limit": compute.get("cpuMemoryLimit"),
        }
    return requested


def _serving_since(record: WorkloadRecord, now: float) -> float | None:
    """When the serving containers last started: the start of the current serving run.

    A Degraded workload's containers are crash-looping: they restarted when it began.
    """
    steps = record.steps(now)
    if not steps or steps[-1][1] not in SERVING_PHASES:
        return None
    since = steps[-1][2]
    if steps[-1][1] == "Degraded":
        return since
    for _, phase, started, _ in reversed(steps):
        if phase not in ("Running", "Updating"):
            break
        since = started
    return since


def pod_bodies(record: WorkloadRecord, now: float) -> list[dict[str, Any]]:
    """`Pod`s of the workload now: one per replica; Running while serving, else Pending."""
    current = record.status(now)
    count = record.pods_at(now)
    if current is None or count == 0:
        return []
    phase, since, _ = current
    revision = record.revision_at(now)
    serving = phase in SERVING_PHASES
    scheduled = phase not in ("Creating", "Pending")
    started = _serving_since(record, now) if serving else None
    gpus = gpus_per_pod(revision.spec)
    # Serving pods run; pods of a failed workload failed; deleted ones terminate; the
    # rest wait to be scheduled or for their image.
    k8s_phase = "Running" if serving else POD_PHASE.get(phase, "Pending")
    pods = []
    for index in range(count):
        pods.append(
            {
                "name": pod_name(record, index),
                "priorityClassName": "inference",
                "id": pod_id(record.id, index),
                "workloadId": record.id,
                "revisionId": revision.id,
                "clusterId": record.project.cluster_id,
                "projectId": record.project.id,
                "projectName": record.project.name,
                "workloadName": record.name,
                "nodeName": node_name(record.id, index) if scheduled else None,
                "createdAt": iso(revision.created_at),
                "completedAt": None,
                "containers": [
                    {
                        "name": CONTAINER_NAME,
                        "image": str(revision.spec.get("image") or ""),
                        "startedAt": iso(started) if started is not None else None,
                    }
                ],
                "currentNodePool": "default" if scheduled else None,
                "requestedNodePools": list(revision.spec.get("nodePools") or ["default"]),
                "requestedResources": _requested(revision.spec),
                "allocatedResources": {"gpu": gpus if serving else 0.0},
                "k8sPhase": k8s_phase,
                "ip": pod_ip(record.id, index) if scheduled else None,
                "tenantId": TENANT_ID,
                "k8sPhaseUpdatedAt": iso(since),
                "updatedAt": iso(max(since, revision.created_at)),
                "deletedAt": None,
            }
        )
    return pods


def _environment(spec: dict[str, Any]) -> dict[str, str]:
    variables = {}
    for item in spec.get("environmentVariables") or []:
        if isinstance(item, dict) and isinstance(item.get("value"), str):
            variables[str(item["name"])] = item["value"]
    return variables


def revision_body(record: WorkloadRecord, revision: Revision, now: float) -> dict[str, Any]:
    """`Revision`: the latest follows the workload's phase; earlier ones are Stopped."""
    latest = revision.index == len(record.revisions) - 1
    current = record.status(now)
    deleted_at = record.deleted_at(now)
    if latest and current is not None:
        phase, since, message = current
    else:
        phase, message = "Stopped", None
        since = (
            record.revisions[revision.index + 1].created_at
            if not latest
            else record.timeline.anchor
        )
    running = record.running_pods(now) if latest else 0
    replicas, minimum, maximum = spec_replicas(revision.spec)
    body: dict[str, Any] = {
        "type": REVISION_TYPE,
        "name": f"{record.name}-{revision.index + 1:05d}",
        "id": revision.id,
        "workloadId": record.id,
        "tenantId": TENANT_ID,
        "clusterId": record.project.cluster_id,
        "projectId": record.project.id,
        "departmentId": WORKLOAD_DEPARTMENT_ID,
        "createdAt": iso(revision.created_at),
        "deletedAt": iso(deleted_at) if deleted_at is not None else None,
        "revisionRequestedResources": _requested(revision.spec),
        "requestedPods": {"number": replicas, "min": minimum, "max": maximum},
        "requestedNodePools": list(revision.spec.get("nodePools") or ["default"]),
        "allocatedResources": {"gpu": gpus_per_pod(revision.spec) * running},
        "runningPods": running,
        "images": [revision.spec["image"]] if revision.spec.get("image") else [],
        "environmentVariables": _environment(revision.spec),
        "conditions": _conditions(phase, since, message),
        "phase": phase,
        "phaseUpdatedAt": iso(since),
    }
    if isinstance(revision.spec.get("command"), str):
        body["command"] = revision.spec["command"]
    if isinstance(revision.spec.get("args"), str):
        body["arguments"] = revision.spec["args"]
    if message:
        body["phaseMessage"] = message
    return body
