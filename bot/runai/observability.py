"""Pydantic models of what Run:ai tells about a running workload: workload metrics
(GPU, CPU, pods), events, history, pods and inference revisions.

Same conventions as models.py (camelCase on the wire, extras kept, naive times are UTC).
Names and types follow ``openapi-inference-subset.json``: `WorkloadMetricType`,
`MetricsCompositeResponse`, `Event2`, `HistoryRecord1`, `Pod1`, `Revision`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from bot.runai.models import (
    Condition,
    Measurement,
    PhaseValue,
    RequestedPods,
    RunaiModel,
    Timestamp,
)


class WorkloadMetricType(StrEnum):
    """`WorkloadMetricType`: the series of `GET /api/v1/workloads/{id}/metrics`."""

    GPU_UTILIZATION = "GPU_UTILIZATION"
    GPU_MEMORY_USAGE_BYTES = "GPU_MEMORY_USAGE_BYTES"
    GPU_MEMORY_REQUEST_BYTES = "GPU_MEMORY_REQUEST_BYTES"
    CPU_USAGE_CORES = "CPU_USAGE_CORES"
    CPU_REQUEST_CORES = "CPU_REQUEST_CORES"
    CPU_LIMIT_CORES = "CPU_LIMIT_CORES"
    CPU_MEMORY_USAGE_BYTES = "CPU_MEMORY_USAGE_BYTES"
    CPU_MEMORY_REQUEST_BYTES = "CPU_MEMORY_REQUEST_BYTES"
    CPU_MEMORY_LIMIT_BYTES = "CPU_MEMORY_LIMIT_BYTES"
    POD_COUNT = "POD_COUNT"
    RUNNING_POD_COUNT = "RUNNING_POD_COUNT"
    GPU_ALLOCATION = "GPU_ALLOCATION"
    NIM_NUM_REQUESTS_RUNNING = "NIM_NUM_REQUESTS_RUNNING"
    NIM_NUM_REQUESTS_WAITING = "NIM_NUM_REQUESTS_WAITING"
    NIM_NUM_REQUEST_MAX = "NIM_NUM_REQUEST_MAX"
    NIM_REQUEST_SUCCESS_TOTAL = "NIM_REQUEST_SUCCESS_TOTAL"
    NIM_REQUEST_FAILURE_TOTAL = "NIM_REQUEST_FAILURE_TOTAL"
    NIM_GPU_CACHE_USAGE_PERC = "NIM_GPU_CACHE_USAGE_PERC"
    NIM_TIME_TO_FIRST_TOKEN_SECONDS = "NIM_TIME_TO_FIRST_TOKEN_SECONDS"
    NIM_E2E_REQUEST_LATENCY_SECONDS = "NIM_E2E_REQUEST_LATENCY_SECONDS"
    NIM_TIME_TO_FIRST_TOKEN_SECONDS_PERCENTILES = "NIM_TIME_TO_FIRST_TOKEN_SECONDS_PERCENTILES"
    NIM_E2E_REQUEST_LATENCY_SECONDS_PERCENTILES = "NIM_E2E_REQUEST_LATENCY_SECONDS_PERCENTILES"
    NVLINK_BANDWIDTH_TOTAL = "NVLINK_BANDWIDTH_TOTAL"


class EventsSortOrder(StrEnum):
    """`EventsSort`: the order of `GET /api/v1/workloads/{id}/events`."""

    ASC = "asc"
    DESC = "desc"


class HistoryRecordType(StrEnum):
    """`HistoryRecordType`."""

    EVENT = "Event"
    PHASE_UPDATE = "PhaseUpdate"


def _drop_nulls(value: Any) -> Any:
    # `Event2` is nullable: a list may hold nulls, which carry nothing to show.
    if isinstance(value, list):
        return [item for item in value if item is not None]
    return [] if value is None else value


# --- metrics -----------------------------------------------------------------------------


class HistogramValue(RunaiModel):
    """`HistogramValue`: one instant's buckets (or percentiles), values as strings."""

    timestamp: Timestamp | None = None
    data: dict[str, str] = Field(default_factory=dict)


class HistogramSeries(RunaiModel):
    """`HistogramSeries`."""

    type: str
    values: list[HistogramValue] = Field(default_factory=list)


class MetricsCompositeResponse(RunaiModel):
    """`MetricsCompositeResponse`: series (`measurements`) and, for NIM, histograms."""

    measurements: list[Measurement]
    histogram: list[HistogramSeries] | None = None

    def series(self, metric: WorkloadMetricType | str) -> Measurement | None:
        """The first series of `metric` (None when the answer has none, e.g. a 207)."""
        wanted = str(metric).upper()
        return next((m for m in self.measurements if m.type.upper() == wanted), None)


# --- events ------------------------------------------------------------------------------


class InvolvedObject(RunaiModel):
    """`InvolvedObject`: what an event is about (the workload, or one of its pods)."""

    uid: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None


class Event(RunaiModel):
    """`Event2`: one Kubernetes-style event of a workload."""

    created_at: Timestamp
    id: str | None = None
    type: str
    cluster_id: str | None = None
    message: str
    reason: str | None = None
    source: str | None = None
    involved_object: InvolvedObject | None = None


class EventsPage(RunaiModel):
    """One page of `GET /api/v1/workloads/{id}/events`; `next` is the next offset."""

    events: Annotated[list[Event], BeforeValidator(_drop_nulls)]
    next: int | None = None


# --- history -----------------------------------------------------------------------------


class PhaseUpdate(RunaiModel):
    """`PhaseUpdate`: the phase a workload entered, and its message ("" when none)."""

    phase: PhaseValue
    phase_message: str = ""


class HistoryRecordMeta(RunaiModel):
    """`HistoryRecordMeta`."""

    creation_timestamp: Timestamp
    type: HistoryRecordType | str


class HistoryRecordSpec(RunaiModel):
    """The `spec` of a history record: an event or a phase update."""

    event: Event | None = None
    phase_update: PhaseUpdate | None = None


class HistoryRecord(RunaiModel):
    """`HistoryRecord1`."""

    meta: HistoryRecordMeta
    spec: HistoryRecordSpec


class HistoryPage(RunaiModel):
    """One page of `GET /api/v1/workloads/{id}/history` (newest first)."""

    records: list[HistoryRecord]
    next: int | None = None


# --- pods --------------------------------------------------------------------------------


class Container(RunaiModel):
    """`Container1`."""

    name: str
    image: str
    started_at: Timestamp | None = None


class RequestResourceCores(RunaiModel):
    """`RequestResourceCores`: a request and a limit in (fractions of) cores or GPUs."""

    request: float | None = None
    limit: float | None = None


class RequestResourceQuantity(RunaiModel):
    """`RequestResourceQuantity`: a request and a limit as Kubernetes quantities."""

    request: str | None = None
    limit: str | None = None


class RequestResources(RunaiModel):
    """`WorkloadRequestResources` / `PodRequestResources`."""

    gpu_request_type: str | None = None
    gpu: RequestResourceCores | None = None
    gpu_memory: RequestResourceQuantity | None = None
    cpu: RequestResourceCores | None = None
    cpu_memory: RequestResourceQuantity | None = None
    extended_resources: list[dict[str, Any]] | None = None


class Pod(RunaiModel):
    """`Pod1`: one pod of a workload (the schema has no restart count)."""

    id: str
    name: str
    workload_id: str
    cluster_id: str | None = None
    k8s_phase: str | None = None
    created_at: Timestamp | None = None
    containers: list[Container] = Field(default_factory=list)
    priority_class_name: str | None = None
    revision_id: str | None = None
    project_id: str | None = None
    node_name: str | None = None
    completed_at: Timestamp | None = None
    current_node_pool: str | None = None
    requested_node_pools: list[str] | None = None
    requested_resources: RequestResources | None = None
    allocated_resources: dict[str, Any] | None = None
    ip: str | None = None
    tenant_id: int | None = None
    k8s_phase_updated_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    deleted_at: Timestamp | None = None
    project_name: str | None = None
    workload_name: str | None = None

    @property
    def started_at(self) -> Timestamp | None:
        """When its latest container started (None when none has)."""
        starts = [c.started_at for c in self.containers if c.started_at is not None]
        return max(starts) if starts else None


class PodsPage(RunaiModel):
    """One page of `GET /api/v1/workloads/{id}/pods`."""

    pods: list[Pod]
    next: int | None = None


# --- revisions ---------------------------------------------------------------------------


class Revision(RunaiModel):
    """`Revision`: the spec an inference ran with from `created_at` on.

    `environment_variables` (name → value) may hold secrets: it stays out of reprs, and
    nothing in the bot shows more than its names.
    """

    id: str
    name: str
    type: str | None = None
    workload_id: str
    tenant_id: int | None = None
    cluster_id: str | None = None
    department_id: str | None = None
    project_id: str | None = None
    created_at: Timestamp
    deleted_at: Timestamp | None = None
    revision_requested_resources: RequestResources | None = None
    pods_requested_resources: RequestResources | None = None
    requested_pods: RequestedPods | None = None
    requested_node_pools: list[str] | None = None
    allocated_resources: dict[str, Any] | None = None
    current_node_pools: list[str] | None = None
    running_pods: int | None = None
    images: list[str] = Field(default_factory=list)
    environment_variables: dict[str, str] | None = Field(default=None, repr=False)
    command: str | None = None
    arguments: str | None = None
    conditions: list[Condition] = Field(default_factory=list)
    phase: PhaseValue | None = None
    phase_message: str | None = None
    phase_updated_at: Timestamp | None = None
    additional_fields: dict[str, Any] | None = None


class RevisionList(RunaiModel):
    """`GET /api/v1/workloads/inferences/{id}/revisions`."""

    revisions: list[Revision]
