"""The Run:ai API routes the emulator serves (paths and bodies of the schema subset)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.emulator import catalog, filtering, history, metrics
from bot.emulator.errors import bad_request, not_found
from bot.emulator.org import DEPARTMENT_ID, DEPARTMENT_NAME, cluster_body, project_body
from bot.emulator.requests import json_body
from bot.emulator.state import EmulatorState, WorkloadRecord
from bot.emulator.tokens import TokenIssuer
from bot.emulator.views import (
    INFERENCE_TYPE,
    inference_body,
    pod_bodies,
    revision_body,
    workload_body,
)

TOKEN_PATH = "/api/v1/token"
INFERENCES = "/api/v1/workloads/inferences"
INFERENCE = INFERENCES + "/{workloadId}"
WORKLOAD = "/api/v1/workloads/{workloadId}"
ACCEPTED = {"code": 202, "message": "Request has been accepted."}


def subject(request: Request) -> str:
    """Who the bearer token was issued to (set by the gateway middleware)."""
    return str(getattr(request.state, "subject", "unknown"))


def workload_getters(state: EmulatorState) -> dict[str, filtering.Getter]:
    """Field → value accessors for filterBy/sortBy on workload records."""

    def phase(record: WorkloadRecord) -> str:
        current = record.status(state.now())
        return current[0] if current is not None else "Deleting"

    def phase_updated(record: WorkloadRecord) -> float:
        current = record.status(state.now())
        return current[1] if current is not None else record.timeline.anchor

    def allocated_gpu(record: WorkloadRecord) -> float:
        return 0.0 if record.gone(state.now()) else metrics.gpu_allocation(record, state.now())

    def idle_gpus(record: WorkloadRecord) -> float:
        return 0.0 if record.gone(state.now()) else metrics.idle_gpus(record, state.now())

    return {
        "type": lambda _: INFERENCE_TYPE,
        "name": lambda r: r.name,
        "clusterId": lambda r: r.project.cluster_id,
        "projectId": lambda r: r.project.id,
        "projectName": lambda r: r.project.name,
        "departmentId": lambda _: "1",
        "departmentName": lambda _: "default",
        "createdAt": lambda r: r.created_at,
        "deletedAt": lambda r: r.deleted_at(state.now()),
        "submittedBy": lambda r: r.created_by,
        "phase": phase,
        "phaseUpdatedAt": phase_updated,
        "category": lambda r: str(r.spec.get("category") or "Deploy"),
        "priority": lambda _: 100.0,
        "priorityClassName": lambda _: "inference",
        "nodepool": lambda _: "default",
        "allocatedGPU": allocated_gpu,
        "idleAllocatedGpus": idle_gpus,
        "idleGpus": lambda r: float(round(idle_gpus(r))),
    }


def api_routes(state: EmulatorState, issuer: TokenIssuer, model_info_path: str) -> list[Route]:
    """Every /api route, bound to one state."""
    getters = workload_getters(state)

    async def token(request: Request) -> Response:
        return JSONResponse(issuer.grant(await json_body(request)))

    async def create_inference(request: Request) -> Response:
        record = state.create(await json_body(request), subject(request))
        return JSONResponse(inference_body(record, state.now()), status_code=202)

    async def get_inference(request: Request) -> Response:
        record = state.get(request.path_params["workloadId"])
        return JSONResponse(inference_body(record, state.now()))

    async def update_inference(request: Request) -> Response:
        record = state.get(request.path_params["workloadId"])
        record = state.update(record.id, await json_body(request))
        return JSONResponse(inference_body(record, state.now()), status_code=202)

    async def delete_inference(request: Request) -> Response:
        state.delete(request.path_params["workloadId"])
        return JSONResponse(ACCEPTED, status_code=202)

    def metrics_query(request: Request) -> metrics.MetricsQuery:
        return metrics.parse_query(
            request.query_params.getlist("metricType"), dict(request.query_params)
        )

    def page(request: Request, key: str, rows: list[Any]) -> Response:
        """`{key: rows[offset:offset+limit], next?}` with the API's offset/limit."""
        offset, limit = filtering.paging(request.query_params)
        body: dict[str, Any] = {key: rows[offset : offset + limit]}
        if offset + limit < len(rows):
            body["next"] = offset + limit
        return JSONResponse(body)

    def metrics_answer(request: Request, body: dict[str, Any]) -> Response:
        """200; or, under a 207 fault, 207 "Partial success" with the first series only."""
        if getattr(request.state, "partial", False):
            return JSONResponse({"measurements": body["measurements"][:1]}, status_code=207)
        return JSONResponse(body)

    async def inference_metrics(request: Request) -> Response:
        record = state.get(request.path_params["workloadId"])
        body = metrics.measurements(record, metrics_query(request))
        return metrics_answer(request, body)

    async def pod_metrics(request: Request) -> Response:
        record = state.get(request.path_params["workloadId"])
        pod = request.path_params["podId"]
        pods = record.pod_ids(state.now())
        if pod not in pods:
            raise not_found(f"Pod {pod} not found in workload {record.id}.")
        query = metrics_query(request)
        body = metrics.measurements(record, query, pod=pods.index(pod), labels={"podId": pod})
        return metrics_answer(request, body)

    async def workload_metrics(request: Request) -> Response:
        record = state.get(request.path_params["workloadId"])
        query = metrics.parse_query(
            request.query_params.getlist("metricType"),
            dict(request.query_params),
            metrics.WORKLOAD_METRIC_TYPES,
            "workload metrics",
        )
        return metrics_answer(request, metrics.measurements(record, query))

    async def workload_events(request: Request) -> Response:
        record = state.get(request.path_params["workloadId"])
        order = request.query_params.get("sortOrder") or "desc"
        if order not in ("asc", "desc"):
            raise bad_request(f"Bad request - sortOrder must be asc or desc, got {order!r}")
        return page(request, "events", history.events(record, state.now(), order))

    async def workload_history(request: Request) -> Response:
        record = state.get(request.path_params["workloadId"])
        return page(request, "records", history.history(record, state.now()))

    async def workload_pods(request: Request) -> Response:
        record = state.get(request.path_params["workloadId"])
        # The emulator keeps no pods once they are gone: deleted=true lists none.
        deleted = filtering.parse_bool(request.query_params, "deleted")
        pods = [] if deleted else pod_bodies(record, state.now())
        search = request.query_params.get("search")
        if search:
            pods = [p for p in pods if search.lower() in p["name"].lower()]
        return page(request, "pods", pods)

    async def inference_revisions(request: Request) -> Response:
        now = state.now()
        deleted = bool(filtering.parse_bool(request.query_params, "deleted"))
        record = state.get_any(request.path_params["workloadId"])
        if record.gone(now) != deleted:
            if not deleted:
                raise not_found(f"Workload {record.id} not found.")
            return JSONResponse({"revisions": []})
        revisions = [revision_body(record, r, now) for r in record.revisions]
        return JSONResponse({"revisions": revisions})

    async def get_revision(request: Request) -> Response:
        record, revision = state.revision(request.path_params["revisionId"])
        return JSONResponse(revision_body(record, revision, state.now()))

    async def list_workloads(request: Request) -> Response:
        query = request.query_params
        filters = filtering.parse_filters(
            filtering.split_params(query.getlist("filterBy")),
            filtering.WORKLOAD_FIELDS,
            filtering.WORKLOAD_DATE_FIELDS,
        )
        deleted = bool(filtering.parse_bool(query, "deleted"))
        sort_by, order = filtering.sort_params(query, filtering.WORKLOAD_FIELDS)
        offset, limit = filtering.paging(query)
        now = state.now()
        rows = [r for r in state.iter_records() if r.gone(now) == deleted]
        search = query.get("search")
        if search:
            rows = [r for r in rows if search.lower() in r.name.lower()]
        rows = filtering.apply(rows, filters, getters)
        filtering.sort_rows(rows, sort_by, order, getters.get(sort_by) if sort_by else None)
        page = rows[offset : offset + limit]
        body: dict[str, Any] = {"workloads": [workload_body(r, now) for r in page]}
        if offset + limit < len(rows):
            body["next"] = offset + limit
        return JSONResponse(body)

    async def get_workload(request: Request) -> Response:
        record = state.get(request.path_params["workloadId"])
        return JSONResponse(workload_body(record, state.now(), detailed=True))

    async def list_projects(request: Request) -> Response:
        query = request.query_params
        filters = filtering.parse_filters(
            filtering.split_params(query.getlist("filterBy")),
            filtering.PROJECT_FIELDS,
            filtering.PROJECT_DATE_FIELDS,
        )
        offset, limit = filtering.paging(query)
        project_getters: dict[str, filtering.Getter] = {
            "name": lambda p: p.name,
            "clusterId": lambda p: p.cluster_id,
            "parentName": lambda _: DEPARTMENT_NAME,
            "parentId": lambda _: DEPARTMENT_ID,
            "departmentId": lambda _: DEPARTMENT_ID,
            "phase": lambda _: "Ready",
            "totalGpuQuota": lambda p: p.gpu_quota,
            "createdAt": lambda _: state.started_at,
        }
        rows = filtering.apply(state.projects.values(), filters, project_getters)
        sort_by, order = filtering.sort_params(query, filtering.PROJECT_FIELDS)
        filtering.sort_rows(rows, sort_by, order, project_getters.get(sort_by or ""))
        page = rows[offset : offset + limit]
        body: dict[str, Any] = {"projects": [project_body(p, state.started_at) for p in page]}
        if offset + limit < len(rows):
            body["next"] = offset + limit
        return JSONResponse(body)

    async def list_clusters(request: Request) -> Response:
        return JSONResponse([cluster_body(state.started_at, state.now())])

    async def model_info(request: Request) -> Response:
        return JSONResponse(catalog.model_info(await json_body(request)))

    table: list[tuple[str, Callable[[Request], Any], list[str]]] = [
        (TOKEN_PATH, token, ["POST"]),
        (model_info_path, model_info, ["POST"]),
        (INFERENCES, create_inference, ["POST"]),
        (INFERENCE, get_inference, ["GET"]),
        (INFERENCE, update_inference, ["PATCH"]),
        (INFERENCE, delete_inference, ["DELETE"]),
        (INFERENCE + "/metrics", inference_metrics, ["GET"]),
        (INFERENCE + "/pods/{podId}/metrics", pod_metrics, ["GET"]),
        (INFERENCES + "/revisions/{revisionId}", get_revision, ["GET"]),
        (INFERENCE + "/revisions", inference_revisions, ["GET"]),
        ("/api/v1/workloads", list_workloads, ["GET"]),
        (WORKLOAD, get_workload, ["GET"]),
        (WORKLOAD + "/metrics", workload_metrics, ["GET"]),
        (WORKLOAD + "/events", workload_events, ["GET"]),
        (WORKLOAD + "/history", workload_history, ["GET"]),
        (WORKLOAD + "/pods", workload_pods, ["GET"]),
        ("/api/v1/org-unit/projects", list_projects, ["GET"]),
        ("/api/v1/clusters", list_clusters, ["GET"]),
    ]
    return [Route(path, endpoint, methods=methods) for path, endpoint, methods in table]
