"""The emulator's in-memory control plane: workloads, projects, faults, call counts."""

from __future__ import annotations

import secrets
import string
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.emulator import phases
from bot.emulator.clock import Clock
from bot.emulator.errors import ApiError, bad_request, not_found
from bot.emulator.faults import Fault, FaultInjector
from bot.emulator.org import CLUSTER_ID, SEEDED_PROJECTS, ProjectInfo
from bot.emulator.requests import encodable
from bot.emulator.schema import check_against
from bot.emulator.usage import TrafficSetting, parse_traffic, traffic_at
from bot.emulator.validation import (
    PREFIX_SUFFIX_LENGTH,
    check_creation,
    check_spec,
    check_update,
    effective_replicas,
    merge_patch,
)

# Pod ids are uuid5(POD_NAMESPACE, "<workloadId>/<replica index>"): stable per replica.
POD_NAMESPACE = uuid.UUID("5f0c6c8e-2f44-4a8e-9d59-7b1c1e6f0a42")
# Revision ids are uuid5(REVISION_NAMESPACE, "<workloadId>/<revision index>").
REVISION_NAMESPACE = uuid.UUID("0b7f3c2e-9a41-4f6d-8d2b-3c5e7a1f9e64")
DEFAULT_IMAGE = "vllm/vllm-openai:latest"


@dataclass(frozen=True, slots=True)
class Revision:
    """One version of a workload's spec: the create, then one per PATCH."""

    id: str
    index: int
    created_at: float
    spec: dict[str, Any]


@dataclass(slots=True)
class WorkloadRecord:
    """One inference workload; its phase is computed from `timeline` when read.

    `past` keeps the timelines a PATCH, a DELETE or a forced phase replaced, so the
    workload's history (events, phase updates, metrics at any instant) can be told
    from timestamps too.
    """

    id: str
    name: str
    requested_name: str
    project: ProjectInfo
    created_by: str
    created_at: float
    spec: dict[str, Any]
    timeline: phases.Timeline
    updated_at: float
    revisions: list[Revision] = field(default_factory=list)
    deleting: bool = False
    past: list[phases.Timeline] = field(default_factory=list)
    traffic: list[TrafficSetting] = field(default_factory=list)

    def status(self, now: float) -> tuple[str, float, str | None] | None:
        """(phase, phaseUpdatedAt, phaseMessage), or None once deleted."""
        return self.timeline.phase_at(now)

    def gone(self, now: float) -> bool:
        """Deleted and past its Deleting step."""
        return self.timeline.phase_at(now) is None

    def deleted_at(self, now: float) -> float | None:
        """When it disappeared, if it has."""
        return self.timeline.removed_time() if self.gone(now) else None

    def replicas(self) -> tuple[int, int, int]:
        """(serving replicas, min, max) from the autoscaling spec."""
        return spec_replicas(self.spec)

    def running_pods(self, now: float) -> int:
        """Pods serving now: the replica count while in a serving phase, else 0."""
        current = self.status(now)
        if current is None or current[0] not in phases.SERVING_PHASES:
            return 0
        return self.replicas()[0]

    def pod_ids(self, now: float) -> list[str]:
        """Deterministic uuid per running replica."""
        return [pod_id(self.id, index) for index in range(self.running_pods(now))]

    @property
    def image(self) -> str:
        """The spec's image."""
        return str(self.spec.get("image") or "")

    # ----- the past: everything below is a function of time -------------------------
    def move_to(self, timeline: phases.Timeline) -> None:
        """Replace the current timeline, keeping the old one in `past`."""
        self.past.append(self.timeline)
        self.timeline = timeline

    def timelines(self) -> list[phases.Timeline]:
        """Every timeline, oldest first."""
        return [*self.past, self.timeline]

    def phase_at(self, moment: float) -> str | None:
        """The phase at `moment`; None before the creation and once removed."""
        if moment < self.created_at:
            return None
        timeline = self.timeline
        if timeline.anchor > moment:
            # A later change replaced the timeline in force then; find that one.
            for earlier in reversed(self.past):
                if earlier.anchor <= moment:
                    timeline = earlier
                    break
        current = timeline.phase_at(moment)
        return current[0] if current is not None else None

    def revision_at(self, moment: float) -> Revision:
        """The revision in force at `moment` (the first one before the creation)."""
        for revision in reversed(self.revisions):
            if revision.created_at <= moment:
                return revision
        return self.revisions[0]

    def running_at(self, moment: float) -> int:
        """Replicas serving at `moment`."""
        if self.phase_at(moment) not in phases.SERVING_PHASES:
            return 0
        return spec_replicas(self.revision_at(moment).spec)[0]

    def pods_at(self, moment: float) -> int:
        """Pods that exist at `moment`, serving or not (none once Stopped or Completed)."""
        phase = self.phase_at(moment)
        if phase is None or phase in phases.PODLESS_PHASES:
            return 0
        return spec_replicas(self.revision_at(moment).spec)[0]

    def traffic_at(self, moment: float) -> dict[str, float | None]:
        """The traffic control's values in force at `moment`."""
        if not self.traffic:
            return {}
        return traffic_at(self.traffic, moment)

    def steps(self, now: float) -> list[tuple[int, str, float, str | None]]:
        """(timeline index, phase, started, message) of every phase step so far, oldest first."""
        timelines = self.timelines()
        walked: list[tuple[int, str, float, str | None]] = []
        for index, timeline in enumerate(timelines):
            last = index == len(timelines) - 1
            until = now if last else timelines[index + 1].anchor
            walked.extend(
                (index, phase, started, message)
                for phase, started, message in timeline.steps(until, inclusive=last)
            )
        return walked


def spec_replicas(spec: Mapping[str, Any]) -> tuple[int, int, int]:
    """(serving replicas, min, max) from a spec's autoscaling."""
    minimum, maximum = effective_replicas(spec.get("autoscaling"))
    serving = max(1, minimum) if minimum > 0 else 1
    return min(serving, maximum), minimum, maximum


def pod_id(workload_id: str, index: int) -> str:
    """The pod id of replica `index` of a workload."""
    return str(uuid.uuid5(POD_NAMESPACE, f"{workload_id}/{index}"))


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """One API call as it arrived (for tests that check what a client sent)."""

    method: str
    path: str
    query: str
    template: str


class CallStats:
    """API calls counted by method and route template, e.g. `GET /api/v1/workloads`.

    `recent` keeps the last 500 calls with their raw query strings.
    """

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.recent: deque[SeenRequest] = deque(maxlen=500)

    def record(self, method: str, template: str, path: str = "", query: str = "") -> None:
        """Count one call."""
        self.calls[f"{method} {template}"] += 1
        self.recent.append(SeenRequest(method, path or template, query, template))

    def count(self, method: str, template: str) -> int:
        """Calls seen for one method and template."""
        return self.calls[f"{method} {template}"]

    def snapshot(self) -> dict[str, Any]:
        """`{"calls": {"GET /api/...": n}, "total": n}`."""
        return {"calls": dict(sorted(self.calls.items())), "total": sum(self.calls.values())}

    def clear(self) -> None:
        """Forget all counts."""
        self.calls.clear()
        self.recent.clear()


class EmulatorState:
    """Everything the emulator knows; one per app (`app.state.emulator`)."""

    def __init__(self, *, phase_seconds: float = 2.0, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.initial_phase_seconds = phase_seconds
        self.phase_seconds = phase_seconds
        self.faults = FaultInjector()
        self.stats = CallStats()
        self.started_at = self.clock.now()
        self.projects: dict[str, ProjectInfo] = {}
        self.workloads: dict[str, WorkloadRecord] = {}
        self._by_name: dict[tuple[str, str], str] = {}
        self._revisions: dict[str, tuple[str, int]] = {}
        self.reset()

    # ----- lifecycle -------------------------------------------------------------
    def reset(self) -> None:
        """Back to the start: seeded projects, no workloads, faults or counts, true clock."""
        self.phase_seconds = self.initial_phase_seconds
        self.clock.offset = 0.0
        self.projects = {project.id: project for project in SEEDED_PROJECTS}
        self.workloads = {}
        self._by_name = {}
        self._revisions = {}
        self.faults.clear()
        self.stats.clear()

    def now(self) -> float:
        """Emulator time (epoch seconds)."""
        return self.clock.now()

    # ----- lookups ---------------------------------------------------------------
    def get(self, workload_id: str) -> WorkloadRecord:
        """A live workload or 404."""
        record = self.workloads.get(workload_id)
        if record is None or record.gone(self.now()):
            raise not_found(f"Workload {workload_id} not found.")
        return record

    def find_by_name(self, project_id: str, name: str) -> WorkloadRecord | None:
        """The live workload with this name in the project, if any."""
        workload_id = self._by_name.get((project_id, name))
        if workload_id is None:
            return None
        record = self.workloads.get(workload_id)
        if record is None or record.gone(self.now()):
            return None
        return record

    def iter_records(self) -> Iterator[WorkloadRecord]:
        """All workloads, deleted ones included (callers filter)."""
        return iter(self.workloads.values())

    # ----- API operations --------------------------------------------------------
    def create(self, body: Any, created_by: str) -> WorkloadRecord:
        """Validate an InferenceCreationRequest and submit it (400/409 on errors)."""
        check_creation(body)
        check_against("InferenceCreationRequest", body)
        assert isinstance(body, Mapping)
        project = self.projects.get(body["projectId"])
        if body["clusterId"] != CLUSTER_ID:
            raise bad_request(
                f"Bad request - cluster {body['clusterId']} does not exist",
                details="field: clusterId",
            )
        if project is None:
            raise bad_request(
                f"Bad request - project {body['projectId']} does not exist",
                details="field: projectId",
            )
        if project.cluster_id != body["clusterId"]:
            raise bad_request(
                f"Bad request - project {project.id} is not in cluster {body['clusterId']}"
            )
        requested = str(body["name"])
        name = requested
        if body.get("useGivenNameAsPrefix"):
            name = f"{requested}-{_suffix()}"
        if self.find_by_name(project.id, name) is not None:
            raise ApiError(
                409,
                f"A workload named {name!r} already exists in project {project.name}.",
            )
        spec = dict(body.get("spec") or {})
        return self._add(name, requested, project, spec, created_by)

    def _add(
        self,
        name: str,
        requested: str,
        project: ProjectInfo,
        spec: dict[str, Any],
        created_by: str,
        timeline: phases.Timeline | None = None,
    ) -> WorkloadRecord:
        now = self.now()
        workload_id = str(uuid.uuid4())
        record = WorkloadRecord(
            id=workload_id,
            name=name,
            requested_name=requested,
            project=project,
            created_by=created_by,
            created_at=now,
            spec=spec,
            timeline=timeline or phases.creation(now, self.phase_seconds, str(spec.get("image"))),
            updated_at=now,
        )
        self._add_revision(record, spec, now)
        self.workloads[record.id] = record
        self._by_name[(project.id, name)] = record.id
        return record

    def update(self, workload_id: str, body: Any) -> WorkloadRecord:
        """Merge a PATCH into the spec, validate it, start Updating → Running."""
        record = self.get(workload_id)
        patch = check_update(body)
        if record.deleting:
            raise ApiError(409, f"Workload {record.name} is being deleted and cannot be updated.")
        merged = merge_patch(record.spec, patch)
        check_spec(merged)
        check_against("InferenceUpdateRequest", body)
        now = self.now()
        record.spec = merged
        self._add_revision(record, merged, now)
        record.updated_at = now
        record.move_to(phases.update(now, self.phase_seconds, record.image))
        return record

    def _add_revision(self, record: WorkloadRecord, spec: dict[str, Any], now: float) -> None:
        index = len(record.revisions)
        revision_id = str(uuid.uuid5(REVISION_NAMESPACE, f"{record.id}/{index}"))
        record.revisions.append(Revision(revision_id, index, now, spec))
        self._revisions[revision_id] = (record.id, index)

    def revision(self, revision_id: str) -> tuple[WorkloadRecord, Revision]:
        """A revision and its workload (deleted workloads' too), or 404."""
        found = self._revisions.get(revision_id)
        if found is None:
            raise not_found(f"Revision {revision_id} not found.")
        workload_id, index = found
        record = self.workloads[workload_id]
        return record, record.revisions[index]

    def get_any(self, workload_id: str) -> WorkloadRecord:
        """A workload, live or deleted, or 404 if it never existed."""
        record = self.workloads.get(workload_id)
        if record is None:
            raise not_found(f"Workload {workload_id} not found.")
        return record

    def delete(self, workload_id: str) -> WorkloadRecord:
        """Start Deleting; the workload is gone (404) one phase step later."""
        record = self.get(workload_id)
        if not record.deleting:
            now = self.now()
            record.deleting = True
            record.updated_at = now
            record.move_to(phases.deletion(now, self.phase_seconds))
        return record

    # ----- test controls and benchmarks ------------------------------------------
    def add_fault(
        self,
        status: int | None = 503,
        count: int = 1,
        *,
        latency_ms: int = 0,
        path_prefix: str = "/api",
        method: str | None = None,
    ) -> None:
        """Python twin of `POST /emulator/faults`."""
        self.faults.add(Fault(status or None, count, latency_ms, path_prefix, method))

    def force_phase(
        self, workload_id: str, phase: str, message: str | None = None
    ) -> WorkloadRecord:
        """Set a workload's phase now (phaseUpdatedAt = now); it holds until changed."""
        if phase not in phases.PHASES:
            raise bad_request(
                f"Bad request - unknown phase {phase!r}",
                details="one of " + ", ".join(phases.PHASES),
            )
        if message is not None and not encodable(message):
            raise bad_request("Bad request - message must be Unicode text (no lone surrogate)")
        record = self.get(workload_id)
        now = self.now()
        record.move_to(phases.forced(now, phase, message))
        record.updated_at = now
        return record

    def set_traffic(self, workload_id: str, body: Any) -> dict[str, float | None]:
        """Python twin of `POST /emulator/workloads/{id}/traffic`: set from now on.

        `body` is any subset of {"requestsPerSecond", "latencyMs", "gpuUtilization"}
        (null hands a series back to the emulator's curve). Returns the values in force.
        """
        values = parse_traffic(body)
        record = self.get(workload_id)
        now = self.now()
        record.traffic.append(TrafficSetting(now, values))
        return record.traffic_at(now)

    def set_phases(
        self, workload_ids: Iterable[str], phase: str, message: str | None = None
    ) -> int:
        """Force one phase on many workloads at once; returns how many changed."""
        changed = 0
        for workload_id in workload_ids:
            self.force_phase(workload_id, phase, message)
            changed += 1
        return changed

    def seed_workloads(
        self,
        count: int,
        *,
        project_id: str = "1",
        name_prefix: str = "seeded",
        phase: str | None = "Running",
        image: str = DEFAULT_IMAGE,
        created_by: str = "seed@emulator",
    ) -> list[str]:
        """Add `count` inference workloads fast (no validation); returns their ids.

        `phase` None lets them walk Creating → Initializing → Running like new ones.
        """
        project = self.projects[project_id]
        now = self.now()
        ids = []
        start = len(self.workloads)
        for index in range(count):
            name = f"{name_prefix}-{start + index}"
            spec = {"image": image, "servingPort": {"container": 8000}}
            timeline = (
                phases.forced(now, phase, None)
                if phase is not None
                else phases.creation(now, self.phase_seconds, image)
            )
            ids.append(self._add(name, name, project, spec, created_by, timeline).id)
        return ids


def _suffix() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(PREFIX_SUFFIX_LENGTH))
