"""A workload's events and history, told from its timelines when asked (nothing stored).

Each phase step adds a history record (`PhaseUpdate`) and events: one for the workload,
plus one per pod where Kubernetes would report on pods (scheduling, container starts,
restarts). Ids are uuid5s of where an event comes from, so they are stable.
"""

from __future__ import annotations

import uuid
from typing import Any

from bot.emulator.clock import iso
from bot.emulator.state import WorkloadRecord, pod_id, spec_replicas
from bot.emulator.views import CONTAINER_NAME, node_name, pod_name

EVENT_NAMESPACE = uuid.UUID("c3a1e7d4-5b2f-4e8a-9f61-2d7b8c4e1a93")
WORKLOAD_KIND = "InferenceWorkload"
CONTROLLER = "workload-controller"
SCHEDULER = "runai-scheduler"
KUBELET = "kubelet"
# (type, reason, message when the step has none) of the workload event of each phase.
WORKLOAD_EVENTS = {
    "Creating": ("Normal", "Submitted", "Inference workload {name} was submitted"),
    "Initializing": ("Normal", "Initializing", "Pulling the image and starting the replicas"),
    "Running": ("Normal", "Running", "All {replicas} replica(s) are ready"),
    "Updating": ("Normal", "Updating", "Rolling out revision {revision}"),
    "Degraded": ("Warning", "Degraded", "Some replicas are not ready"),
    "Failed": ("Warning", "Failed", "The workload failed"),
    "Pending": (
        "Warning",
        "Unschedulable",
        "0/4 nodes are available: 4 Insufficient nvidia.com/gpu",
    ),
    "Unknown": ("Warning", "Unknown", "The workload's state is unknown"),
    "Deleting": ("Normal", "Deleting", "Deleting inference workload {name}"),
}


Kind = tuple[str, str, str]  # (type, reason, message)
Involved = tuple[str, str, str]  # (uid, kind, name)


def _event(
    record: WorkloadRecord, key: str, at: float, kind: Kind, source: str, involved: Involved
) -> dict[str, Any]:
    event_type, reason, message = kind
    uid, object_kind, name = involved
    return {
        "createdAt": iso(at),
        "id": str(uuid.uuid5(EVENT_NAMESPACE, f"{record.id}/{key}")),
        "type": event_type,
        "clusterId": record.project.cluster_id,
        "message": message,
        "reason": reason,
        "source": source,
        "involvedObject": {
            "uid": uid,
            "kind": object_kind,
            "name": name,
            "namespace": record.project.namespace,
        },
    }


def _pod_events(phase: str, reason: str, image: str) -> list[tuple[str, Kind, str]]:
    """(key, kind, source) of the events each pod raises in a phase step.

    "{pod}", "{node}" and "{namespace}" in a message are filled per pod.
    """
    if phase == "Initializing":
        return [
            (
                "scheduled",
                ("Normal", "Scheduled", "Successfully assigned {namespace}/{pod} to {node}"),
                SCHEDULER,
            ),
            ("pulling", ("Normal", "Pulling", f'Pulling image "{image}"'), KUBELET),
        ]
    if phase == "Running":
        return [("started", ("Normal", "Started", f"Started container {CONTAINER_NAME}"), KUBELET)]
    if phase == "Degraded":
        message = "Back-off restarting failed container " + CONTAINER_NAME + " in pod {pod}"
        return [("backoff", ("Warning", "BackOff", message), KUBELET)]
    if phase == "Failed" and reason == "BackOff":
        message = f'Error: ImagePullBackOff "{image}"'
        return [("pullbackoff", ("Warning", "Failed", message), KUBELET)]
    return []


def _fill(template: str, values: dict[str, str]) -> str:
    # Not str.format: an image name may hold braces.
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


def _step_events(
    record: WorkloadRecord, step: int, phase: str, started: float, message: str | None
) -> list[dict[str, Any]]:
    """The events a phase step raises: the workload's, then each pod's."""
    revision = record.revision_at(started)
    replicas = spec_replicas(revision.spec)[0]
    event_type, reason, default = WORKLOAD_EVENTS.get(
        phase, ("Normal", phase, "Workload is " + phase.lower())
    )
    if phase == "Failed" and message and "ImagePullBackOff" in message:
        reason = "BackOff"
    text = message or default.format(
        name=record.name,
        replicas=replicas,
        revision=f"{record.name}-{revision.index + 1:05d}",
    )
    workload = (record.id, WORKLOAD_KIND, record.name)
    found = [
        _event(
            record, f"{step}/workload", started, (event_type, reason, text), CONTROLLER, workload
        )
    ]
    per_pod = _pod_events(phase, reason, str(revision.spec.get("image") or ""))
    for index in range(replicas if per_pod else 0):
        name = pod_name(record, index)
        fill = {
            "pod": name,
            "node": node_name(record.id, index),
            "namespace": record.project.namespace,
        }
        involved = (pod_id(record.id, index), "Pod", name)
        found.extend(
            _event(
                record,
                f"{step}/{index}/{key}",
                started,
                (kind[0], kind[1], _fill(kind[2], fill)),
                source,
                involved,
            )
            for key, kind, source in per_pod
        )
    return found


def _records(record: WorkloadRecord, now: float) -> list[dict[str, Any]]:
    """Every phase update and event so far, oldest first, as `HistoryRecord`s."""
    found: list[dict[str, Any]] = []
    for step, (_, phase, started, message) in enumerate(record.steps(now)):
        found.append(
            {
                "meta": {"creationTimestamp": iso(started), "type": "PhaseUpdate"},
                "spec": {"phaseUpdate": {"phase": phase, "phaseMessage": message or ""}},
            }
        )
        found.extend(
            {
                "meta": {"creationTimestamp": event["createdAt"], "type": "Event"},
                "spec": {"event": event},
            }
            for event in _step_events(record, step, phase, started, message)
        )
    return found


def events(record: WorkloadRecord, now: float, order: str) -> list[dict[str, Any]]:
    """`Event`s, newest first unless `order` is "asc"."""
    found = [item["spec"]["event"] for item in _records(record, now) if "event" in item["spec"]]
    return found if order == "asc" else found[::-1]


def history(record: WorkloadRecord, now: float) -> list[dict[str, Any]]:
    """`HistoryRecord`s (phase updates and events), newest first."""
    return _records(record, now)[::-1]
