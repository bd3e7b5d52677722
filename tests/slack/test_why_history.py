"""`why` and `history` words, and the rollback PATCH (pure, plus one emulator round trip)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.runai import models
from bot.runai import observability as obs
from bot.slack.revisions import (
    MAX_REVISIONS,
    Resources,
    compute_of,
    env_changes,
    history_card,
    resources_of_compute,
    revision_changes,
    rollback_plan,
)
from bot.slack.why import MAX_EVENTS, why_card
from tests import contract

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
WID = "0b9a5c43-3f5e-4e7a-9d35-2f6a1b8c7d10"


def event(
    minutes_ago: int, reason: str, message: str = "m", *, pod: str | None = None
) -> obs.Event:
    return obs.Event(
        created_at=NOW - minutes_ago * MIN,
        type="Warning" if reason in ("Failed", "BackOff") else "Normal",
        message=message,
        reason=reason,
        involved_object=obs.InvolvedObject(kind="Pod", name=pod) if pod else None,
    )


def phase_record(minutes_ago: int, phase: str, message: str = "") -> obs.HistoryRecord:
    return obs.HistoryRecord(
        meta=obs.HistoryRecordMeta(creation_timestamp=NOW - minutes_ago * MIN, type="PhaseUpdate"),
        spec=obs.HistoryRecordSpec(
            phase_update=obs.PhaseUpdate(phase=phase, phase_message=message)
        ),
    )


def workload(phase: str = "Failed", message: str = "CUDA out of memory") -> models.Workload:
    return models.Workload(
        id=WID,
        name="my-qwen",
        type="inference",
        phase=phase,
        phase_message=message,
        phase_updated_at=NOW - 12 * MIN,
        conditions=[
            models.Condition(type="Ready", status="False", reason="Failed", message=message),
            models.Condition(type="Available", status="True"),
        ],
    )


def pod(name: str, phase: str = "Running", started: int | None = 3) -> obs.Pod:
    return obs.Pod(
        id=name,
        name=name,
        workload_id=WID,
        k8s_phase=phase,
        node_name="gpu-node-1" if started is not None else None,
        created_at=NOW - 30 * MIN,
        containers=[
            obs.Container(
                name="c",
                image="img",
                started_at=NOW - started * MIN if started is not None else None,
            )
        ],
    )


def test_why_says_phase_events_pods_and_changes() -> None:
    events = [event(i, "BackOff", f"back-off {i}", pod="p-1") for i in range(1, 14)]
    events.append(event(0, "Failed", "CUDA out of memory"))
    history = [
        phase_record(40, "Creating"),
        phase_record(30, "Running"),
        phase_record(12, "Failed", "OOM"),
    ]
    card = why_card(workload(), events, [pod("p-2", started=None), pod("p-1")], history, NOW)
    assert (card.phase, card.held_for, card.message) == ("Failed", "12m", "CUDA out of memory")
    assert card.conditions == ("Ready False: Failed: CUDA out of memory",)
    assert len(card.events) == MAX_EVENTS
    assert card.events[0].reason == "Failed" and card.events[0].age == "just now"
    assert card.events[1].age == "1m ago" and card.events[1].subject == "p-1"
    assert card.events[0].subject == "workload" and card.events[0].warning
    assert [p.name for p in card.pods] == ["p-1", "p-2"]
    assert card.pods[0].restarts == 13 and card.pods[0].started == "3m ago"
    assert card.pods[1].node == "no node yet" and card.pods[1].started == "not started"
    assert [c.phase for c in card.changes] == ["Failed", "Running", "Creating"]
    assert card.changes[0].message == "OOM"


def test_why_without_events_or_pods() -> None:
    card = why_card(workload("Pending", ""), [], [], [], NOW)
    assert card.message is None and card.events == () and card.pods == ()
    assert card.pods_more == 0
    many = why_card(workload(), [], [pod(f"p-{i:02d}") for i in range(14)], [], NOW)
    assert len(many.pods) == 10 and many.pods_more == 4
    assert many.pods[0].restarts is None  # no events read: unknown, not zero


def revision(n: int, image: str = "vllm:1", **extra: object) -> obs.Revision:
    body: dict[str, object] = {
        "id": f"r{n}",
        "name": f"my-qwen-0000{n}",
        "workloadId": WID,
        "createdAt": (NOW - (10 - n) * MIN).isoformat(),
        "images": [image],
        "environmentVariables": {"HF_TOKEN": "hf_secret_value", "MODE": "a"},
        "revisionRequestedResources": {"gpu": {"request": 1}},
        "requestedPods": {"number": 1, "min": 1, "max": 1},
        "phase": "Running",
    }
    body.update(extra)
    return obs.Revision.model_validate(body)


def test_history_newest_first_with_changes_and_authors() -> None:
    revs = [
        revision(1),
        revision(2, "vllm:2", arguments="--max-model-len 4096"),
        revision(
            3,
            "vllm:2",
            arguments="--max-model-len 4096",
            environmentVariables={"HF_TOKEN": "hf_other_secret", "NEW": "x"},
            revisionRequestedResources={"gpu": {"request": 2}, "cpuMemory": {"request": "8Gi"}},
            requestedPods={"min": 1, "max": 3},
        ),
    ]
    authors = {"r2": "U123ABC", "r3": "<!channel>"}
    card = history_card("my-qwen", WID, list(reversed(revs)), lambda r: authors.get(r.id))
    assert [r.number for r in card.revisions] == [3, 2, 1]
    newest, middle, first = card.revisions
    assert newest.current and not middle.current
    assert newest.author is None  # not a user id: never a mention
    assert middle.author == "U123ABC"
    assert middle.changes == (
        "image `vllm:1` → `vllm:2`",
        "args none → `--max-model-len 4096`",
    )
    assert newest.changes == (
        "env added NEW; removed MODE; changed HF_TOKEN",
        "resources 1 GPU → 2 GPU, 8Gi memory",
        "replicas 1 to 1 → 1 to 3",
    )
    assert first.changes[0].startswith("created with image `vllm:1`; env HF_TOKEN, MODE")
    text = repr(card)
    assert "hf_secret_value" not in text and "hf_other_secret" not in text
    assert revision_changes(revs[0], revision(9))[0].startswith("no change")


def test_history_shows_the_newest_fifteen() -> None:
    revs = [revision(i) for i in range(1, 21)]
    card = history_card("w", WID, revs, lambda r: None)
    assert len(card.revisions) == MAX_REVISIONS and card.more == 5
    assert card.revisions[0].number == 20


def test_env_changes_never_show_values() -> None:
    assert env_changes({"A": "1", "B": "2"}, {"B": "3", "C": "4"}) == [
        "added C",
        "removed A",
        "changed B",
    ]
    assert env_changes(None, None) == []


def test_rollback_patches_only_what_differs() -> None:
    current = models.InferenceSpecSpec(
        image="vllm:2",
        args="--x",
        environment_variables=[
            models.EnvironmentVariable(name="HF_TOKEN", value="hf_secret_value"),
            models.EnvironmentVariable(name="MODE", value="b"),
            models.EnvironmentVariable(
                name="KEY", secret=models.EnvironmentVariableSecret(name="s", key="k")
            ),
        ],
        compute=models.Compute(gpu_devices_request=1),
        autoscaling=models.AutoScaling(min_replicas=1, max_replicas=3),
    )
    plan = rollback_plan(revision(1, arguments="--x"), current)
    assert plan.request is not None
    body = plan.request.to_api()
    assert body["spec"]["image"] == "vllm:1"
    assert "args" not in body["spec"] and "compute" not in body["spec"]
    assert body["spec"]["autoscaling"] == {"minReplicas": 1, "maxReplicas": 1}
    env = {v["name"]: v for v in body["spec"]["environmentVariables"]}
    assert env["MODE"]["value"] == "a" and env["KEY"]["secret"] == {"name": "s", "key": "k"}
    assert plan.changes == (
        "image `vllm:2` → `vllm:1`",
        "env changed MODE",
        "replicas 1 to 3 → 1 to 1",
    )
    assert all("hf_secret_value" not in c for c in plan.changes)
    contract.assert_request_matches("PATCH", "/api/v1/workloads/inferences/{workloadId}", body)
    same = models.InferenceSpecSpec(
        image="vllm:1",
        environment_variables=[
            models.EnvironmentVariable(name="HF_TOKEN", value="hf_secret_value"),
            models.EnvironmentVariable(name="MODE", value="a"),
        ],
        compute=models.Compute(gpu_devices_request=1),
        autoscaling=models.AutoScaling(min_replicas=1),
    )
    nothing = rollback_plan(revision(1), same)
    assert nothing.request is None and nothing.changes == ()


@pytest.mark.parametrize(
    "compute",
    [
        models.Compute(gpu_devices_request=2, cpu_core_request=2, cpu_memory_request="8Gi"),
        models.Compute(gpu_request_type="portion", gpu_devices_request=1, gpu_portion_request=0.5),
        models.Compute(gpu_request_type="memory", gpu_devices_request=1, gpu_memory_request="20Gi"),
        models.Compute(cpu_core_request=1, cpu_core_limit=2, cpu_memory_limit="4Gi"),
    ],
)
def test_compute_round_trips_through_a_revisions_terms(compute: models.Compute) -> None:
    res = resources_of_compute(compute)
    assert resources_of_compute(compute_of(res)) == res


@given(st.floats(0.05, 8).map(lambda x: round(x, 2)))
def test_any_gpu_count_round_trips(gpus: float) -> None:
    res = Resources(gpu=gpus, gpu_type=None if gpus == int(gpus) else "portion")
    again = resources_of_compute(compute_of(res))
    assert again.gpu == pytest.approx(gpus)


def test_whole_gpus_over_a_portion_are_asked_as_portion_one() -> None:
    now = models.Compute(gpu_request_type="portion", gpu_devices_request=1, gpu_portion_request=0.5)
    compute = compute_of(Resources(gpu=2.0), now)
    assert (compute.gpu_request_type, compute.gpu_devices_request, compute.gpu_portion_request) == (
        "portion",
        2,
        1.0,
    )
    merged = now.model_copy(update=compute.model_dump(exclude_none=True))
    assert resources_of_compute(merged).gpu == 2.0
