"""The Run:ai client as the Slack app sees it: every call passes the policy first.

`PolicedRunai` stands in front of any `RunaiCalls` (composition: it holds the client it
polices). `service.assemble` builds one, answering to no one (the bot itself: reads only),
and passes it to `build_app`; each request works with `for_asker(asker)` of it.

Enforcing at this one boundary means no handler can act on the cluster without a
decision: lookups check that the workload's project is in the channel's scope (and,
when the user means to scale/update/delete it, that they may), mutations check rights
and caps right before the request, and every mutation is audited with its outcome.
Denials raise `PolicyDenied` (a `UserFacingError`), which the app already turns into an
ephemeral message or a note in the modal; nothing reaches Run:ai.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

from bot.access.asker import Asker
from bot.access.gate import Gate
from bot.access.idempotency import Idempotency
from bot.access.sizes import compute_gpus
from bot.policy import Action, Ask, Decision, ProjectRef, gpus_text
from bot.runai import RunaiCalls, models
from bot.runai import errors as runai_errors
from bot.runai import observability as obs

logger = logging.getLogger(__name__)
T = TypeVar("T")
_BY_PROJECT = "projectName=="

PROJECT_NAMES_TTL = 60.0
MUTATING = (Action.SCALE, Action.UPDATE, Action.DELETE)


def _env_names(spec: models.InferenceSpecSpec | None) -> list[str]:
    if spec is None or not spec.environment_variables:
        return []
    return [e.name for e in spec.environment_variables if e.name]


def create_summary(req: models.InferenceCreationRequest, project: ProjectRef) -> str:
    """A create request in words: no env values, no args or command (they may hold keys)."""
    spec = req.spec
    auto = spec.autoscaling if spec else None
    low = auto.effective_min if auto else 1
    high = auto.effective_max if auto else 1
    parts = [f"create {req.name} in {project.label()}"]
    if spec and spec.image:
        parts.append(f"image {spec.image}")
    parts.append(f"replicas {low}-{high}")
    gpus = compute_gpus(spec.compute if spec else None, high)
    parts.append(f"{gpus_text(gpus)} at most")
    names = _env_names(spec)
    if names:
        parts.append(f"env {', '.join(names[:20])}" + (" …" if len(names) > 20 else ""))
    return "; ".join(parts)


def update_summary(name: str, req: models.InferenceUpdateRequest) -> str:
    """A PATCH in words: autoscaling numbers, else which fields changed (no values)."""
    spec = req.spec
    auto = spec.autoscaling
    changed = sorted(k for k, v in spec if v is not None and k != "autoscaling")
    parts: list[str] = []
    if auto is not None:
        scaling = f"replicas {auto.min_replicas}-{auto.max_replicas}"
        if auto.metric:
            scaling += f" on {auto.metric} {auto.metric_threshold}"
        parts.append(scaling)
    if changed:
        parts.append("changed " + ", ".join(c.replace("_", " ") for c in changed))
    return f"{name}: " + ("; ".join(parts) or "no change")


class ProjectNames:
    """Project id → name, learned from every answer and refreshed at most once per
    PROJECT_NAMES_TTL (policies name projects either way). One per process."""

    def __init__(self, runai: RunaiCalls) -> None:
        self._runai = runai
        self._names: dict[str, str] = {}
        self._at = 0.0

    def learn(self, project_id: str | None, project_name: str | None) -> None:
        """Remember a project's name."""
        if project_id and project_name:
            self._names[project_id] = project_name

    async def ref(self, project_id: str | None) -> ProjectRef:
        """The project by id, with its name."""
        if not project_id:
            return ProjectRef(None)
        if project_id not in self._names:
            await self._refresh()
        return ProjectRef(project_id, self._names.get(project_id))

    async def named(self, name: str) -> ProjectRef | None:
        """The project called `name` (None when Run:ai knows none by that name)."""
        if name not in self._names.values():
            await self._refresh()
        known = next((i for i, n in self._names.items() if n == name), None)
        return ProjectRef(known, name) if known is not None else None

    async def _refresh(self) -> None:
        if time.monotonic() - self._at <= PROJECT_NAMES_TTL:
            return
        try:
            for p in await self._runai.list_projects():
                self.learn(p.id, p.name)
            self._at = time.monotonic()
        except runai_errors.RunaiError as exc:
            logger.info("project names unavailable", extra={"error": type(exc).__name__})


class PolicedRunai:
    """`RunaiCalls` that asks the `Gate` before each call of `inner`, for `asker`."""

    def __init__(
        self,
        inner: RunaiCalls,
        gate: Gate,
        idempotency: Idempotency,
        names: ProjectNames | None = None,
        asker: Asker | None = None,
    ) -> None:
        self.inner = inner
        self.gate = gate
        self.idempotency = idempotency
        self.names = names if names is not None else ProjectNames(inner)
        self.asker = asker

    def for_asker(self, asker: Asker | None) -> PolicedRunai:
        """The same client, answering to `asker` (shares the caches and the repeats)."""
        return PolicedRunai(self.inner, self.gate, self.idempotency, self.names, asker)

    def __repr__(self) -> str:
        return f"PolicedRunai({self.inner!r})"

    # --- projects ------------------------------------------------------------------------

    async def project_ref(self, project_id: str | None) -> ProjectRef:
        """The project by id, with its name (policies name projects either way)."""
        return await self.names.ref(project_id)

    async def project_named(self, name: str) -> ProjectRef | None:
        """The project called `name` (None when Run:ai knows none by that name)."""
        return await self.names.named(name)

    async def _project_of_workload(self, workload_id: str) -> ProjectRef:
        asker = self.asker
        if asker is not None and workload_id in asker.projects:
            return asker.projects[workload_id]
        workload = await self.inner.get_workload(workload_id)
        self.names.learn(workload.project_id, workload.project_name)
        ref = ProjectRef(workload.project_id, workload.project_name)
        if asker is not None:
            asker.projects[workload_id] = ref
            asker.names[workload_id] = workload.name
        return ref

    async def _seen(self, workload_id: str, name: str, project: ProjectRef) -> None:
        """A lookup result: in scope for this channel, and (for scale/update/delete) the
        user may do what they came for. Raises `PolicyDenied` otherwise."""
        asker = self.asker
        if asker is None or workload_id in asker.checked:
            return  # the same workload found again in this request: passed already
        asker.projects[workload_id] = project
        asker.names[workload_id] = name
        action = asker.intent if asker.intent in MUTATING else Action.READ
        await self.gate.require(
            asker,
            action,
            project,
            workload_id=workload_id,
            name=name,
            summary=f"{action.value} {name}",
        )
        asker.checked.add(workload_id)

    def _in_scope(self, project_id: str | None, project_name: str | None) -> bool:
        return self.gate.in_scope(self.asker, ProjectRef(project_id, project_name))

    # --- lookups ---------------------------------------------------------------------------

    async def model_info(self, model_name: str, hf_token: str | None = None) -> models.ModelInfo:
        """Model info (no project involved; a modal without its channel is refused)."""
        await self.gate.require(self.asker, Action.READ, None, summary=f"model {model_name}")
        return await self.inner.model_info(model_name, hf_token)

    async def get_workload(self, workload_id: str) -> models.WorkloadDetailed:
        """A workload, if the channel may act on its project."""
        workload = await self.inner.get_workload(workload_id)
        self.names.learn(workload.project_id, workload.project_name)
        ref = ProjectRef(workload.project_id, workload.project_name)
        await self._seen(workload.id, workload.name, ref)
        return workload

    async def get_inference(self, workload_id: str) -> models.Inference:
        """An inference, if the channel may act on its project."""
        inference = await self.inner.get_inference(workload_id)
        if self.asker is not None:
            self.asker.inferences[workload_id] = inference
        ref = await self.project_ref(inference.project_id)
        await self._seen(workload_id, inference.name, ref)
        return inference

    async def find_inferences(
        self, name: str, *, project_id: str | None = None
    ) -> list[models.Workload]:
        """Same-named inferences in the projects this channel may act on."""
        found = await self.inner.find_inferences(name, project_id=project_id)
        for w in found:
            self.names.learn(w.project_id, w.project_name)
        scoped = [w for w in found if self._in_scope(w.project_id, w.project_name)]
        if found and not scoped:
            # Only in other projects: say which rule keeps this channel away from them.
            w = found[0]
            await self._seen(w.id, w.name, ProjectRef(w.project_id, w.project_name))
        if len(scoped) == 1:
            w = scoped[0]
            await self._seen(w.id, w.name, ProjectRef(w.project_id, w.project_name))
        return scoped

    async def list_workloads(
        self,
        *,
        filter_by: Sequence[str] = (),
        limit: int = 500,
        offset: int = 0,
        sort_by: str | None = None,
    ) -> models.WorkloadPage:
        """A page of workloads, without those outside this channel's projects. Asking for
        one project (`projectName==`) the channel may not act on is refused, naming the
        binding, rather than answered with an empty page."""
        asked = next((t.split("==", 1)[1] for t in filter_by if t.startswith(_BY_PROJECT)), None)
        if asked is not None and self.asker is not None:
            ref = await self.project_named(asked)
            if ref is not None and not self.gate.in_scope(self.asker, ref):
                await self.gate.require(
                    self.asker, Action.READ, ref, summary=f"list workloads in {asked}"
                )
        page = await self.inner.list_workloads(
            filter_by=filter_by, limit=limit, offset=offset, sort_by=sort_by
        )
        kept = [w for w in page.workloads if self._in_scope(w.project_id, w.project_name)]
        if len(kept) == len(page.workloads):
            return page
        # `next` keeps pointing past the unfiltered page, so paging still moves on.
        return models.WorkloadPage(workloads=kept, next=page.next)

    async def list_projects(self) -> list[models.Project]:
        """Projects this channel may act on."""
        projects = await self.inner.list_projects()
        for p in projects:
            self.names.learn(p.id, p.name)
        return [p for p in projects if self._in_scope(p.id, p.name)]

    async def list_clusters(self) -> list[models.Cluster]:
        """Clusters (not governed by the policy)."""
        return await self.inner.list_clusters()

    async def inference_metrics(
        self, workload_id: str, start: datetime, end: datetime
    ) -> models.MetricsResponse:
        """Metrics, if the channel may act on the workload's project."""
        await self._read(workload_id)
        return await self.inner.inference_metrics(workload_id, start, end)

    async def pod_metrics(
        self, workload_id: str, pod_id: str, start: datetime, end: datetime
    ) -> models.MetricsResponse:
        """Pod metrics, if the channel may act on the workload's project."""
        await self._read(workload_id)
        return await self.inner.pod_metrics(workload_id, pod_id, start, end)

    async def workload_events(
        self,
        workload_id: str,
        *,
        limit: int = 50,
        offset: int = 0,
        sort_order: obs.EventsSortOrder | str = obs.EventsSortOrder.DESC,
    ) -> obs.EventsPage:
        """Events, if the channel may read the workload."""
        await self._read(workload_id)
        return await self.inner.workload_events(
            workload_id, limit=limit, offset=offset, sort_order=sort_order
        )

    async def workload_history(
        self, workload_id: str, *, limit: int = 50, offset: int = 0
    ) -> obs.HistoryPage:
        """History, if the channel may read the workload."""
        await self._read(workload_id)
        return await self.inner.workload_history(workload_id, limit=limit, offset=offset)

    async def workload_pods(
        self,
        workload_id: str,
        *,
        limit: int = 50,
        offset: int = 0,
        search: str | None = None,
        deleted: bool | None = None,
    ) -> obs.PodsPage:
        """Pods, if the channel may read the workload."""
        await self._read(workload_id)
        return await self.inner.workload_pods(
            workload_id, limit=limit, offset=offset, search=search, deleted=deleted
        )

    async def inference_revisions(
        self, workload_id: str, *, deleted: bool | None = None
    ) -> list[obs.Revision]:
        """Revisions, if the channel may read the workload."""
        await self._read(workload_id)
        return await self.inner.inference_revisions(workload_id, deleted=deleted)

    async def get_revision(self, revision_id: str) -> obs.Revision:
        """A revision, if the channel may read its workload."""
        revision = await self.inner.get_revision(revision_id)
        await self._read(revision.workload_id)
        return revision

    async def _read(self, workload_id: str) -> None:
        asker = self.asker
        if asker is None or workload_id in asker.projects:
            return  # looked up (and checked) earlier in this request
        project = await self._project_of_workload(workload_id)
        await self.gate.require(asker, Action.READ, project, workload_id=workload_id)

    # --- mutations -------------------------------------------------------------------------

    async def create_inference(self, req: models.InferenceCreationRequest) -> models.Inference:
        """Create, if the user may create in the project within its caps; audited.

        The same user submitting the same modal twice with the same values creates once:
        the second submission gets the first one's answer.
        """
        key = self.asker.key if self.asker is not None else None
        return await self.idempotency.once(key, lambda: self._create(req))

    async def _create(self, req: models.InferenceCreationRequest) -> models.Inference:
        project = await self.project_ref(req.project_id)
        auto = req.spec.autoscaling if req.spec else None
        replicas = auto.effective_max if auto else 1
        ask = Ask(
            replicas=replicas,
            gpus=compute_gpus(req.spec.compute if req.spec else None, replicas),
        )
        summary = create_summary(req, project)
        await self.gate.require(
            self.asker, Action.CREATE, project, ask, name=req.name, summary=summary
        )
        if self.gate.approvals is not None:
            # Over the channel's approval threshold: a request instead of the call.
            await self.gate.approvals.hold(
                self.asker,
                Action.CREATE,
                project,
                ask,
                workload_id=None,
                name=req.name,
                request=req.to_api(),
                summary=summary,
            )
        try:
            created = await self.inner.create_inference(req)
        except Exception as exc:
            await self.gate.record(
                self.asker,
                "create",
                workload_id=None,
                name=req.name,
                project=project,
                summary=summary,
                outcome="failed",
                rule=type(exc).__name__,
            )
            raise
        await self.gate.record(
            self.asker,
            "create",
            workload_id=created.workload_id,
            name=created.name,
            project=project,
            summary=summary,
            outcome="ok",
        )
        return created

    async def _current_spec(self, workload_id: str) -> models.InferenceSpecSpec | None:
        if self.asker is not None and workload_id in self.asker.inferences:
            return self.asker.inferences[workload_id].spec
        return (await self.inner.get_inference(workload_id)).spec

    def _name(self, workload_id: str) -> str:
        return (self.asker.names.get(workload_id) if self.asker else None) or workload_id

    async def update_inference(
        self, workload_id: str, req: models.InferenceUpdateRequest
    ) -> models.Inference:
        """PATCH, if the user may scale (autoscaling only) or update, within the caps.

        The same user submitting the same modal twice with the same values sends one PATCH.
        """
        asker = self.asker
        key = f"{asker.key}:{workload_id}" if asker is not None and asker.key else None
        return await self.idempotency.once(key, lambda: self._update(workload_id, req))

    async def _update_ask(
        self, workload_id: str, req: models.InferenceUpdateRequest
    ) -> tuple[Action, ProjectRef, str, Ask, str]:
        """What a PATCH asks of the policy: action, project, name, sizes, summary."""
        project = await self._project_of_workload(workload_id)
        name = self._name(workload_id)
        spec = req.spec
        others = [k for k, v in spec if v is not None and k != "autoscaling"]
        action = Action.UPDATE if others else Action.SCALE
        ask = Ask()
        if spec.autoscaling is not None or spec.compute is not None:
            current_spec = await self._current_spec(workload_id)
            auto = spec.autoscaling or (current_spec.autoscaling if current_spec else None)
            replicas = auto.effective_max if auto else 1
            compute = spec.compute or (current_spec.compute if current_spec else None)
            ask = Ask(replicas=replicas, gpus=compute_gpus(compute, replicas))
        return action, project, name, ask, update_summary(name, req)

    async def check_update(self, workload_id: str, req: models.InferenceUpdateRequest) -> None:
        """Whether the asker may send this PATCH (rights and caps), without sending it: a
        denial is audited and raises `PolicyDenied` (a schedule checked before it is
        stored)."""
        action, project, name, ask, summary = await self._update_ask(workload_id, req)
        await self.gate.require(
            self.asker, action, project, ask, workload_id=workload_id, name=name, summary=summary
        )

    async def update_decision(
        self, workload_id: str, req: models.InferenceUpdateRequest
    ) -> tuple[Decision, ProjectRef, str]:
        """The policy's decision on this PATCH for the asker, its project and summary;
        nothing audited nor noted (the caller says the outcome its own way)."""
        action, project, _, ask, summary = await self._update_ask(workload_id, req)
        return await self.gate.decide(self.asker, action, project, ask), project, summary

    async def _update(
        self, workload_id: str, req: models.InferenceUpdateRequest
    ) -> models.Inference:
        action, project, name, ask, summary = await self._update_ask(workload_id, req)
        await self.gate.require(
            self.asker, action, project, ask, workload_id=workload_id, name=name, summary=summary
        )
        if self.gate.approvals is not None:
            await self.gate.approvals.hold(
                self.asker,
                action,
                project,
                ask,
                workload_id=workload_id,
                name=name,
                request=req.to_api(),
                summary=summary,
            )
        return await self._audited(
            action,
            workload_id,
            name,
            project,
            summary,
            lambda: self.inner.update_inference(workload_id, req),
        )

    async def delete_inference(self, workload_id: str) -> None:
        """DELETE, if the user may delete in the workload's project; audited.

        A second confirmation of the same delete by the same user (a double click) sends
        no second DELETE.
        """
        user = self.asker.user if self.asker is not None else "bot"
        await self.idempotency.once(
            f"delete:{user}:{workload_id}", lambda: self._delete(workload_id)
        )

    async def _delete(self, workload_id: str) -> None:
        project = await self._project_of_workload(workload_id)
        name = self._name(workload_id)
        summary = f"delete {name}"
        await self.gate.require(
            self.asker, Action.DELETE, project, workload_id=workload_id, name=name, summary=summary
        )
        await self._audited(
            Action.DELETE,
            workload_id,
            name,
            project,
            summary,
            lambda: self.inner.delete_inference(workload_id),
        )

    async def _audited(
        self,
        action: Action,
        workload_id: str,
        name: str,
        project: ProjectRef,
        summary: str,
        call: Callable[[], Awaitable[T]],
    ) -> T:
        """Make an allowed call to Run:ai; audit it `ok`, or `failed` with the error kind."""

        async def audit(outcome: str, rule: str | None = None) -> None:
            await self.gate.record(
                self.asker,
                action.value,
                workload_id=workload_id,
                name=name,
                project=project,
                summary=summary,
                outcome=outcome,
                rule=rule,
            )

        try:
            result = await call()
        except Exception as exc:
            await audit("failed", type(exc).__name__)
            raise
        await audit("ok")
        return result


__all__ = ["PolicedRunai", "ProjectNames", "create_summary", "update_summary"]
