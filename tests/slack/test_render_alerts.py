"""The alerts, why and history templates: sample, hostile and worst-case data, parsed into
slack_sdk models and checked for the limits they skip; their ids come from ids.py."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.runai import models
from bot.runai import observability as obs
from bot.slack import render
from bot.slack.alert_cards import (
    Chart,
    alert_card,
    alert_row,
    stuck_card,
)
from bot.slack.ids import Action
from bot.slack.revisions import history_card, rollback_plan
from bot.slack.why import why_card
from bot.watch.alerts.episodes import Episode, State, snooze
from bot.watch.alerts.flapping import Ended, Flap, flap_card, on_change, summary
from bot.watch.alerts.rules import Metric, Op, Rule
from tests.slack.payload_checks import HOSTILE, LONG, assert_valid_message

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
WID = "0b9a5c43-3f5e-4e7a-9d35-2f6a1b8c7d10"
RULE = Rule(Metric.LATENCY, Op.GT, 500)
FIRING = Episode(State.FIRING, 1, NOW - 7 * MIN, True, value=612.5)
RESOLVED = Episode(State.RESOLVED, 1, NOW - 20 * MIN, True, NOW - MIN, value=80)


def events(text: str, n: int = 14) -> list[obs.Event]:
    return [
        obs.Event(
            created_at=NOW - i * MIN,
            type="Warning" if i % 2 else "Normal",
            message=text,
            reason=text[:300],
            involved_object=obs.InvolvedObject(kind="Pod", name=text[:300]),
        )
        for i in range(n)
    ]


def pods(text: str, n: int = 14) -> list[obs.Pod]:
    return [
        obs.Pod(
            id=f"p{i}",
            name=f"{text[:300]}-{i}",
            workload_id=WID,
            k8s_phase=text[:300],
            node_name=text[:300],
            containers=[obs.Container(name="c", image=text, started_at=NOW - MIN)],
        )
        for i in range(n)
    ]


def history(text: str) -> list[obs.HistoryRecord]:
    return [
        obs.HistoryRecord(
            meta=obs.HistoryRecordMeta(creation_timestamp=NOW - i * MIN, type="PhaseUpdate"),
            spec=obs.HistoryRecordSpec(
                phase_update=obs.PhaseUpdate(phase=text[:300], phase_message=text)
            ),
        )
        for i in range(20)
    ]


def workload(text: str) -> models.Workload:
    return models.Workload(
        id=WID,
        name=text[:300],
        type="inference",
        phase="Failed",
        phase_message=text,
        phase_updated_at=NOW - 12 * MIN,
        conditions=[models.Condition(type="Ready", status="False", reason=text, message=text)] * 5,
    )


def revisions(text: str, n: int = 20) -> list[obs.Revision]:
    return [
        obs.Revision.model_validate(
            {
                "id": f"r{i}",
                "name": f"{text[:200]}-{i}",
                "workloadId": WID,
                "createdAt": (NOW - (30 - i) * MIN).isoformat(),
                "images": [f"{text}:{i}"],
                "command": f"{text}{i}",
                "arguments": f"{text}{i}",
                "environmentVariables": {f"{text[:50]}{i}": "v", f"K{i}": text},
                "revisionRequestedResources": {
                    "gpu": {"request": i + 1},
                    "cpuMemory": {"request": f"{i + 1}Gi"},
                },
                "requestedPods": {"min": 1, "max": i + 1},
            }
        )
        for i in range(n)
    ]


def _flapping(text: str, ended: Ended | None = None) -> dict[str, Any]:
    flap = Flap()
    for i in range(9):
        flap, _ = on_change(flap, "Running" if i % 2 else text[:300], NOW + i * MIN)
    card = flap_card(WID, text, summary(flap).words(), ended=ended)
    return render.message("watch_flapping", card=card)


def alert_messages(text: str) -> dict[str, Callable[[], dict[str, Any]]]:
    rows = [
        alert_row(f"a{i}-{text[:60]}", text, RULE, ep, NOW)
        for i, ep in enumerate([FIRING, RESOLVED, Episode(), snooze(Episode(), NOW + MIN)] * 15)
    ]
    current = models.InferenceSpecSpec(image="now", compute=models.Compute(gpu_devices_request=1))
    return {
        "watch_alert_firing": lambda: render.message(
            "watch_alert_firing",
            card=alert_card(
                text[:100], WID, text, RULE, FIRING, NOW, Chart(url=f"https://x.example/{text}")
            ),
        ),
        "watch_alert_firing-file": lambda: render.message(
            "watch_alert_firing",
            card=alert_card("1", WID, text, RULE, FIRING, NOW, Chart(file_id="F123", alt=text)),
        ),
        "watch_alert_firing-no-chart": lambda: render.message(
            "watch_alert_firing", card=alert_card("1", WID, text, RULE, Episode(), NOW)
        ),
        "watch_alert_resolved": lambda: render.message(
            "watch_alert_resolved", card=alert_card("1", WID, text, RULE, RESOLVED, NOW)
        ),
        "watch_stuck": lambda: render.message(
            "watch_stuck", card=stuck_card(WID, text, "Pending", 16 * MIN, events(text), NOW)
        ),
        "watch_stuck-no-events": lambda: render.message(
            "watch_stuck", card=stuck_card(WID, text, "Creating", 16 * MIN, [], NOW)
        ),
        "watch_flapping": lambda: _flapping(text),
        "watch_flapping-ended": lambda: _flapping(text, Ended.STEADY),
        "watch_flapping-deleted": lambda: _flapping(text, Ended.DELETED),
        "watch_flapping-unwatched": lambda: _flapping(text, Ended.UNWATCHED),
        "alerts": lambda: render.message("alerts", rows=rows, name=text),
        "alerts-empty": lambda: render.message("alerts", rows=[], name=None),
        "why": lambda: render.message(
            "why",
            card=why_card(workload(text), events(text), pods(text), history(text), NOW),
        ),
        "why-empty": lambda: render.message(
            "why",
            card=why_card(
                workload("x").model_copy(update={"conditions": [], "phase_message": None}),
                [],
                [],
                [],
                NOW,
            ),
        ),
        "history": lambda: render.message(
            "history",
            card=history_card(text, WID, revisions(text), lambda r: "U0123ABC"),
        ),
        "history-one": lambda: render.message(
            "history", card=history_card(text, WID, revisions(text, 1), lambda r: None)
        ),
        "rollback_confirm": lambda: render.message(
            "rollback_confirm", name=text, plan=rollback_plan(revisions(text)[0], current)
        ),
        "rollback_confirm-nothing": lambda: render.message(
            "rollback_confirm",
            name=text,
            plan=rollback_plan(revisions("x", 1)[0], revision_spec("x")),
        ),
    }


def revision_spec(text: str) -> models.InferenceSpecSpec:
    """The spec the first revision of `revisions(text)` describes."""
    return models.InferenceSpecSpec(
        image=f"{text}:0",
        command=f"{text}0",
        args=f"{text}0",
        environment_variables=[
            models.EnvironmentVariable(name=f"{text[:50]}0", value="v"),
            models.EnvironmentVariable(name="K0", value=text),
        ],
        compute=models.Compute(gpu_devices_request=1, cpu_memory_request="1Gi"),
        autoscaling=models.AutoScaling(min_replicas=1, max_replicas=1),
    )


@pytest.mark.parametrize("text", ["llama-chat", HOSTILE, LONG])
@pytest.mark.parametrize("name", sorted(alert_messages("x")))
def test_templates(name: str, text: str) -> None:
    assert_valid_message(alert_messages(text)[name]())


def test_firing_reply_says_value_rule_and_since_with_its_buttons() -> None:
    payload = alert_messages("my-qwen")["watch_alert_firing"]()
    first = payload["blocks"][0]["text"]["text"]
    assert "latency above 500 ms for 5 min" in first
    assert "612.5 ms" in first and "2026-03-01 11:53 UTC" in first and "7m ago" in first
    assert payload["blocks"][1]["type"] == "image"
    buttons = payload["blocks"][2]["elements"]
    assert [b["text"]["text"] for b in buttons] == ["Snooze 1 h", "Snooze 24 h", "Why?"]
    assert [b["action_id"] for b in buttons] == [Action.SNOOZE_1H, Action.SNOOZE_24H, Action.WHY]
    assert buttons[2]["value"] == WID


def test_resolved_reply_says_how_long_it_fired() -> None:
    text = alert_messages("my-qwen")["watch_alert_resolved"]()["blocks"][0]["text"]["text"]
    assert "resolved, latency above 500 ms for 5 min" in text and "80 ms" in text
    assert "after firing for 19m" in text


def test_lists_and_history_cap_their_blocks() -> None:
    alerts = alert_messages("x")["alerts"]()
    removes = [b for b in alerts["blocks"] if b.get("accessory", {}).get("action_id")]
    assert len(removes) == 40 and "and 20 more" in alerts["blocks"][-1]["elements"][0]["text"]
    assert {b["accessory"]["action_id"] for b in removes} == {Action.REMOVE_ALERT}
    hist = alert_messages("x")["history"]()
    rollbacks = [b for b in hist["blocks"] if "accessory" in b]
    assert len(rollbacks) == 14  # 15 shown, the newest is in force
    assert "<@U0123ABC>" in hist["blocks"][1]["text"]["text"]
    assert "5 older revisions not shown" in hist["blocks"][-1]["elements"][0]["text"]
    one = alert_messages("x")["history-one"]()
    assert "made outside Slack" in one["blocks"][1]["text"]["text"]


def test_rollback_confirmation_names_what_changes() -> None:
    payload = alert_messages("x")["rollback_confirm"]()
    text = payload["blocks"][0]["text"]["text"]
    assert "image `now` → `x:0`" in text
    assert [b["action_id"] for b in payload["blocks"][1]["elements"]] == [
        Action.CONFIRM_ROLLBACK,
        Action.CANCEL_ROLLBACK,
    ]
    nothing = alert_messages("x")["rollback_confirm-nothing"]()
    assert len(nothing["blocks"]) == 1 and "already matches" in nothing["text"]


def test_why_lists_ten_events_and_pods() -> None:
    payload = alert_messages("x")["why"]()
    contexts = [b for b in payload["blocks"] if b["type"] == "context"]
    assert len(contexts) == 11  # conditions + 10 events
    pods_text = next(
        b["text"]["text"]
        for b in payload["blocks"]
        if b.get("text", {}).get("text", "").startswith("*Pods*")
    )
    assert pods_text.count("\n• ") == 10 and "…and 4 more" in pods_text


def test_every_id_in_these_templates_is_declared() -> None:
    known = {a.value for a in Action}
    for name in (
        "watch_alert_firing",
        "watch_stuck",
        "watch_flapping",
        "alerts",
        "history",
        "rollback_confirm",
    ):
        text = (render.TEMPLATES_DIR / "messages" / f"{name}.json.j2").read_text()
        ids = set(re.findall(r'"action_id": "([^"{]+)', text))
        assert ids and ids <= known, (name, ids - known)


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=3000))
def test_any_runai_text_stays_within_limits(text: str) -> None:
    assert_valid_message(
        render.message(
            "why",
            card=why_card(workload(text or "x"), events(text), pods(text), history(text), NOW),
        )
    )
    assert_valid_message(
        render.message("watch_stuck", card=stuck_card(WID, text, "Pending", MIN, events(text), NOW))
    )
