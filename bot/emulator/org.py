"""The seeded organisation: one cluster and two projects, as the API describes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.emulator.clock import iso

CLUSTER_ID = "71f69d83-ba66-4822-adf5-55ce55efd210"
CLUSTER_NAME = "emulated-cluster"
TENANT_ID = 1001
DEPARTMENT_ID = "2e0c1b7a-6c1f-4a39-9a43-3f2b7b1d5e10"
DEPARTMENT_NAME = "default"
# Run:ai's seeded department id is numeric in workload listings; keep the same kind.
WORKLOAD_DEPARTMENT_ID = "1"


@dataclass(frozen=True)
class ProjectInfo:
    """A project workloads can be submitted to."""

    id: str
    name: str
    cluster_id: str = CLUSTER_ID
    gpu_quota: float = 8.0

    @property
    def namespace(self) -> str:
        """Kubernetes namespace Run:ai gives the project."""
        return f"runai-{self.name}"


SEEDED_PROJECTS = (ProjectInfo("1", "team-a"), ProjectInfo("2", "team-b"))


def project_body(project: ProjectInfo, created_at: float) -> dict[str, Any]:
    """A `Project` as `GET /api/v1/org-unit/projects` lists it."""
    stamp = iso(created_at)
    return {
        "id": project.id,
        "name": project.name,
        "description": f"Project {project.name}",
        "clusterId": project.cluster_id,
        "parentId": DEPARTMENT_ID,
        "parent": {"id": DEPARTMENT_ID, "name": DEPARTMENT_NAME},
        "requestedNamespace": project.namespace,
        "enforceRunaiScheduler": True,
        "createdAt": stamp,
        "updatedAt": stamp,
        "createdBy": "admin@run.ai",
        "updatedBy": "admin@run.ai",
        "status": {
            "namespace": project.namespace,
            "phase": "Ready",
            "phaseMessage": "Project is ready",
            "lastUpdatedTime": stamp,
        },
        "totalResources": {"gpuQuota": project.gpu_quota, "cpuQuota": None, "memoryQuota": None},
        "effective": {},
        "resources": [
            {
                "nodePool": {"id": "22", "name": "default"},
                "gpu": {"deserved": project.gpu_quota, "limit": None, "overQuotaWeight": 2},
            }
        ],
    }


def cluster_body(created_at: float, now: float) -> dict[str, Any]:
    """The seeded cluster as a `DisplayedCluster`."""
    return {
        "uuid": CLUSTER_ID,
        "tenantId": TENANT_ID,
        "name": CLUSTER_NAME,
        "createdAt": iso(created_at),
        "updatedAt": iso(created_at),
        "domain": "https://emulated-cluster.runai.local",
        "version": "2.22.0",
        "status": {"state": "Connected"},
        "lastLiveness": iso(now),
        "deletedAt": None,
        "deleteRequestedAt": None,
    }
