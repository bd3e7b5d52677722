"""Every template: rendered with sample (and hostile, oversized) data and checked by the one
Block Kit checker (bot/slack/blockkit.py: slack_sdk models plus the limits they skip)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.runai import models
from bot.slack import render
from bot.slack.errors import Problem
from bot.slack.ids import Field
from bot.slack.modals import api_errors, fields, submit
from bot.slack.modals import create as create_modal
from bot.slack.modals import scale as scale_modal
from bot.slack.modals import update as update_modal
from bot.slack.parsing import USAGES
from bot.slack.present import (
    Choice,
    list_rows,
    model_card,
    series_stats,
    workload_card,
)
from tests.slack.payload_checks import HOSTILE, LONG, assert_valid_message, assert_valid_view
from tests.slack.test_render_alerts import alert_messages


def _workload(name: str = "llama", text: str = HOSTILE) -> models.Workload:
    return models.Workload(
        id="0b9a5c43-3f5e-4e7a-9d35-2f6a1b8c7d10",
        name=name,
        type="inference",
        phase="Failed",
        phase_message=text,
        project_id="1",
        project_name=text,
        running_pods=1,
        requested_pods=models.RequestedPods(min=1, max=3),
        urls=[f"https://x.example/{text}"] * 20,
        images=[text],
        conditions=[models.Condition(type="Ready", status="False", message=text)] * 8,
        created_at=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        submitted_by=text,
    )


def _inference(text: str = HOSTILE) -> models.Inference:
    return models.Inference(
        name="llama",
        workload_id="0b9a5c43-3f5e-4e7a-9d35-2f6a1b8c7d10",
        project_id="1",
        cluster_id="c",
        created_by=text,
        spec=models.InferenceSpecSpec(
            image=text,
            compute=models.Compute(gpu_devices_request=1, gpu_memory_request="20Gi"),
            autoscaling=models.AutoScaling(min_replicas=1, max_replicas=3),
        ),
    )


def _measurement(kind: str) -> models.Measurement:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return models.Measurement(
        type=kind,
        values=[
            models.MetricValue(value=float(i), timestamp=start + timedelta(minutes=i))
            for i in range(20)
        ],
    )


ORGS = (
    [models.Project(id=str(i), name=f"{HOSTILE}{i}" * 5) for i in range(150)],
    [models.Cluster(uuid="c-1", name=HOSTILE)],
)


def _messages(text: str) -> dict[str, Callable[[], dict[str, Any]]]:
    info = models.ModelInfo(
        model_name="org/" + text[:40],
        pipeline_tag=text,
        architectures=[text] * 30,
        vllm_supporting_versions=[text] * 30,
        min_memory_requirements_mb=16_000,
    )
    stats = [s for s in (series_stats(_measurement(k)) for k in ("THROUGHPUT", "LATENCY")) if s]
    rows = list_rows([_workload(f"w{i}", text) for i in range(20)], {"x"})
    return {
        "help": lambda: render.message("help", usages=USAGES, error=None, usage=None),
        "help-error": lambda: render.message("help", usages=USAGES, error=text, usage=text),
        "help-error-no-usage": lambda: render.message(
            "help", usages=USAGES, error=text, usage=None
        ),
        "error": lambda: render.message("error", sentence=text, detail=text),
        "error-no-detail": lambda: render.message("error", sentence=text, detail=None),
        "model_info": lambda: render.message(
            "model_info",
            info=model_card(info, gated=True),
            deploy_value=create_modal.deploy_value(info),
        ),
        "model_gated": lambda: render.message("model_gated", model=text, detail=text),
        "status": lambda: render.message(
            "status", w=workload_card(_workload(text=text), _inference(text))
        ),
        "status-minimal": lambda: render.message("status", w=workload_card(None, _inference(text))),
        "list": lambda: render.message(
            "list",
            rows=rows,
            page=2,
            has_next=True,
            followed_count=1,
            narrowed=text,
            next_value=text,
            prev_value=text,
        ),
        "list-empty": lambda: render.message(
            "list",
            rows=[],
            page=1,
            has_next=False,
            followed_count=0,
            narrowed="",
            next_value="2",
            prev_value="0",
        ),
        "list-none-match": lambda: render.message(
            "list",
            rows=[],
            page=3,
            has_next=False,
            followed_count=0,
            narrowed=text,
            next_value="4",
            prev_value="2",
        ),
        "choose": lambda: render.message(
            "choose",
            ref=text,
            count=40,
            choices=[Choice(text, f"status {text}") for _ in range(40)],
        ),
        "delete_confirm": lambda: render.message(
            "delete_confirm", w=workload_card(_workload(text=text))
        ),
        "notice": lambda: render.message("notice", emoji=":x:", text=text, user="U1", detail=text),
        "metrics": lambda: render.message(
            "metrics", name=text, pod=text, window="1h", series=stats, note=text
        ),
        "metrics-empty": lambda: render.message(
            "metrics", name=text, pod=None, window="1h", series=[], note=text
        ),
        "created": lambda: render.message(
            "created", w=workload_card(None, _inference(text)), user="U1"
        ),
        # alerts, why, history, rollback (watch_ ones too): samples in test_render_alerts
        **alert_messages(text),
    }


def _views(text: str) -> dict[str, Callable[[], dict[str, Any]]]:
    ctx = fields.ModalContext(channel_id="C1", workload_id="w", name=text[:100], model=text[:50])
    long_values = {f: text for f in Field}
    return {
        "loading": lambda: submit.loading_view(text, text),
        "result": lambda: submit.result_view(text, text=text),
        "result-problem": lambda: submit.result_view(text, Problem(text, text)),
        "create": lambda: create_modal.create_view(ORGS, create_modal.create_defaults(), ctx),
        "create-errors": lambda: create_modal.create_view(
            ORGS,
            long_values,
            ctx,
            errors={f: text for f in api_errors.CREATE_FIELDS},
            notice=Problem(text, text),
        ),
        "scale": lambda: scale_modal.scale_view(text, text, scale_modal.scale_values(None), ctx),
        "scale-errors": lambda: scale_modal.scale_view(
            text,
            text,
            long_values,
            ctx,
            errors={f: text for f in api_errors.SCALE_FIELDS},
            notice=Problem(text, text),
        ),
        "update": lambda: update_modal.update_view(text, update_modal.update_values(None), ctx, 3),
        "update-errors": lambda: update_modal.update_view(
            text,
            long_values,
            ctx,
            0,
            errors={f: text for f in api_errors.UPDATE_FIELDS},
            notice=Problem(text, text),
        ),
        "hf_token": lambda: render.view("hf_token", model=text, metadata=ctx.dump()),
    }


@pytest.mark.parametrize("text", ["llama-chat", HOSTILE, LONG])
@pytest.mark.parametrize("name", sorted(_messages("x")))
def test_message_templates(name: str, text: str) -> None:
    assert_valid_message(_messages(text)[name]())


@pytest.mark.parametrize("text", ["llama-chat", HOSTILE, LONG])
@pytest.mark.parametrize("name", sorted(_views("x")))
def test_view_templates(name: str, text: str) -> None:
    assert_valid_view(_views(text)[name]())


def test_every_template_file_is_covered() -> None:
    root = render.TEMPLATES_DIR
    mine = {
        p.name.removesuffix(".json.j2")
        for p in (root / "messages").glob("*.json.j2")
        # the watch room, access control and the care loops test their own templates
        if not p.name.startswith(("watch_", "policy_", "audit_", "care_"))
    }
    covered = {n.split("-")[0] for n in _messages("x")}
    assert mine <= covered
    modal_files = {p.name.removesuffix(".json.j2") for p in (root / "modals").glob("*.json.j2")}
    assert modal_files <= {n.split("-")[0] for n in _views("x")}


def test_escape_filter() -> None:
    assert render.esc("a<b>&c") == "a&lt;b&gt;&amp;c"
    assert render.esc('say "hi"\n', "plain") == 'say \\"hi\\"\\n'
    cut = render.esc("&&&&&", max=7)
    assert cut == "&amp;…"
    assert len(render.esc("x" * 100, max=10)) == 10


def test_raw_strings_are_refused(tmp_path: Path) -> None:
    (tmp_path / "messages").mkdir()
    (tmp_path / "messages" / "bad.json.j2").write_text('{"text": "{{ name }}"}')
    env = render.environment(tmp_path)
    with pytest.raises(render.RenderError, match="without the esc filter"):
        env.get_template("messages/bad.json.j2").render(name="<!channel>")
    assert env.from_string('{"n": {{ n }}}').render(n=3) == '{"n": 3}'


def test_limit_checks_catch_what_the_sdk_does_not() -> None:
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    assert render.message_problems({"text": "t", "blocks": [section] * 51})
    assert render.message_problems({"blocks": [section]})  # no fallback text
    long_section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    assert render.message_problems({"text": "t", "blocks": [long_section]})
    header = {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}
    assert render.message_problems({"text": "t", "blocks": [header]})
    button = {
        "type": "actions",
        "elements": [
            {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "x" * 76}}
        ],
    }
    assert render.message_problems({"text": "t", "blocks": [button]})
    field = {"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * 2001}]}
    assert render.message_problems({"text": "t", "blocks": [field]})
    inp = {
        "type": "input",
        "block_id": "i",
        "label": {"type": "plain_text", "text": "l"},
        "element": {"type": "plain_text_input", "action_id": "a", "max_length": 3001},
    }
    base = {"type": "modal", "title": {"type": "plain_text", "text": "t"}}
    assert render.view_problems({**base, "blocks": [inp]})
    over = {
        **inp,
        "element": {
            "type": "plain_text_input",
            "action_id": "a",
            "max_length": 5,
            "initial_value": "123456",
        },
    }
    assert render.view_problems({**base, "blocks": [over]})
    assert render.view_problems({**base, "blocks": [section] * 101})
    assert render.view_problems(
        {**base, "blocks": [section, section | {"block_id": "d"}, section | {"block_id": "d"}]}
    )
    option = {
        "type": "input",
        "block_id": "s",
        "label": {"type": "plain_text", "text": "l"},
        "element": {
            "type": "static_select",
            "action_id": "a",
            "options": [{"text": {"type": "plain_text", "text": "x" * 76}, "value": "v"}],
        },
    }
    assert render.view_problems({**base, "blocks": [option]})
    empty = {**option, "element": {"type": "static_select", "action_id": "a", "options": []}}
    assert render.view_problems({**base, "blocks": [empty]})
    with pytest.raises(render.RenderError):
        render.check_message({"text": "t", "blocks": [section] * 51})


@given(st.text(max_size=5000), st.integers(min_value=2, max_value=3000))
def test_any_text_is_escaped_and_cut_within_limits(text: str, limit: int) -> None:
    out = json.loads(f'"{render.esc(text, max=limit)}"')
    assert "<" not in out and ">" not in out
    assert len(out) <= limit
    assert "&" not in out.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")
    plain = json.loads(f'"{render.esc(text, "plain")}"')
    assert plain == "".join(c for c in text if c not in BIDI)


BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def test_bidirectional_controls_never_reach_slack() -> None:
    # "llama-\u202egnp.exe" would show as "llama-exe.png" in Slack.
    name = "llama-\u202egnp.exe"
    text = f"{BIDI}{name}"
    payload = render.message("status", w=workload_card(_workload(name=name, text=text)))
    sent = json.dumps(payload, ensure_ascii=False)
    assert not any(c in sent for c in BIDI)
    assert "llama-gnp.exe" in sent
    view = _views(text)["scale"]()  # a modal: title, plain_text inputs
    assert not any(c in json.dumps(view, ensure_ascii=False) for c in BIDI)


@given(st.text(max_size=400))
def test_any_text_in_a_status_card_stays_within_limits(text: str) -> None:
    payload = render.message(
        "status", w=workload_card(_workload(name="x", text=text), _inference(text))
    )
    assert render.message_problems(payload) == []
