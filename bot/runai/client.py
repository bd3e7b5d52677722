"""`RunaiClient`: a typed async client for the Run:ai inference API.

Requests go out through a `Wire` (transport.py): aiohttp by default, any httpx transport
when one is given. Bodies are the pydantic models of models.py, sent with camelCase names
and without unset fields. Every call is logged at DEBUG as `runai call` with op, method,
status (or the exception name), latency_ms and attempt; never a header, body or query.

Retry policy, in one place:
- GET, PATCH, DELETE (and the read-only model-info and token calls) are retried with
  exponential backoff and full jitter after connection errors, timeouts and 502/503/504,
  up to `max_retries` times; then `UnavailableError`.
- A create (POST) is never blindly retried. After an ambiguous failure (timeout, connection
  lost after sending, 502/503/504) the client looks the name up in the project; if the
  workload is there it is returned, else the POST is tried again. A 409 on such a retry
  means our earlier attempt got through, so the lookup decides again.
- 4xx answers are never retried, except one transparent retry after a 401 with a fresh
  token (the cached one expired or was revoked).
- A DELETE that answers 404 after an earlier attempt of the same call was lost counts as
  done: the lost attempt deleted it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from datetime import datetime
from json import dumps as _dumps
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, overload
from urllib.parse import quote, urlencode

from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError

from bot.runai import errors, models
from bot.runai import observability as obs
from bot.runai.auth import TOKEN_PATH, TokenManager
from bot.runai.transport import AiohttpWire, Reply, Wire, WireError

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger("bot.runai")
M = TypeVar("M")
B = TypeVar("B", bound=BaseModel)

# Where a cluster serves model info; settings may move it (RUNAI_MODEL_INFO_PATH).
DEFAULT_MODEL_INFO_PATH = "/api/v1/workloads/inferences/model-info"
INFERENCES_PATH = "/api/v1/workloads/inferences"
WORKLOADS_PATH = "/api/v1/workloads"
PROJECTS_PATH = "/api/v1/org-unit/projects"
CLUSTERS_PATH = "/api/v1/clusters"

MAX_PAGE_SIZE = 500  # `limit` of GET /api/v1/workloads: 1..500
MAX_SAMPLES = 1000  # `numberOfSamples`: 0..1000
_HEADERS = {"Accept": "application/json", "User-Agent": "inference-bot-runai"}
RETRY_STATUSES = frozenset({502, 503, 504})
# A route-level "no such path" message, as opposed to "no such model" (see model_info).
_ROUTE_MISS = re.compile(
    r"^(404 )?(page |route |path |resource )?not found\b"
    r"|^cannot (post|get)\b|^no (such )?route\b|^method \S+ (is )?not allowed\b"
)
_CLUSTERS: TypeAdapter[list[models.Cluster]] = TypeAdapter(list[models.Cluster])


@overload
def _parse(schema: type[B], response: Reply) -> B: ...
@overload
def _parse(schema: TypeAdapter[M], response: Reply) -> M: ...
def _parse(schema: Any, response: Reply) -> Any:
    """The response body as `schema`; a body that does not fit is a `RunaiError`."""
    try:
        if isinstance(schema, TypeAdapter):
            return schema.validate_json(response.content)
        return schema.model_validate_json(response.content)
    except ValidationError as exc:
        raise errors.RunaiError(
            response.status_code,
            "the Run:ai API answered with an unexpected body",
            f"{exc.error_count()} validation error(s), first at "
            f"{'.'.join(map(str, exc.errors()[0]['loc'])) or 'the top level'}",
        ) from None


def _seg(value: str) -> str:
    """A path segment, percent-encoded: an id from chat can never change the path."""
    if not value:
        raise ValueError("an id must not be empty")
    return quote(value, safe="")


def _transport_failure(exc: WireError, op: str) -> errors.UnavailableError:
    if exc.timed_out:
        return errors.UnavailableError(503, f"{op}: the Run:ai API did not answer in time")
    return errors.UnavailableError(503, f"{op}: could not reach the Run:ai API", type(exc).__name__)


def _is_route_miss(status: int, content: bytes) -> bool:
    """Did the model-info path answer as a missing route (not as a missing model)?"""
    if status in (405, 501):
        return True
    if status != 404:
        return False
    if not content.lstrip().startswith(b"{"):
        return True  # not the API's JSON `Error`: a proxy or framework page
    _, message, _ = errors.parse_error_body(status, content)
    return bool(_ROUTE_MISS.search(message.strip().rstrip(".").lower()))


def _page(limit: int, offset: int) -> dict[str, Any]:
    """`limit`/`offset` of a paged GET, checked against the schema's bounds."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be within 1..{MAX_PAGE_SIZE}")
    if offset < 0:
        raise ValueError("offset must be >= 0")
    return {"limit": limit, "offset": offset}


class RunaiClient:
    """Async client for the Run:ai control-plane API (inference workloads)."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        model_info_path: str = DEFAULT_MODEL_INFO_PATH,
        timeout: float = 10.0,
        max_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        wire: Wire | None = None,
        backoff_base: float = 0.2,
        backoff_max: float = 5.0,
        max_connections: int = 100,
        observer: Callable[[str, int, float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self._model_info_path = "/" + model_info_path.lstrip("/")
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        # aiohttp by default; an httpx transport when given (mocks, proxies); `wire`
        # replaces both (tests wrap the default one to record every exchange).
        if wire is not None:
            self._wire: Wire = wire
        elif transport is not None:
            from bot.runai.httpx_wire import HttpxWire  # httpx only for this (~2 MB)

            self._wire = HttpxWire(transport)
        else:
            self._wire = AiohttpWire(max_connections=max_connections)
        self._timeout = timeout
        # Told (operation, HTTP status or 0 when no answer, seconds) after every exchange.
        self._observer = observer
        # `clock` times the token's life (tests move it instead of waiting for expiry).
        self._auth = TokenManager(
            self._fetch_token, client_id, SecretStr(client_secret), clock=clock
        )

    def __repr__(self) -> str:
        return f"RunaiClient(base_url={self.base_url!r}, auth={self._auth!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._wire.aclose()

    @property
    def token_refreshes(self) -> int:
        """How many token exchanges this client has made (for tests and metrics)."""
        return self._auth.refreshes

    async def check_auth(self) -> None:
        """Make sure a token can be had (the cached one, or a fresh exchange)."""
        await self._auth.token()

    # --- plumbing ----------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**(attempt-1))]."""
        ceiling = min(self._backoff_max, self._backoff_base * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)

    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        op: str,
        json: Any,
        params: dict[str, Any] | None,
        headers: dict[str, str] | None,
        attempt: int,
    ) -> Reply:
        url = self.base_url + path
        if params:
            url = f"{url}?{urlencode(params)}"
        content: bytes | None = None
        sent = dict(headers) if headers else {}
        sent.update(_HEADERS)
        if json is not None:
            content = _dumps(json, separators=(",", ":"), ensure_ascii=False).encode()
            sent["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            response = await self._wire.send(method, url, sent, content, self._timeout)
        except WireError as exc:
            self._note_exchange(op, method, attempt, started, 0, type(exc).__name__)
            raise
        self._note_exchange(op, method, attempt, started, response.status_code)
        return response

    def _note_exchange(
        self,
        op: str,
        method: str,
        attempt: int,
        started: float,
        status: int,
        failure: str | None = None,
    ) -> None:
        """Tell the observer and the DEBUG log about one exchange (status 0: no answer)."""
        elapsed = time.perf_counter() - started
        if self._observer is not None:
            self._observer(op, status, elapsed)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "runai call",
                extra={
                    "op": op,
                    "method": method,
                    "status": failure or status,
                    "latency_ms": round(elapsed * 1000, 1),
                    "attempt": attempt,
                },
            )

    async def _send(
        self,
        method: str,
        path: str,
        *,
        op: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        auth: bool = True,
        attempt: int = 0,
    ) -> Reply:
        """One exchange; with `auth`, a 401 gets one retry with a fresh token."""
        if not auth:
            return await self._exchange(
                method, path, op=op, json=json, params=params, headers=None, attempt=attempt
            )
        token = await self._auth.token()
        response = await self._exchange(
            method,
            path,
            op=op,
            json=json,
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            attempt=attempt,
        )
        if response.status_code != 401:
            return response
        await self._auth.invalidate(token)
        token = await self._auth.token()
        return await self._exchange(
            method,
            path,
            op=op,
            json=json,
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            attempt=attempt,
        )

    async def _call(
        self,
        method: str,
        path: str,
        *,
        op: str,
        ok: Collection[int] = (200,),
        json: Any = None,
        params: dict[str, Any] | None = None,
        auth: bool = True,
    ) -> Reply:
        """An idempotent call: retried after transport failures and 502/503/504.

        Returns the response when its status is in `ok`; raises the mapped error otherwise.
        """
        failure: errors.RunaiError | None = None
        ambiguous = False
        for attempt in range(self._max_retries + 1):
            if attempt:
                await asyncio.sleep(self._backoff(attempt))
            try:
                response = await self._send(
                    method, path, op=op, json=json, params=params, auth=auth, attempt=attempt
                )
            except WireError as exc:
                failure = _transport_failure(exc, op)
                ambiguous = ambiguous or exc.sent
                continue
            status = response.status_code
            if status in ok:
                return response
            if status in RETRY_STATUSES:
                failure = errors.error_from_response(status, response.content)
                ambiguous = True
                continue
            if method == "DELETE" and status == 404 and ambiguous:
                # An earlier attempt that we lost track of did the delete.
                return response
            raise errors.error_from_response(status, response.content)
        assert failure is not None
        raise failure

    async def _fetch_token(self, request: models.TokenRequest) -> models.TokenResponse:
        """The client-credentials exchange (`POST /api/v1/token`, no bearer)."""
        try:
            response = await self._call(
                "POST", TOKEN_PATH, op="token", json=request.to_api(), auth=False
            )
        except (errors.InvalidRequestError, errors.ForbiddenError, errors.NotFoundError) as exc:
            # The token endpoint answers bad credentials with 400 (the spec) or 401/403.
            raise errors.UnauthorizedError(exc.code, exc.message, exc.details).redact(
                request.client_secret.get_secret_value() if request.client_secret else None
            ) from None
        except errors.RunaiError as exc:
            raise exc.redact(
                request.client_secret.get_secret_value() if request.client_secret else None
            ) from None
        return _parse(models.TokenResponse, response)

    # --- model info --------------------------------------------------------------------

    async def model_info(self, model_name: str, hf_token: str | None = None) -> models.ModelInfo:
        """What the control plane knows about a Hugging Face model (name, task, memory).

        Raises `ModelInfoUnavailableError` when the control plane has no model-info route:
        405 and 501 always; a 404 when its body is not the API's JSON `Error` (a proxy or
        framework page) or its message is a generic route miss ("Not Found", "404 page not
        found", "Route not found: …", "Cannot POST …"). Any other 404 names the model and
        raises `NotFoundError`. A gated model without a good `hf_token` raises the usual
        `UnauthorizedError`/`ForbiddenError` carrying the hub's message.
        """
        request = models.ModelInfoRequest(
            model_name=model_name, hf_token=SecretStr(hf_token) if hf_token else None
        )
        try:
            response = await self._call(
                "POST",
                self._model_info_path,
                op="model_info",
                ok=(200, 404, 405, 501),
                json=request.to_api(),
            )
            status = response.status_code
            if status == 200:
                return _parse(models.ModelInfo, response)
            if _is_route_miss(status, response.content):
                code, message, _ = errors.parse_error_body(status, response.content)
                raise errors.ModelInfoUnavailableError(
                    code,
                    "this Run:ai control plane has no model-info endpoint",
                    f"{self._model_info_path} answered {status}: {message}",
                )
            raise errors.error_from_response(status, response.content)
        except errors.RunaiError as exc:
            # A server may quote the request back in its error; the token must not travel.
            raise exc.redact(hf_token) from None

    # --- inferences --------------------------------------------------------------------

    async def create_inference(self, req: models.InferenceCreationRequest) -> models.Inference:
        """Submit an inference workload (202). Never creates it twice; see module doc."""
        body = req.to_api()
        failure: errors.RunaiError | None = None
        ambiguous = False
        for attempt in range(self._max_retries + 1):
            if attempt:
                await asyncio.sleep(self._backoff(attempt))
            try:
                response = await self._send(
                    "POST", INFERENCES_PATH, op="create_inference", json=body, attempt=attempt
                )
            except WireError as exc:
                failure = _transport_failure(exc, "create_inference")
                if not exc.sent:  # never left this machine: a retry cannot duplicate it
                    continue
            else:
                status = response.status_code
                if status in (200, 201, 202):
                    return _parse(models.Inference, response)
                if status == 409 and ambiguous:
                    found = await self._find_created(req)
                    if found is not None:
                        return found
                if status not in RETRY_STATUSES:
                    raise errors.error_from_response(status, response.content)
                failure = errors.error_from_response(status, response.content)
            # Ambiguous: the workload may exist now. Look before trying again.
            ambiguous = True
            if req.use_given_name_as_prefix:
                # The server picks the final name; a lookup cannot tell ours apart.
                raise failure
            try:
                found = await self._find_created(req)
            except errors.UnavailableError:
                raise failure from None
            if found is not None:
                return found
        assert failure is not None
        raise failure

    async def _find_created(self, req: models.InferenceCreationRequest) -> models.Inference | None:
        matches = await self.find_inferences(req.name, project_id=req.project_id)
        if not matches:
            return None
        logger.info(
            "runai create found after ambiguous failure",
            extra={"op": "create_inference", "workload_id": matches[0].id},
        )
        return await self.get_inference(matches[0].id)

    async def get_inference(self, workload_id: str) -> models.Inference:
        """An inference's spec and its desired and actual phase."""
        response = await self._call(
            "GET", f"{INFERENCES_PATH}/{_seg(workload_id)}", op="get_inference"
        )
        return _parse(models.Inference, response)

    async def update_inference(
        self, workload_id: str, req: models.InferenceUpdateRequest
    ) -> models.Inference:
        """PATCH an inference's spec (202); scaling is `spec.autoscaling`."""
        response = await self._call(
            "PATCH",
            f"{INFERENCES_PATH}/{_seg(workload_id)}",
            op="update_inference",
            ok=(200, 202),
            json=req.to_api(),
        )
        return _parse(models.Inference, response)

    async def delete_inference(self, workload_id: str) -> None:
        """Delete an inference (202, or 204)."""
        await self._call(
            "DELETE",
            f"{INFERENCES_PATH}/{_seg(workload_id)}",
            op="delete_inference",
            ok=(200, 202, 204),
        )

    # --- metrics -----------------------------------------------------------------------

    async def _metrics_reply(
        self,
        path: str,
        op: str,
        start: datetime,
        end: datetime,
        metric_types: Sequence[str],
        number_of_samples: int,
    ) -> Reply:
        """GET a metrics path (inference, pod or workload): one query, 200 or 207 partial."""
        if not metric_types:
            raise ValueError("metric_types must name at least one metric")
        if not 0 <= number_of_samples <= MAX_SAMPLES:
            raise ValueError(f"number_of_samples must be within 0..{MAX_SAMPLES}")
        params = {
            # `explode: false`: one comma-joined value.
            "metricType": ",".join(metric_types),
            "start": models.format_timestamp(start),
            "end": models.format_timestamp(end),
            "numberOfSamples": number_of_samples,
        }
        return await self._call("GET", path, op=op, ok=(200, 207), params=params)

    async def _metrics(
        self,
        path: str,
        op: str,
        start: datetime,
        end: datetime,
        metric_types: Sequence[models.MetricType | str],
        number_of_samples: int,
    ) -> models.MetricsResponse:
        """Throughput/latency series of an inference or one of its pods."""
        kinds = [str(models.MetricType(t)) for t in metric_types]
        response = await self._metrics_reply(path, op, start, end, kinds, number_of_samples)
        return _parse(models.MetricsResponse, response)

    async def inference_metrics(
        self,
        workload_id: str,
        start: datetime,
        end: datetime,
        *,
        metric_types: Sequence[models.MetricType | str] = (
            models.MetricType.THROUGHPUT,
            models.MetricType.LATENCY,
        ),
        number_of_samples: int = 20,
    ) -> models.MetricsResponse:
        """Throughput/latency series of an inference (200, or 207 partial)."""
        path = f"{INFERENCES_PATH}/{_seg(workload_id)}/metrics"
        return await self._metrics(
            path, "inference_metrics", start, end, metric_types, number_of_samples
        )

    async def pod_metrics(
        self,
        workload_id: str,
        pod_id: str,
        start: datetime,
        end: datetime,
        *,
        metric_types: Sequence[models.MetricType | str] = (
            models.MetricType.THROUGHPUT,
            models.MetricType.LATENCY,
        ),
        number_of_samples: int = 20,
    ) -> models.MetricsResponse:
        """Throughput/latency series of one pod of an inference (200, or 207 partial)."""
        path = f"{INFERENCES_PATH}/{_seg(workload_id)}/pods/{_seg(pod_id)}/metrics"
        return await self._metrics(path, "pod_metrics", start, end, metric_types, number_of_samples)

    async def workload_metrics(
        self,
        workload_id: str,
        start: datetime,
        end: datetime,
        *,
        metric_types: Sequence[obs.WorkloadMetricType | str],
        number_of_samples: int = 20,
    ) -> obs.MetricsCompositeResponse:
        """GPU, CPU and pod-count series of any workload, all in one call (200 or 207)."""
        # Unknown names fail here (ValueError), not as a 400 from the server.
        kinds = [str(obs.WorkloadMetricType(t)) for t in metric_types]
        path = f"{WORKLOADS_PATH}/{_seg(workload_id)}/metrics"
        response = await self._metrics_reply(
            path, "workload_metrics", start, end, kinds, number_of_samples
        )
        return _parse(obs.MetricsCompositeResponse, response)

    # --- what happened to a workload ---------------------------------------------------

    async def workload_events(
        self,
        workload_id: str,
        *,
        limit: int = 50,
        offset: int = 0,
        sort_order: obs.EventsSortOrder | str = obs.EventsSortOrder.DESC,
    ) -> obs.EventsPage:
        """One page of a workload's events, newest first unless `sort_order` is `asc`."""
        params = _page(limit, offset)
        params["sortOrder"] = str(obs.EventsSortOrder(sort_order))
        response = await self._call(
            "GET",
            f"{WORKLOADS_PATH}/{_seg(workload_id)}/events",
            op="workload_events",
            params=params,
        )
        return _parse(obs.EventsPage, response)

    async def workload_history(
        self, workload_id: str, *, limit: int = 50, offset: int = 0
    ) -> obs.HistoryPage:
        """One page of a workload's history (phase updates and events), newest first."""
        response = await self._call(
            "GET",
            f"{WORKLOADS_PATH}/{_seg(workload_id)}/history",
            op="workload_history",
            params=_page(limit, offset),
        )
        return _parse(obs.HistoryPage, response)

    async def workload_pods(
        self,
        workload_id: str,
        *,
        limit: int = 50,
        offset: int = 0,
        search: str | None = None,
        deleted: bool | None = None,
    ) -> obs.PodsPage:
        """One page of a workload's pods (phase, node, containers)."""
        params = _page(limit, offset)
        if search is not None:
            params["search"] = search
        if deleted is not None:
            params["deleted"] = "true" if deleted else "false"
        response = await self._call(
            "GET",
            f"{WORKLOADS_PATH}/{_seg(workload_id)}/pods",
            op="workload_pods",
            params=params,
        )
        return _parse(obs.PodsPage, response)

    async def inference_revisions(
        self, workload_id: str, *, deleted: bool | None = None
    ) -> list[obs.Revision]:
        """An inference's revisions as the API lists them (the emulator: oldest first)."""
        params = None if deleted is None else {"deleted": "true" if deleted else "false"}
        response = await self._call(
            "GET",
            f"{INFERENCES_PATH}/{_seg(workload_id)}/revisions",
            op="inference_revisions",
            params=params,
        )
        return _parse(obs.RevisionList, response).revisions

    async def get_revision(self, revision_id: str) -> obs.Revision:
        """One inference revision (a deleted workload's too)."""
        response = await self._call(
            "GET", f"{INFERENCES_PATH}/revisions/{_seg(revision_id)}", op="get_revision"
        )
        return _parse(obs.Revision, response)

    # --- workloads ---------------------------------------------------------------------

    async def list_workloads(
        self,
        *,
        filter_by: Sequence[str] = (),
        limit: int = MAX_PAGE_SIZE,
        offset: int = 0,
        sort_by: str | None = None,
        sort_order: str | None = None,
        deleted: bool | None = None,
    ) -> models.WorkloadPage:
        """One page of workloads (any type). `filter_by` entries like `name==x` are ANDed."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be within 1..{MAX_PAGE_SIZE}")
        if offset < 0:
            raise ValueError("offset must be >= 0")
        if isinstance(filter_by, str):
            raise TypeError("filter_by is a sequence of strings, not one string")
        if any("," in entry for entry in filter_by):
            # Entries are comma-joined on the wire: a comma would smuggle in another filter.
            raise ValueError("a filter_by entry cannot contain a comma")
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if filter_by:
            # `explode: false`: one comma-joined value (so a value cannot contain a comma).
            params["filterBy"] = ",".join(filter_by)
        if sort_by is not None:
            params["sortBy"] = sort_by
        if sort_order is not None:
            params["sortOrder"] = sort_order
        if deleted is not None:
            params["deleted"] = "true" if deleted else "false"
        response = await self._call("GET", WORKLOADS_PATH, op="list_workloads", params=params)
        return _parse(models.WorkloadPage, response)

    async def iter_workload_pages(
        self,
        *,
        filter_by: Sequence[str] = (),
        page_size: int = MAX_PAGE_SIZE,
        sort_by: str | None = None,
        sort_order: str | None = None,
        deleted: bool | None = None,
    ) -> AsyncIterator[models.WorkloadPage]:
        """Every page of matching workloads, following `next` (one request a page)."""
        offset = 0
        while True:
            page = await self.list_workloads(
                filter_by=filter_by,
                limit=page_size,
                offset=offset,
                sort_by=sort_by,
                sort_order=sort_order,
                deleted=deleted,
            )
            yield page
            # No `next` (or one that does not move forward) is the end.
            if not page.workloads or page.next is None or page.next <= offset:
                return
            offset = page.next

    async def iter_workloads(
        self,
        *,
        filter_by: Sequence[str] = (),
        page_size: int = MAX_PAGE_SIZE,
        sort_by: str | None = None,
        sort_order: str | None = None,
        deleted: bool | None = None,
    ) -> AsyncIterator[models.Workload]:
        """Every matching workload, page by page (`iter_workload_pages`)."""
        async for page in self.iter_workload_pages(
            filter_by=filter_by,
            page_size=page_size,
            sort_by=sort_by,
            sort_order=sort_order,
            deleted=deleted,
        ):
            for workload in page.workloads:
                yield workload

    async def get_workload(self, workload_id: str) -> models.WorkloadDetailed:
        """A workload with its phase, phase message, conditions and URLs."""
        response = await self._call(
            "GET", f"{WORKLOADS_PATH}/{_seg(workload_id)}", op="get_workload"
        )
        return _parse(models.WorkloadDetailed, response)

    async def find_inferences(
        self, name: str, *, project_id: str | None = None
    ) -> list[models.Workload]:
        """Inference workloads named exactly `name` (in one project when given)."""
        if "," in name or (project_id is not None and "," in project_id):
            return []  # no workload name or project id has a comma
        filter_by = [f"name=={name}", f"type=={models.INFERENCE_WORKLOAD_TYPE}"]
        if project_id is not None:
            filter_by.append(f"projectId=={project_id}")
        return [
            workload
            async for workload in self.iter_workloads(filter_by=filter_by)
            # The server's filter is trusted only to narrow: check exactly here.
            if workload.name == name
            and workload.type == models.INFERENCE_WORKLOAD_TYPE
            and (project_id is None or workload.project_id == project_id)
        ]

    # --- org units ---------------------------------------------------------------------

    async def list_projects(self) -> list[models.Project]:
        """Every project the credentials can see (follows `next`)."""
        projects: list[models.Project] = []
        offset = 0
        while True:
            response = await self._call(
                "GET",
                PROJECTS_PATH,
                op="list_projects",
                params={"offset": offset, "limit": MAX_PAGE_SIZE} if offset else None,
            )
            page = _parse(models.ProjectPage, response)
            projects.extend(page.projects)
            if not page.projects or page.next is None or page.next <= offset:
                return projects
            offset = page.next

    async def list_clusters(self) -> list[models.Cluster]:
        """Every cluster of the tenant."""
        response = await self._call("GET", CLUSTERS_PATH, op="list_clusters")
        return _parse(_CLUSTERS, response)
