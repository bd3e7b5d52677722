"""The Run:ai calls the app makes, as a protocol: `RunaiClient` implements it, and so
does anything that stands in front of the client (the access room's policed client)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.runai import models
from bot.runai import observability as obs


class RunaiCalls(Protocol):
    """Model info, lookups, metrics and the three mutations of inference workloads."""

    async def model_info(self, model_name: str, hf_token: str | None = None) -> models.ModelInfo:
        """What the control plane knows about a Hugging Face model."""
        ...

    async def get_workload(self, workload_id: str) -> models.WorkloadDetailed:
        """One workload by id."""
        ...

    async def get_inference(self, workload_id: str) -> models.Inference:
        """One inference workload's spec and status by id."""
        ...

    async def find_inferences(
        self, name: str, *, project_id: str | None = None
    ) -> list[models.Workload]:
        """Inference workloads called `name`."""
        ...

    async def list_workloads(
        self,
        *,
        filter_by: Sequence[str] = (),
        limit: int = ...,
        offset: int = 0,
        sort_by: str | None = None,
    ) -> models.WorkloadPage:
        """One page of workloads matching `filter_by`."""
        ...

    async def list_projects(self) -> list[models.Project]:
        """Every project."""
        ...

    async def list_clusters(self) -> list[models.Cluster]:
        """Every cluster."""
        ...

    async def inference_metrics(
        self, workload_id: str, start: datetime, end: datetime
    ) -> models.MetricsResponse:
        """Throughput and latency of an inference."""
        ...

    async def pod_metrics(
        self, workload_id: str, pod_id: str, start: datetime, end: datetime
    ) -> models.MetricsResponse:
        """Throughput and latency of one pod of an inference."""
        ...

    async def workload_events(
        self,
        workload_id: str,
        *,
        limit: int = 50,
        offset: int = 0,
        sort_order: obs.EventsSortOrder | str = obs.EventsSortOrder.DESC,
    ) -> obs.EventsPage:
        """One page of a workload's events (newest first by default)."""
        ...

    async def workload_history(
        self, workload_id: str, *, limit: int = 50, offset: int = 0
    ) -> obs.HistoryPage:
        """One page of a workload's history (phase updates and events)."""
        ...

    async def workload_pods(
        self,
        workload_id: str,
        *,
        limit: int = 50,
        offset: int = 0,
        search: str | None = None,
        deleted: bool | None = None,
    ) -> obs.PodsPage:
        """One page of a workload's pods."""
        ...

    async def inference_revisions(
        self, workload_id: str, *, deleted: bool | None = None
    ) -> list[obs.Revision]:
        """An inference's revisions."""
        ...

    async def get_revision(self, revision_id: str) -> obs.Revision:
        """One inference revision."""
        ...

    async def create_inference(self, req: models.InferenceCreationRequest) -> models.Inference:
        """Create an inference workload."""
        ...

    async def update_inference(
        self, workload_id: str, req: models.InferenceUpdateRequest
    ) -> models.Inference:
        """PATCH an inference workload."""
        ...

    async def delete_inference(self, workload_id: str) -> None:
        """Delete an inference workload."""
        ...


class UsageReads(Protocol):
    """What the care loops (idle check, digest) read: pages of workloads and chosen
    inference metric series (`RunaiClient`)."""

    async def list_workloads(
        self,
        *,
        filter_by: Sequence[str] = (),
        limit: int = ...,
        offset: int = 0,
        sort_by: str | None = None,
    ) -> models.WorkloadPage:
        """A page of workloads."""
        ...

    async def inference_metrics(
        self,
        workload_id: str,
        start: datetime,
        end: datetime,
        *,
        metric_types: Sequence[models.MetricType | str] = ...,
        number_of_samples: int = ...,
    ) -> models.MetricsResponse:
        """Chosen throughput/latency series of an inference."""
        ...
