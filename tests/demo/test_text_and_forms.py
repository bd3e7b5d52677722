"""The demo console's pure parts: Block Kit → text, modal → prompted form."""

from __future__ import annotations

import pytest

from bot.demo.forms import AnswerError, form_fields, parse_answer, submission
from bot.demo.text import mrkdwn_to_text, render_blocks


def test_mrkdwn_becomes_readable_text() -> None:
    text = "*llama* by <@U123> in <#C1|general>: <https://x.test|the URL> &lt;b&gt; :rocket:"
    assert mrkdwn_to_text(text) == "llama by @U123 in #general: the URL (https://x.test) <b> 🚀"


def test_bare_mentions_show_names_as_slack_does() -> None:
    names = {"C0001": "general", "U0001": "you"}
    text = "*delete* by <@U0001> in <#C0001> · <@U9999> in <#C9999|ops>"
    assert mrkdwn_to_text(text, names) == "delete by @you in #general · @U9999 in #ops"
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "in <#C0001>"}}]
    assert render_blocks(blocks, names=names).lines == ["in #general"]


def test_escaped_hostile_text_is_shown_as_typed_not_as_a_mention() -> None:
    assert mrkdwn_to_text("&lt;!channel&gt; &amp;") == "<!channel> &"


def _button(action_id: str, text: str, value: str | None = None) -> dict[str, object]:
    button: dict[str, object] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text},
    }
    if value is not None:
        button["value"] = value
    return button


def test_buttons_are_numbered_across_blocks() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Delete llama?"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "It is *Running*."},
            "accessory": _button("a", "Open"),
        },
        {
            "type": "actions",
            "block_id": "b",
            "elements": [_button("del", "Delete", "w1"), _button("keep", "Cancel")],
        },
    ]
    shown = render_blocks(blocks, first_button=4)
    assert shown.lines[0] == "DELETE LLAMA?"
    assert "It is Running." in shown.lines
    assert [(b.number, b.text, b.action_id) for b in shown.buttons] == [
        (4, "Open", "a"),
        (5, "Delete", "del"),
        (6, "Cancel", "keep"),
    ]
    assert shown.lines[-1].strip() == "[4] Open  [5] Delete  [6] Cancel"


MODAL = [
    {
        "type": "input",
        "block_id": "name",
        "label": {"type": "plain_text", "text": "Name"},
        "element": {"type": "plain_text_input", "action_id": "v", "initial_value": "llama"},
    },
    {
        "type": "input",
        "block_id": "project",
        "label": {"type": "plain_text", "text": "Project"},
        "element": {
            "type": "static_select",
            "action_id": "v",
            "options": [
                {"text": {"type": "plain_text", "text": "team-a"}, "value": "1"},
                {"text": {"type": "plain_text", "text": "team-b"}, "value": "2"},
            ],
        },
    },
    {
        "type": "input",
        "block_id": "env",
        "optional": True,
        "label": {"type": "plain_text", "text": "Env"},
        "element": {"type": "plain_text_input", "action_id": "v", "multiline": True},
    },
]


def test_form_fields_read_labels_defaults_and_choices() -> None:
    name, project, env = form_fields(MODAL)
    assert name.prompt() == "Name [llama]: "
    assert [c.text for c in project.choices] == ["team-a", "team-b"]
    assert env.optional and env.multiline and env.prompt() == "Env (optional): "


@pytest.mark.parametrize("typed", ["2", "team-b", "TEAM-B", "team-b ", "2 "])
def test_a_choice_by_number_name_or_prefix(typed: str) -> None:
    project = form_fields(MODAL)[1]
    assert parse_answer(project, typed) == "2"


def test_enter_keeps_dash_clears_unknown_choice_is_refused() -> None:
    name, project, _ = form_fields(MODAL)
    assert parse_answer(name, "") == "llama"
    assert parse_answer(name, "-") is None
    with pytest.raises(AnswerError, match="1\\) team-a, 2\\) team-b"):
        parse_answer(project, "team-c")
    with pytest.raises(AnswerError):
        parse_answer(project, "team")  # a prefix of both is not a choice


def test_submission_has_every_input_in_slack_shape() -> None:
    fields = form_fields(MODAL)
    values = submission(fields, {"project": "1", "name": None})
    assert values == {"name": {"v": ""}, "project": {"v": "1"}, "env": {"v": ""}}
