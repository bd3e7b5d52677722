"""The App Home and the approval templates: sample, hostile and worst-case data (a Home
with 300 endpoints), through the one Block Kit checker and slack_sdk's models."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.views import View

from bot.access.approval_actions import deny_view
from bot.access.approvals import Mention, note_message
from bot.slack import render
from bot.slack.blockkit import view_problems
from bot.slack.home import MAX_BLOCKS, HomeData, Owned, Row, build_home
from bot.watch.approval_store import Approval, ApprovalState

HOSTILE = "<!channel> <@U123> <https://evil|click> & <!here>"
LONG = (HOSTILE + " ") * 400
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _approval(text: str, state: ApprovalState = ApprovalState.PENDING) -> Approval:
    decided = state is not ApprovalState.PENDING
    return Approval(
        id="r1a2b",
        channel="C0001",
        requester="U0001",
        action="scale",
        workload_id="w1",
        workload_name=text,
        project=text,
        request={"project_id": "1", "body": {"spec": {"autoscaling": {"maxReplicas": 8}}}},
        summary=text,
        state=state,
        created_at=NOW,
        expires_at=NOW + timedelta(hours=24),
        decided_by="U0002" if decided else None,
        decided_at=NOW if decided else None,
        reason=text if state is ApprovalState.DENIED else None,
        message_channel="C0001",
        message_ts="1.000001",
        performed_at=None,
        outcome="ok" if state is ApprovalState.APPROVED else None,
    )


def _request(text: str, state: ApprovalState = ApprovalState.PENDING) -> dict[str, Any]:
    return render.message(
        "approval_request",
        a=_approval(text, state),
        pending=state is ApprovalState.PENDING,
        over=[f"8 replicas (over 4) {text}"],
        approvers=["<@U0002>", "<!subteam^S0LEADS>"],
        ttl="24 h",
        expires_ts=1772366400,
        expires=f"2026-03-01 12:00 UTC {text}",
    )


def approval_messages(text: str) -> dict[str, Callable[[], dict[str, Any]]]:
    """Samples of the approval message templates (for test_render's coverage check)."""
    return {
        "approval_request": lambda: _request(text),
        "approval_request-approved": lambda: _request(text, ApprovalState.APPROVED),
        "approval_request-denied": lambda: _request(text, ApprovalState.DENIED),
        "approval_request-expired": lambda: _request(text, ApprovalState.EXPIRED),
        "approval_note": lambda: note_message("Request ", Mention("U0002"), f" said {text}"),
    }


def approval_views(text: str) -> dict[str, Callable[[], dict[str, Any]]]:
    """Samples of the approval modal templates."""
    return {"approval_deny": lambda: deny_view("r1a2b", "C0001", text)}


def _rows(n: int, text: str, why: str = "") -> list[Row]:
    return [Row(f"id-{i}", f"{text[:50]}-{i}", text, "Running", why) for i in range(n)]


def _home(n: int, text: str) -> HomeData:
    third = n // 3
    return HomeData(
        attention=[
            Row(f"a-{i}", f"{text[:50]}-{i}", text, "Failed", text, i % 5) for i in range(third)
        ],
        yours=_rows(third, text),
        followed=_rows(n - 2 * third, text),
        schedules=[Owned(f"s{i}", text) for i in range(30)],
        alerts=[Owned(f"a{i}", text) for i in range(30)],
        at=NOW,
    )


@pytest.mark.parametrize("text", ["llama-chat", HOSTILE, LONG])
@pytest.mark.parametrize("n", [0, 1, 45, 300])
def test_home_fits_and_passes_the_checker(n: int, text: str) -> None:
    view = build_home(_home(n, text))
    assert view["type"] == "home"
    assert len(view["blocks"]) <= MAX_BLOCKS
    assert view_problems(view) == []
    assert render.view_problems(view) == []
    View(**view).validate_json()
    assert "<!channel>" not in str(view["blocks"]).replace("&lt;!channel&gt;", "")


def test_a_big_home_keeps_the_most_urgent_and_summarises_the_rest() -> None:
    data = _home(300, "model")
    data.attention[-1] = Row("failed-last", "zz-failed", "p", "Failed", "boom", 0)
    view = build_home(data)
    text = str(view["blocks"])
    # Failed first (urgency 0), even listed last.
    assert "zz-failed" in text
    headers = [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]
    assert headers[1:] == [
        "Needs attention",
        "Yours",
        "Followed in your channels",
        "Your schedules",
        "Your alerts",
    ]
    summaries = [b for b in view["blocks"] if "more:" in str(b)]
    assert summaries, "what does not fit is summarised"
    assert "…and " in str(summaries[-1])


def test_an_empty_home_says_so() -> None:
    text = str(build_home(HomeData(at=NOW))["blocks"])
    assert "Nothing needs your attention." in text
    assert "Deploy a model" in text


def test_every_endpoint_row_has_its_three_buttons() -> None:
    view = build_home(HomeData(yours=_rows(2, "m"), at=NOW))
    actions = [b for b in view["blocks"] if b["type"] == "actions"]
    ids = [[e["action_id"] for e in b["elements"]] for b in actions]
    assert ["inference_home_deploy"] in ids
    assert (
        ids.count(["inference_home_status", "inference_home_scale", "inference_home_metrics"]) == 2
    )


def test_retry_after_is_read_whatever_the_header_case() -> None:
    from bot.slack.home import _retry_after

    assert _retry_after({"Retry-After": "7"}) == 7
    assert _retry_after({"retry-after": ["3"]}) == 3
    assert _retry_after({}) == 1
    assert _retry_after({"Retry-After": "soon"}) == 1
