"""Pydantic models of the Run:ai API bodies the client sends and reads.

Attributes are snake_case; the wire names are the schema's camelCase (aliases). Unknown
fields are kept (``extra="allow"``), so a newer control plane never loses data on the way
through. Names and types follow ``openapi-inference-subset.json``.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)

from bot.utc import as_utc

INFERENCE_WORKLOAD_TYPE = "inference"
"""`Workload.type` of an inference workload."""

WORKLOAD_NAME_MAX = 63
WORKLOAD_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
"""A workload name Run:ai accepts: a Kubernetes DNS-1123 label (lower-case letters, digits
and `-`, starting and ending with a letter or digit, at most 63 characters; a leading digit
is allowed). The OpenAPI `WorkloadName` schema only says `minLength: 1`; the control plane
enforces the label rule, and `bot/emulator/validation.py` answers 400 by the same rule."""


def is_workload_name(text: str) -> bool:
    """Whether Run:ai would accept `text` as a workload name."""
    return WORKLOAD_NAME_RE.match(text) is not None


def _camel(name: str) -> str:
    # pydantic's to_camel turns "k8s_phase" into "k8SPhase"; the schema says "k8sPhase".
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


# The API mixes zoned ISO 8601 and naive "2023-06-06 12:09:18.211"; naive means UTC.
Timestamp = Annotated[datetime, AfterValidator(as_utc)]
"""A date-time that also accepts a space for the `T` and no zone (read as UTC)."""


def format_timestamp(moment: datetime) -> str:
    """A date-time as the API takes it (query, filterBy): ISO 8601 UTC, milliseconds, `Z`.

    A naive datetime is read as UTC.
    """
    return as_utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RunaiModel(BaseModel):
    """Base of every API model: camelCase on the wire, extra fields kept."""

    model_config = ConfigDict(
        alias_generator=_camel,
        populate_by_name=True,
        extra="allow",
        # Ids are strings in the schema but examples show `"projectId": 1`.
        coerce_numbers_to_str=True,
        # Validators are built on a model's first use, not at import: most of these models
        # are never used by an idle process (bench/startup.py).
        defer_build=True,
    )

    def to_api(self) -> dict[str, Any]:
        """The JSON body for the API: camelCase names, unset (None) fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


# --- enums -------------------------------------------------------------------------------


class Phase(StrEnum):
    """`Phase`: the actual phase of a workload."""

    CREATING = "Creating"
    INITIALIZING = "Initializing"
    RESUMING = "Resuming"
    PENDING = "Pending"
    DELETING = "Deleting"
    RUNNING = "Running"
    UPDATING = "Updating"
    STOPPED = "Stopped"
    STOPPING = "Stopping"
    DEGRADED = "Degraded"
    FAILED = "Failed"
    COMPLETED = "Completed"
    TERMINATING = "Terminating"
    UNKNOWN = "Unknown"


class DesiredPhase(StrEnum):
    """`WorkloadDesiredPhase`."""

    RUNNING = "Running"
    STOPPED = "Stopped"
    DELETED = "Deleted"


class MetricType(StrEnum):
    """`InferenceWorkloadMetricType` / `InferencePodMetricType` (metrics API, upper case)."""

    THROUGHPUT = "THROUGHPUT"
    LATENCY = "LATENCY"


class AutoscalingMetric(StrEnum):
    """Built-in autoscaling metrics (lower case; any custom metric name is allowed too)."""

    THROUGHPUT = "throughput"
    CONCURRENCY = "concurrency"
    LATENCY = "latency"


# A phase the schema does not know yet stays a plain string instead of failing the parse.
PhaseValue = Annotated[Phase | str, Field(union_mode="left_to_right")]
DesiredPhaseValue = Annotated[DesiredPhase | str, Field(union_mode="left_to_right")]


# --- auth --------------------------------------------------------------------------------


class TokenRequest(RunaiModel):
    """`TokenRequest` for the client-credentials grant."""

    grant_type: str = "client_credentials"
    client_id: str | None = Field(default=None, alias="clientID")
    client_secret: SecretStr | None = Field(default=None, alias="clientSecret")

    def to_api(self) -> dict[str, Any]:
        """The body with the secret revealed (it is a secret only in reprs and logs)."""
        body = super().to_api()
        if self.client_secret is not None:
            body["clientSecret"] = self.client_secret.get_secret_value()
        return body


class TokenResponse(RunaiModel):
    """`TokenResponse`."""

    access_token: SecretStr
    id_token: SecretStr | None = None
    refresh_token: SecretStr | None = None
    expires_in: int | None = None


# --- errors ------------------------------------------------------------------------------


class ErrorBody(RunaiModel):
    """`Error`: the body of every error response."""

    code: int
    message: str
    details: str | None = None


Error = ErrorBody


class HttpResponse(RunaiModel):
    """`HttpResponse` (e.g. the 202 body of a DELETE)."""

    code: int | None = None
    message: str | None = None


# --- model info --------------------------------------------------------------------------


class ModelInfoRequest(RunaiModel):
    """Body of the Hugging Face model-info call."""

    model_name: str
    hf_token: SecretStr | None = None
    request_min_memory_requirements: bool = True

    def to_api(self) -> dict[str, Any]:
        """The body with the token revealed (it is a secret only in reprs and logs)."""
        body = super().to_api()
        if self.hf_token is not None:
            body["hfToken"] = self.hf_token.get_secret_value()
        return body


def _ceil_mb(value: Any) -> Any:
    return math.ceil(value) if isinstance(value, float) else value


class ModelInfo(RunaiModel):
    """What the control plane knows about a Hugging Face model."""

    model_config = ConfigDict(protected_namespaces=())

    model_name: str
    pipeline_tag: str | None = None
    architectures: list[str] = Field(default_factory=list)
    vllm_supporting_versions: list[str] = Field(default_factory=list)
    min_memory_requirements_mb: Annotated[int | None, BeforeValidator(_ceil_mb)] = None


# --- inference spec parts ----------------------------------------------------------------


class NameValue(RunaiModel):
    """`Label` / `Annotation`: a name, a value and an `exclude` flag."""

    name: str | None = None
    value: str | None = None
    exclude: bool | None = None


Label = NameValue
Annotation = NameValue


class EnvironmentVariableSecret(RunaiModel):
    """`EnvironmentVariableSecret`: a value taken from a Kubernetes secret."""

    name: str | None = None
    key: str | None = None


class EnvironmentVariable(RunaiModel):
    """`EnvironmentVariable`. `value` may hold a secret, so it stays out of reprs."""

    name: str | None = None
    value: str | None = Field(default=None, repr=False)
    secret: EnvironmentVariableSecret | None = None
    config_map: dict[str, Any] | None = None
    pod_field_ref: dict[str, Any] | None = None
    user_credential: dict[str, Any] | None = None
    exclude: bool | None = None
    description: str | None = None


class ServingPort(RunaiModel):
    """`ServingPort`: the container port the inference serves on."""

    container: int | None = Field(default=None, ge=1, le=65535)
    protocol: str | None = None  # http | grpc
    authorization_type: str | None = None
    authorized_users: list[str] | None = None
    authorized_groups: list[str] | None = None
    cluster_local_access_only: bool | None = None


class Compute(RunaiModel):
    """The `compute` part of an inference spec (resources)."""

    cpu_core_limit: float | None = None
    cpu_core_request: float | None = None
    cpu_memory_limit: str | None = None
    cpu_memory_request: str | None = None
    extended_resources: list[dict[str, Any]] | None = None
    gpu_devices_request: int | None = None
    gpu_memory_limit: str | None = None
    gpu_memory_request: str | None = None
    gpu_portion_limit: float | None = None
    gpu_portion_request: float | None = None
    gpu_request_type: str | None = None  # portion | memory | migProfile
    large_shm_request: bool | None = None


def effective_max_replicas(min_replicas: int | None, max_replicas: int | None) -> int:
    """Max replicas as Run:ai applies them: the max when set, else the min (itself 1 when
    unset), and at least 1 (`maxReplicas` defaults to `minReplicas`, or 1 when that is 0;
    FACTS.md §5)."""
    if max_replicas is not None:
        return max_replicas
    return max(min_replicas if min_replicas is not None else 1, 1)


class AutoScaling(RunaiModel):
    """`AutoScaling` (FACTS.md §5). Every field is optional and nullable."""

    min_replicas: int | None = Field(default=None, ge=0)
    max_replicas: int | None = Field(default=None, ge=1)
    initial_replicas: int | None = Field(default=None, ge=0)
    activation_replicas: int | None = Field(default=None, ge=1)
    concurrency_hard_limit: int | None = Field(default=None, ge=0)
    scale_to_zero_retention_seconds: int | None = Field(default=None, ge=0, le=3600)
    scale_down_delay_seconds: int | None = Field(default=None, ge=0, le=3600)
    initialization_timeout_seconds: int | None = Field(default=None, ge=1)
    metric: str | None = Field(default=None, pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    metric_threshold: int | None = None
    metric_threshold_percentage: float | None = Field(default=None, ge=1, le=100)

    @property
    def effective_min(self) -> int:
        """Min replicas as Run:ai applies them: 1 when unset (FACTS.md §5)."""
        return self.min_replicas if self.min_replicas is not None else 1

    @property
    def effective_max(self) -> int:
        """Max replicas as Run:ai applies them (FACTS.md §5)."""
        return effective_max_replicas(self.min_replicas, self.max_replicas)


class ServingConfiguration(RunaiModel):
    """`ServingConfiguration`."""

    initialization_timeout_seconds: int | None = Field(default=None, ge=1)
    request_timeout_seconds: int | None = Field(default=None, ge=1)


class Toleration(RunaiModel):
    """`Toleration`."""

    name: str | None = None
    operator: str | None = None
    key: str | None = None
    value: str | None = None
    effect: str | None = None
    seconds: int | None = None
    exclude: bool | None = None


class InferenceSpecSpec(RunaiModel):
    """`InferenceSpecSpec`: what to run. `image` and `serving_port.container` are needed."""

    image: str | None = None
    command: str | None = None
    args: str | None = None
    environment_variables: list[EnvironmentVariable] | None = None
    serving_port: ServingPort | None = None
    compute: Compute | None = None
    autoscaling: AutoScaling | None = None
    serving_configuration: ServingConfiguration | None = None
    labels: list[NameValue] | None = None
    annotations: list[NameValue] | None = None
    category: str | None = None
    create_home_dir: bool | None = None
    image_pull_policy: str | None = None  # Always | Never | IfNotPresent
    image_pull_secrets: list[dict[str, Any]] | None = None
    node_pools: list[str] | None = None
    node_type: str | None = None
    node_affinity_required: dict[str, Any] | None = None
    pod_affinity: dict[str, Any] | None = None
    preemptibility: str | None = None  # preemptible | non-preemptible
    priority_class: str | None = None
    probes: dict[str, Any] | None = None
    tolerations: list[Toleration] | None = None
    working_dir: str | None = None
    ports: list[dict[str, Any]] | None = None
    exposed_urls: list[dict[str, Any]] | None = None
    related_urls: list[dict[str, Any]] | None = None
    security: dict[str, Any] | None = None
    storage: dict[str, Any] | None = None


class InferenceUpdateSpec(RunaiModel):
    """The `spec` of an `InferenceUpdateRequest`: only the patchable fields."""

    image: str | None = None
    command: str | None = None
    args: str | None = None
    environment_variables: list[EnvironmentVariable] | None = None
    compute: Compute | None = None
    autoscaling: AutoScaling | None = None
    serving_configuration: ServingConfiguration | None = None
    category: str | None = None
    create_home_dir: bool | None = None
    image_pull_policy: str | None = None
    image_pull_secrets: list[dict[str, Any]] | None = None
    node_affinity_required: dict[str, Any] | None = None
    node_pools: list[str] | None = None
    node_type: str | None = None
    pod_affinity: dict[str, Any] | None = None
    preemptibility: str | None = None
    priority_class: str | None = None
    probes: dict[str, Any] | None = None
    working_dir: str | None = None


# --- inference requests and responses ----------------------------------------------------


class InferenceCreationRequest(RunaiModel):
    """`InferenceCreationRequest` = `WorkloadCreationMeta` + `templateId` + `spec`."""

    name: str = Field(min_length=1)
    project_id: str
    cluster_id: str
    use_given_name_as_prefix: bool | None = None
    template_id: str | None = None
    spec: InferenceSpecSpec


class InferenceUpdateRequest(RunaiModel):
    """`InferenceUpdateRequest`: a PATCH; scaling is `spec.autoscaling`."""

    spec: InferenceUpdateSpec


class Inference(RunaiModel):
    """`Inference1` = `WorkloadMeta1` + `spec`: what create, get and PATCH return."""

    name: str
    requested_name: str | None = None
    workload_id: str
    project_id: str
    department_id: str | None = None
    cluster_id: str
    created_by: str | None = None
    created_at: Timestamp | None = None
    deleted_at: Timestamp | None = None
    desired_phase: DesiredPhaseValue | None = None
    actual_phase: PhaseValue | None = None
    spec: InferenceSpecSpec | None = None


Inference1 = Inference


# --- workloads ---------------------------------------------------------------------------


class Condition(RunaiModel):
    """`Condition1`: one condition of a workload."""

    type: str
    status: str
    message: str | None = None
    reason: str | None = None
    last_transition_time: Timestamp | None = None


class RequestedPods(RunaiModel):
    """`RequestedPods`."""

    number: int | None = None
    min: int | None = None
    max: int | None = None
    parallelism: int | None = None
    completions: int | None = None


class Workload(RunaiModel):
    """`Workload`: an item of the workloads list (any workload type).

    The schema requires more fields than are typed as required here: a control plane
    that leaves one out should still be readable.
    """

    id: str
    name: str
    type: str
    phase: PhaseValue | None = None
    phase_message: str | None = None
    phase_reason: str | None = None
    phase_updated_at: Timestamp | None = None
    k8s_phase: str | None = None
    k8s_phase_updated_at: Timestamp | None = None
    project_id: str | None = None
    project_name: str | None = None
    department_id: str | None = None
    department_name: str | None = None
    cluster_id: str | None = None
    tenant_id: int | None = None
    namespace: str | None = None
    source: str | None = None
    category: str | None = None
    priority: int | None = None
    priority_class_name: str | None = None
    running_pods: int | None = None
    requested_pods: RequestedPods | None = None
    urls: list[str] = Field(default_factory=list)
    images: list[str] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    deleted_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    submitted_by: str | None = None
    preemptible: bool | None = None


class WorkloadDetailed(Workload):
    """`WorkloadDetailed` = `Workload` + `pendingSchedulingMessages`."""

    pending_scheduling_messages: list[dict[str, Any]] | None = None


class WorkloadPage(RunaiModel):
    """One page of `GET /api/v1/workloads`; `next` is the offset of the next page."""

    workloads: list[Workload]
    next: int | None = None


# --- metrics -----------------------------------------------------------------------------


def _samples(values: Any) -> Any:
    """A series' raw samples before validation: null is an empty series; a sample whose
    value is an empty string (the API's "no sample") gets `None`.

    Done once per series rather than by a validator per sample: a validator written in
    Python costs a call per sample, and the care loops read hundreds of series a check.
    """
    if values is None:
        return []
    if not isinstance(values, list):
        return values
    return [
        {**v, "value": None}
        if isinstance(v, dict) and isinstance(v.get("value"), str) and not v["value"].strip()
        else v
        for v in values
    ]


class MetricValue(RunaiModel):
    """One sample: `value` parsed from the API's string to float (an empty string, no
    sample, is None when the sample comes within a `Measurement`)."""

    value: float | None
    timestamp: datetime | None = None


class Measurement(RunaiModel):
    """`MeasurementResponse`: one series."""

    type: str
    labels: dict[str, str] | None = None
    # `values` is nullable in the schema; null means an empty series.
    values: Annotated[list[MetricValue], BeforeValidator(_samples)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _utc_samples(self) -> Self:
        # A sample time without a zone means UTC (as `Timestamp`), set here in one pass.
        for sample in self.values:
            at = sample.timestamp
            if at is not None and at.tzinfo is None:
                sample.timestamp = at.replace(tzinfo=UTC)
        return self


MeasurementResponse = Measurement


class MetricsResponse(RunaiModel):
    """`MetricsResponse`."""

    measurements: list[Measurement]


# --- org units ---------------------------------------------------------------------------


class Project(RunaiModel):
    """`Project` (fields beyond these are kept as extras)."""

    id: str
    name: str
    cluster_id: str | None = None
    parent_id: str | None = None
    description: str | None = None
    status: dict[str, Any] | None = None
    created_at: Timestamp | None = None


class ProjectPage(RunaiModel):
    """One page of `GET /api/v1/org-unit/projects`."""

    projects: list[Project]
    next: int | None = None


class Cluster(RunaiModel):
    """`DisplayedCluster`."""

    uuid: str
    name: str
    tenant_id: int | None = None
    created_at: Timestamp | None = None
    domain: str | None = None
    version: str | None = None
    status: dict[str, Any] | None = None


DisplayedCluster = Cluster
