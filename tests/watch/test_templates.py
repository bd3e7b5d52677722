"""Every watch_ template renders valid Block Kit, within Slack's limits, escaped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.slack.render import check_message
from bot.slack.threads import thread_message
from bot.watch.diff import Transition
from bot.watch.notifier import parent_context, reply_context
from bot.watch.outbox import OutboxItem

NASTY = "<!channel> & <https://evil.example|click me> *bold* " + "x" * 5000


def outbox(kind: str, payload: dict[str, Any]) -> OutboxItem:
    return OutboxItem(
        id=1,
        workload_id="w1",
        channel="C1",
        thread_ts="1.1",
        kind=kind,
        payload=payload,
        state="pending",
        attempts=0,
        next_attempt_at=0.0,
        claimed_by=None,
        reply_ts=None,
    )


def parent(**kw: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "workload_id": "8c1f",
        "name": NASTY,
        "project": NASTY,
        "image": NASTY,
        "replicas": NASTY,
        "url": NASTY,
        "phase": "Failed",
        "phase_message": NASTY,
        "ended": None,
    }
    p.update(kw)
    return p


def check(payload: dict[str, Any]) -> str:
    check_message(payload)  # the one Block Kit checker: slack_sdk models + what they skip
    text = str(payload)
    assert "<!channel>" not in text and "<https://evil" not in text
    return text


@pytest.mark.parametrize("ended", [None, "deleted", "unwatched"])
def test_parent(ended: str | None) -> None:
    text = check(thread_message("watch_parent", **parent_context(parent(ended=ended))))
    assert "&lt;!channel&gt;" in text


def test_parent_with_nothing_known() -> None:
    empty = {k: None for k in parent()} | {"workload_id": "w", "name": "w", "phase": "Creating"}
    check(thread_message("watch_parent", **parent_context(empty)))


def test_transition_reply_with_everything() -> None:
    t = Transition(
        old_phase="Initializing",
        new_phase="Running",
        at=datetime.now(UTC),
        phase_message=NASTY,
        conditions=(NASTY, NASTY, NASTY, NASTY),
        previous_seconds=133,
        actor_user="U1>",
        actor_action="create",
        ready_seconds=133,
        url=NASTY,
    )
    template, context, _ = reply_context(
        [outbox("transition", {"transition": t.to_json(), "parent": parent()})]
    )
    text = check(thread_message(template, **context))
    assert "2m 13s" in text and "<@U1&gt;>" in text


def test_final_reply() -> None:
    t = Transition(old_phase="Deleting", new_phase="Deleted", at=datetime.now(UTC))
    template, context, _ = reply_context(
        [outbox("transition", {"transition": t.to_json(), "parent": parent(name="llama")})]
    )
    assert "watch has ended" in check(thread_message(template, **context))


def test_record_and_unwatch_replies() -> None:
    for kind, payload in (
        ("record", {"action": "scale", "user": "U1", "summary": NASTY}),
        ("unwatch", {"user": "U1", "parent": parent()}),
    ):
        template, context, broadcast = reply_context([outbox(kind, payload)])
        check(thread_message(template, **context))
        assert not broadcast
