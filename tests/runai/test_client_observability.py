"""RunaiClient's workload metrics, events, history, pods and revisions, against the
emulator over a real socket. Every request is checked against the schema at teardown
(conftest); every answer of these operations is checked here too."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.runai import RunaiClient, errors, models
from bot.runai import observability as obs
from bot.runai.transport import Reply
from tests import contract
from tests.runai.conftest import ClientFactory, Emulator, RecordingWire
from tests.runai.schema_check import template_of
from tests.runai.test_client_emulator import creation, poll, unique


@dataclass
class BodyRecordingWire(RecordingWire):
    """A recording wire that keeps each answer's body too, to check it against the schema."""

    replies: list[tuple[httpx.Request, Reply]] = field(default_factory=list)

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        socket_timeout: float,
    ) -> Reply:
        reply = await super().send(method, url, headers, body, socket_timeout)
        self.replies.append((httpx.Request(method, url), reply))
        return reply

    def check_answers(self) -> int:
        """Check every /api answer but the token's against the schema; how many were."""
        checked = 0
        for request, reply in self.replies:
            template = template_of(request.method, request.url.path)
            if template is None or template == "/api/v1/token":
                continue
            contract.assert_response_matches(
                request.method, template, reply.status_code, json.loads(reply.content)
            )
            checked += 1
        return checked


@pytest.fixture
async def checked(make_client: ClientFactory) -> tuple[RunaiClient, BodyRecordingWire]:
    wire = BodyRecordingWire()
    client, _ = await make_client(wire=wire)
    return client, wire


async def _running(client: RunaiClient, name: str, **options: str) -> models.Inference:
    created = await client.create_inference(creation(name, **options))
    await poll(
        lambda: client.get_workload(created.workload_id),
        lambda w: w.phase == models.Phase.RUNNING,
    )
    return created


async def test_workload_metrics_every_type_in_one_call(
    checked: tuple[RunaiClient, BodyRecordingWire], emulator: Emulator
) -> None:
    client, wire = checked
    created = await _running(client, unique("gpu"))
    emulator.state.set_traffic(created.workload_id, {"gpuUtilization": 7})
    emulator.state.clock.advance(120)
    end = datetime.fromtimestamp(emulator.state.clock.now(), UTC)
    every = list(obs.WorkloadMetricType)
    answer = await client.workload_metrics(
        created.workload_id,
        end - timedelta(seconds=30),
        end,
        metric_types=every,
        number_of_samples=5,
    )
    assert {m.type for m in answer.measurements} == {str(t) for t in every}
    running = answer.series(obs.WorkloadMetricType.RUNNING_POD_COUNT)
    assert running is not None and running.values and running.values[-1].value == 1.0
    gpu = answer.series("gpu_utilization")
    assert gpu is not None and gpu.values
    assert all(v.value is not None and 6 <= v.value <= 8 for v in gpu.values)
    nim = answer.series(obs.WorkloadMetricType.NIM_NUM_REQUESTS_RUNNING)
    assert nim is not None and nim.values == []
    stats = await emulator.stats()
    assert stats["GET /api/v1/workloads/{workloadId}/metrics"] == 1
    assert wire.check_answers() >= 3


async def test_workload_metrics_partial_answer_and_bad_arguments(
    checked: tuple[RunaiClient, BodyRecordingWire], emulator: Emulator
) -> None:
    client, wire = checked
    created = await client.create_inference(creation(unique("partial")))
    await emulator.fault(
        status=207, count=1, pathPrefix=f"/api/v1/workloads/{created.workload_id}/metrics"
    )
    end = datetime.now(UTC) + timedelta(minutes=1)
    partial = await client.workload_metrics(
        created.workload_id,
        end - timedelta(hours=1),
        end,
        metric_types=["GPU_UTILIZATION", "RUNNING_POD_COUNT"],
    )
    assert [m.type for m in partial.measurements] == ["GPU_UTILIZATION"]
    assert partial.series("RUNNING_POD_COUNT") is None
    with pytest.raises(ValueError):
        await client.workload_metrics(created.workload_id, end, end, metric_types=["LATENCY"])
    with pytest.raises(ValueError):
        await client.workload_metrics(created.workload_id, end, end, metric_types=[])
    with pytest.raises(ValueError):
        await client.workload_metrics(
            created.workload_id, end, end, metric_types=["POD_COUNT"], number_of_samples=1001
        )
    wire.check_answers()


async def test_events_history_and_pods_of_a_failure(
    checked: tuple[RunaiClient, BodyRecordingWire], emulator: Emulator
) -> None:
    client, wire = checked
    created = await _running(client, unique("why"))
    wid = created.workload_id
    emulator.state.force_phase(wid, "Failed", "CUDA out of memory <!channel>")

    newest = await client.workload_events(wid, limit=500)
    assert newest.events[0].type == "Warning"
    assert newest.events[0].reason == "Failed"
    assert newest.events[0].message == "CUDA out of memory <!channel>"
    reasons = {e.reason for e in newest.events}
    assert {"Submitted", "Running", "Scheduled", "Started"} <= reasons
    oldest = await client.workload_events(wid, limit=500, sort_order="asc")
    assert [e.id for e in oldest.events] == [e.id for e in reversed(newest.events)]
    first = await client.workload_events(wid, limit=2)
    assert len(first.events) == 2 and first.next == 2
    second = await client.workload_events(wid, limit=2, offset=first.next)
    assert [e.id for e in second.events] == [e.id for e in newest.events[2:4]]

    history = await client.workload_history(wid, limit=500)
    updates = [r.spec.phase_update for r in history.records if r.spec.phase_update]
    assert updates[0].phase == models.Phase.FAILED
    assert updates[0].phase_message == "CUDA out of memory <!channel>"
    assert models.Phase.RUNNING in [u.phase for u in updates]
    assert {r.meta.type for r in history.records} == {"Event", "PhaseUpdate"}
    stamps = [r.meta.creation_timestamp for r in history.records]
    assert stamps == sorted(stamps, reverse=True)

    pods = await client.workload_pods(wid)
    assert len(pods.pods) == 1
    assert pods.pods[0].k8s_phase == "Failed"
    assert pods.pods[0].workload_id == wid
    assert (await client.workload_pods(wid, search="no-such-pod")).pods == []
    assert (await client.workload_pods(wid, deleted=True)).pods == []
    assert wire.check_answers() >= 7


async def test_pods_follow_the_replicas(
    checked: tuple[RunaiClient, BodyRecordingWire], emulator: Emulator
) -> None:
    client, wire = checked
    created = await _running(client, unique("pods"))
    await client.update_inference(
        created.workload_id,
        models.InferenceUpdateRequest(
            spec=models.InferenceUpdateSpec(
                autoscaling=models.AutoScaling(min_replicas=3, max_replicas=3)
            )
        ),
    )
    pods = await poll(
        lambda: client.workload_pods(created.workload_id),
        lambda page: len(page.pods) == 3 and all(p.k8s_phase == "Running" for p in page.pods),
    )
    assert all(p.node_name and p.started_at for p in pods.pods)
    assert len({p.id for p in pods.pods}) == 3
    wire.check_answers()


async def test_revisions_list_and_one(
    checked: tuple[RunaiClient, BodyRecordingWire], emulator: Emulator
) -> None:
    client, wire = checked
    created = await client.create_inference(creation(unique("rev")))
    wid = created.workload_id
    await client.update_inference(
        wid,
        models.InferenceUpdateRequest(
            spec=models.InferenceUpdateSpec(image="vllm/vllm-openai:v0.7.0", args="--x 1")
        ),
    )
    revisions = await client.inference_revisions(wid)
    assert [r.images for r in revisions] == [
        ["vllm/vllm-openai:v0.6.4"],
        ["vllm/vllm-openai:v0.7.0"],
    ]
    assert revisions[1].arguments == "--x 1"
    assert revisions[0].environment_variables == {"HF_TOKEN": "hf_envsecret"}
    assert "hf_envsecret" not in repr(revisions[0])
    assert all(r.workload_id == wid for r in revisions)
    one = await client.get_revision(revisions[0].id)
    assert one.id == revisions[0].id and one.images == ["vllm/vllm-openai:v0.6.4"]
    assert await client.inference_revisions(wid, deleted=True) == []
    await client.delete_inference(wid)
    gone = await poll(
        lambda: client.inference_revisions(wid, deleted=True), lambda revs: len(revs) == 2
    )
    assert all(r.deleted_at is not None for r in gone)
    assert wire.check_answers() >= 5


async def test_unknown_ids_and_bad_pages(client: RunaiClient) -> None:
    missing = str(uuid.uuid4())
    for call in (
        lambda: client.workload_events(missing),
        lambda: client.workload_history(missing),
        lambda: client.workload_pods(missing),
        lambda: client.inference_revisions(missing),
        lambda: client.get_revision(missing),
        lambda: client.workload_metrics(
            missing,
            datetime.now(UTC) - timedelta(hours=1),
            datetime.now(UTC),
            metric_types=["POD_COUNT"],
        ),
    ):
        with pytest.raises(errors.NotFoundError):
            await call()
    for bad in (
        lambda: client.workload_events(missing, limit=0),
        lambda: client.workload_history(missing, limit=501),
        lambda: client.workload_pods(missing, offset=-1),
        lambda: client.workload_events(missing, sort_order="sideways"),
        lambda: client.get_revision(""),
    ):
        with pytest.raises(ValueError):
            await bad()
