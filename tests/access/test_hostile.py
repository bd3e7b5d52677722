"""Hostile and broken input, property-based: the parser, the modal validators and the
renderer never raise on any text, and what they render stays within Slack's limits and
escaped. Plus the oversized cases: a 10 kB command, 3,000-character fields, 100 env vars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.access.admit import asker_of, replay_key, submission_key
from bot.fakeslack import RunningFakeSlack, block_problems, view_problems
from bot.policy import Caller, ProjectRef, parse_policy, summarize
from bot.runai import models
from bot.slack import commands, intake, parsing, render
from bot.slack.errors import Problem
from bot.slack.ids import Field
from bot.slack.modals import api_errors
from bot.slack.modals import create as create_modal
from bot.slack.modals import hf_token as hf_token_modal
from bot.slack.modals import scale as scale_modal
from bot.slack.modals import update as update_modal
from bot.slack.modals.fields import ModalContext
from bot.slack.present import list_rows, workload_card
from tests.access.harness import FORM, guarded_bot
from tests.conftest import RunningEmulator

pytest_plugins = ["tests.fakes.fixtures"]

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MARKUP = ("<!channel>", "<!here>", "<@U999>", "<https://evil|click>", "<#C999>")

# Text a user could type: any unicode, with Slack markup and JSON breakers mixed in.
hostile = st.one_of(
    st.text(max_size=300),
    st.lists(
        st.sampled_from([*MARKUP, "&", "\\", '"', "\n", "{{", "}}", "{%", "\u2019", "\x00", " "])
        | st.text(max_size=20),
        max_size=30,
    ).map("".join),
)
words = st.lists(
    st.sampled_from([*parsing.SUBCOMMANDS, "--since", "--pod", "1h", "0", "-1", "99999999"])
    | st.text(min_size=1, max_size=40),
    max_size=8,
).map(" ".join)


def _mrkdwn(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            found.append(node["text"])
        for value in node.values():
            found.extend(_mrkdwn(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_mrkdwn(item))
    return found


def _clean_message(payload: dict[str, Any]) -> None:
    assert block_problems(payload["blocks"]) == []
    assert render.message_problems(payload) == []
    for text in [*_mrkdwn(payload), payload["text"]]:
        for raw in MARKUP:
            assert raw not in text


@FAST
@given(st.one_of(hostile, words))
def test_any_command_text_parses_or_says_why(text: str) -> None:
    try:
        command = parsing.parse(text)
    except parsing.ParseError as exc:
        assert exc.message and len(exc.message) < 500
        _clean_message(commands.help_message(exc.message, exc.usage))
        return
    assert command is not None


def test_oversized_command_text_is_refused_plainly() -> None:
    for text in ("status " + "a" * 10_000, "x" * 10_240, "list " + "1 " * 5000):
        try:
            parsing.parse(text)
        except parsing.ParseError as exc:
            assert "too long" in exc.message
        else:
            raise AssertionError("10 kB accepted")


field_values = st.dictionaries(
    st.sampled_from(list(Field)),
    st.one_of(hostile, st.text(max_size=3000), st.integers(-5, 5000).map(str)),
)


@FAST
@given(field_values)
def test_modal_validators_never_raise(values: dict[Field, str]) -> None:
    for validate, fields in (
        (create_modal.validate_create, api_errors.CREATE_FIELDS),
        (scale_modal.validate_scale, api_errors.SCALE_FIELDS),
        (update_modal.validate_update, api_errors.UPDATE_FIELDS),
    ):
        result = validate(values)  # type: ignore[operator]
        if isinstance(result, dict):
            assert result, "errors, but none named"
            assert set(result) <= {f.value for f in fields}
            assert all(isinstance(m, str) and 0 < len(m) <= 2000 for m in result.values())
    token = hf_token_modal.validate_hf_token(values)
    assert isinstance(token, str | dict)


@FAST
@given(field_values, hostile)
def test_any_form_values_render_a_valid_modal(values: dict[Field, str], text: str) -> None:
    ctx = ModalContext(channel_id="C1", workload_id="w", name=text[:60], model=None)
    projects = [models.Project(id="1", name=text[:200] or "p")]
    clusters = [models.Cluster(uuid="c", name=text[:200] or "c")]
    for view in (
        create_modal.create_view(
            (projects, clusters),
            values,
            ctx,
            errors={f.value: text[:200] or "x" for f in api_errors.CREATE_FIELDS},
            notice=Problem(text or "x", text or None),
        ),
        scale_modal.scale_view(text[:60], text[:60], values, ctx, notice=Problem(text or "x")),
        update_modal.update_view(text[:60], values, ctx, 3, notice=Problem(text or "x")),
    ):
        assert view_problems(view) == []
        assert render.view_problems(view) == []
        for t in _mrkdwn(view):
            for raw in MARKUP:
                assert raw not in t


def test_full_fields_and_a_hundred_env_vars() -> None:
    env = "\n".join(f"VAR_{i}={'v' * 20}" for i in range(100))
    values = {
        Field.NAME: "big-one",
        Field.PROJECT: "1",
        Field.CLUSTER: "c",
        Field.IMAGE: "vllm/vllm-openai:v0.6.3",
        Field.ARGS: "a" * 3000,
        Field.COMMAND: "c" * 3000,
        Field.PORT: "8000",
        Field.ENV: env,
        Field.MIN_REPLICAS: "1",
        Field.MAX_REPLICAS: "1",
    }
    sub = create_modal.validate_create(values)
    assert isinstance(sub, create_modal.CreateSubmission) and len(sub.env) == 100
    request = create_modal.creation_request(sub)
    assert request.spec.environment_variables is not None
    too_many = create_modal.validate_create({**values, Field.ENV: env + "\nONE_MORE=1"})
    assert isinstance(too_many, dict) and Field.ENV in too_many
    ctx = ModalContext(channel_id="C1")
    orgs = ([models.Project(id="1", name="a")], [models.Cluster(uuid="c", name="c")])
    view = create_modal.create_view(orgs, values, ctx)
    assert view_problems(view) == []


workload = st.builds(
    models.Workload,
    id=st.uuids().map(str),
    name=hostile.map(lambda t: t[:300] or "w"),
    type=st.just("inference"),
    phase=st.sampled_from(["Running", "Failed", "Pending", None]),
    phase_message=st.one_of(st.none(), hostile),
    project_id=st.just("1"),
    project_name=st.one_of(st.none(), hostile),
    urls=st.lists(hostile, max_size=3),
    images=st.lists(hostile, max_size=2),
)


@FAST
@given(workload, hostile)
def test_any_workload_renders_within_limits_and_escaped(w: models.Workload, text: str) -> None:
    _clean_message(render.message("status", w=workload_card(w)))
    _clean_message(render.message("delete_confirm", w=workload_card(w)))
    rows = list_rows([w] * 30, {w.id})
    _clean_message(
        render.message(
            "list",
            rows=rows,
            page=1,
            has_next=True,
            followed_count=len(rows),
            narrowed=text,
            next_value=text,
            prev_value=text,
        )
    )
    _clean_message(render.message("error", sentence=text or "x", detail=text or None))
    _clean_message(render.message("notice", emoji=":x:", text=text or "x", user="U1", detail=text))


entry = st.fixed_dictionaries(
    {
        "emoji": st.just(":white_check_mark:"),
        "when": st.just("2026-11-27 02:00 UTC"),
        "action": st.sampled_from(["create", "scale", "denied"]),
        "user": hostile.map(lambda t: t[:40] or "U1"),
        "channel": st.one_of(st.none(), hostile.map(lambda t: t[:40])),
        "outcome": st.sampled_from(["ok", "denied", "failed"]),
        "rule": st.one_of(st.none(), hostile),
        "summary": st.text(max_size=2000) | hostile,
    }
)


@FAST
@given(hostile, st.lists(entry, max_size=60))
def test_audit_and_policy_answers_within_limits(ref: str, entries: list[dict[str, Any]]) -> None:
    _clean_message(render.message("audit_trail", ref=ref or "x", entries=entries))
    names = [ref[:300] or "p", *(e["summary"][:200] or "q" for e in entries)]
    policy = parse_policy("projects: {}")
    summary = summarize(
        policy, Caller("U1", "C1"), [ProjectRef(str(i), n) for i, n in enumerate(names)]
    )
    _clean_message(render.message("policy_summary", s=summary, user="U1"))
    _clean_message(render.message("audit_unavailable"))


def test_policy_answer_for_a_bound_admin() -> None:
    policy = parse_policy("admins: [U1]\nchannels: {C1: [team-a]}\ncaps: {max_replicas: 2}")
    s = summarize(policy, Caller("U1", "C1"), [ProjectRef("1", "team-a"), ProjectRef("2", "b")])
    payload = render.message("policy_summary", s=s, user="U1")
    _clean_message(payload)
    text = str(payload)
    assert "bot admin" in text and "at most 2 replicas" in text and "'b'" not in text


async def test_oversized_input_through_the_app(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with guarded_bot(emulator, fake_slack, tmp_path) as g:
        response = await g.bot.driver.command("/inference", "status " + "<!channel>" * 1024)
        assert response.status_code == 200
        refused = await g.bot.reply_with("too long")
        assert "<!channel>" not in str(refused.blocks) + refused.text

        await g.bot.driver.command("/inference", "create")
        view = await g.bot.view("inference_create")
        env = "\n".join(f"VAR_{i}=v{i}" for i in range(100))
        big = {
            **FORM,
            "f_name": "big-one",
            "f_args": "--x " + "a" * 2990,
            "f_command": "c" * 3000,
            "f_env": env,
        }
        await g.bot.driver.submit_view(view, {**big, "f_env": env + "\nONE_MORE=1"})
        assert "f_env" in view.errors
        await g.bot.driver.submit_view(view, big)
        await g.fake.wait_for(lambda: view.closed or None)
        (created,) = await g.bot.runai.find_inferences("big-one")
        inference = await g.bot.runai.get_inference(created.id)
        assert inference.spec is not None and len(inference.spec.environment_variables or []) == 100
        entry = await g.wait_entry("ok", "create")
        assert "VAR_99" in entry.summary or "…" in entry.summary


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
slack_keys = st.sampled_from(
    [
        "command",
        "text",
        "user_id",
        "channel_id",
        "type",
        "user",
        "actions",
        "view",
        "trigger_id",
        "event_id",
        "container",
        "channel",
        "id",
        "state",
        "values",
        "private_metadata",
        "callback_id",
        "action_id",
        "value",
    ]
)
bodies = st.dictionaries(
    slack_keys,
    st.one_of(
        json_values,
        st.sampled_from(
            ["block_actions", "view_submission", "/inference", "create", "scale x 1 1"]
        ),
        st.dictionaries(slack_keys, json_values, max_size=4),
    ),
    max_size=8,
)


@FAST
@given(bodies)
def test_the_middleware_reads_any_body_without_raising(body: dict[str, Any]) -> None:
    asker = asker_of(body)
    assert asker is None or isinstance(asker.user, str)
    replay_key(body)
    submission_key(body)
    intake.malformed(body)
