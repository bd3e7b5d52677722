"""Every care_ template: rendered with sample and hostile data, checked by the project's
Block Kit checker, parsed by slack_sdk, escaped."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from bot.cron import CronRule
from bot.policy.model import IdleAction, IdleRule
from bot.slack import render
from bot.slack.ids import Action
from bot.slack.threads import thread_message
from bot.watch.care.digest import DigestRow, build_digest
from bot.watch.care.idle import IdleObservation, nudge
from bot.watch.care.schedule_rules import listing, summarize
from bot.watch.care.usage import Sample
from tests.slack.payload_checks import HOSTILE, LONG, assert_valid_message

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
RULE = CronRule.of("0 19 * * 1-5", "Europe/Berlin")


def _row(i: int, text: str) -> DigestRow:
    return DigestRow(
        workload_id=f"id-{i}",
        name=f"{text[:63]}{i}",
        project=f"{text}{i % 30}",
        phase=text,
        running=i,
        min_replicas=None if i % 3 else 1,
        max_replicas=None if i % 3 else 3,
        gpus=i % 4,
        gpu_hours_24h=float(i),
        requests_24h=None if i % 5 == 0 else 12345.0 * i,
        p95_latency_ms=1500.0 if i % 2 else None,
        idle=i % 7 == 0,
    )


def _messages(text: str) -> dict[str, Callable[[], dict[str, Any]]]:
    obs = IdleObservation("w-1", text, 2.5, None, [Sample(NOW - timedelta(hours=1), 0.0)])
    rule = IdleRule(after=timedelta(hours=48), action=IdleAction.SCALE_TO_ZERO)
    summaries = [summarize(i, text, RULE, 0, 1, NOW, author="U0ALICE") for i in range(1, 50)]
    shown, more = listing(summaries)
    never = summarize(3, text, CronRule.of("0 0 1 1 *"), 1, 2, NOW, count=0)
    return {
        "care_idle_nudge": lambda: render.message(
            "care_idle_nudge", n=nudge(obs, timedelta(hours=24), None, "USD")
        ),
        "care_idle_nudge-auto-money": lambda: render.message(
            "care_idle_nudge", n=nudge(obs, timedelta(hours=48), Decimal("2.5"), "EUR", rule)
        ),
        "care_idle_note": lambda: render.message(
            "care_idle_note", emoji=":robot_face:", text=f"Scaling {text} to zero."
        ),
        "care_schedule_created": lambda: render.message(
            "care_schedule_created", s=summarize(12, text, RULE, 0, 1, NOW, author="U0ALICE")
        ),
        "care_schedule_created-never": lambda: render.message("care_schedule_created", s=never),
        "care_schedules": lambda: render.message(
            "care_schedules", schedules=shown, more=more, narrowed=text
        ),
        "care_schedules-one": lambda: render.message(
            "care_schedules", schedules=shown[:1], more=0, narrowed=None
        ),
        "care_schedules-empty": lambda: render.message(
            "care_schedules", schedules=(), more=0, narrowed=text
        ),
        "care_digest": lambda: render.message(
            "care_digest",
            d=build_digest([_row(i, text) for i in range(120)], NOW, "UTC", Decimal("2.50"), "USD"),
        ),
        "care_digest-small": lambda: render.message(
            "care_digest", d=build_digest([_row(1, text)], NOW, "UTC", None, "USD")
        ),
        "care_digest-empty": lambda: render.message(
            "care_digest", d=build_digest([], NOW, "UTC", None, "USD")
        ),
    }


@pytest.mark.parametrize("text", ["my-qwen", HOSTILE, LONG])
@pytest.mark.parametrize("name", sorted(_messages("x")))
def test_care_templates(name: str, text: str) -> None:
    assert_valid_message(_messages(text)[name]())


def test_every_care_template_is_covered() -> None:
    files = {
        p.name.removesuffix(".json.j2")
        for p in (render.TEMPLATES_DIR / "messages").glob("care_*.json.j2")
    }
    assert files == {n.split("-")[0] for n in _messages("x")}


def test_the_nudge_has_its_three_buttons_carrying_the_workload() -> None:
    obs = IdleObservation("w-1", "my-qwen", 2, None, [])
    payload = render.message("care_idle_nudge", n=nudge(obs, timedelta(hours=24), None, "USD"))
    buttons = payload["blocks"][-1]["elements"]
    assert [(b["action_id"], b["text"]["text"], b["value"]) for b in buttons] == [
        (Action.IDLE_SCALE_TO_ZERO, "Scale to zero", "w-1"),
        (Action.IDLE_DELETE, "Delete", "w-1"),
        (Action.IDLE_KEEP, "Keep for 7 days", "w-1"),
    ]
    assert payload["text"] == (
        "my-qwen served no requests in the last 24 h while holding 2 GPUs: 48 GPU-hours."
    )


def test_the_schedule_reply_says_the_rule_and_the_next_three_times() -> None:
    payload = render.message(
        "care_schedule_created", s=summarize(12, "my-qwen", RULE, 0, 1, NOW, author="U0ALICE")
    )
    text = payload["blocks"][0]["text"]["text"]
    assert "At 07:00 PM, Monday through Friday (Europe/Berlin): scale my-qwen to 0\u20131." in text
    assert "Next: Wed 2 Dec 2026, 07:00 PM CET · Thu 3 Dec 2026" in text
    assert "`/inference unschedule 12`" in payload["blocks"][1]["elements"][0]["text"]


def test_each_listed_schedule_has_a_remove_button_with_its_id() -> None:
    shown, more = listing([summarize(i, "w", RULE, 0, 1, NOW) for i in (4, 9)])
    payload = render.message("care_schedules", schedules=shown, more=more, narrowed=None)
    removes = [b["accessory"] for b in payload["blocks"] if "accessory" in b]
    assert [(r["action_id"], r["value"]) for r in removes] == [
        (Action.REMOVE_SCHEDULE, "4"),
        (Action.REMOVE_SCHEDULE, "9"),
    ]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(max_size=200), st.text(max_size=200), st.text(max_size=50)),
        max_size=120,
    )
)
def test_any_digest_stays_within_slack_limits(rows: list[tuple[str, str, str]]) -> None:
    digest = build_digest(
        [
            DigestRow(f"id-{i}", name, project, phase, i, 0, 1000, 1e6, 1e9, 1e12, 1e7, i % 2 == 0)
            for i, (name, project, phase) in enumerate(rows)
        ],
        NOW,
        "UTC",
        Decimal("123456.78"),
        "USD",
    )
    payload = render.message("care_digest", d=digest)
    assert render.message_problems(payload) == []
    for block in Block.parse_all(payload["blocks"]):
        block.validate_json()


def test_a_queued_digest_renders_as_the_digest_itself() -> None:
    # The daily digest goes through the outbox: its data is stored as JSON and rendered
    # by the notifier from that; the message must be the one `digest now` posts.
    digest = build_digest([_row(i, HOSTILE) for i in range(45)], NOW, "UTC", Decimal("2.5"), "EUR")
    stored = json.loads(json.dumps(dataclasses.asdict(digest)))
    payload = thread_message("care_digest", d=stored)
    assert payload == render.message("care_digest", d=digest)
    assert_valid_message(payload)
