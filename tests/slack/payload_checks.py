"""The one way template tests check a rendered payload: the Block Kit checker
(bot/slack/blockkit.py, through render), the slack_sdk models, and no raw markup from the
sample data left unescaped where Slack would act on it."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block

from bot.slack import render

HOSTILE = "<!channel> <@U123> <https://evil|click> & <!here>"
LONG = (HOSTILE + " ") * 400  # ~20k characters
RAW_MARKUP = ("<!channel>", "<@U123>", "<https://evil|click>", "<!here>")


def mrkdwn_texts(node: Any) -> list[str]:
    """Every mrkdwn text in a payload (the texts Slack parses for mentions and links)."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            found.append(node["text"])
        for value in node.values():
            found.extend(mrkdwn_texts(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(mrkdwn_texts(item))
    return found


def assert_escaped(payload: dict[str, Any], *, fallback: bool = True) -> None:
    """No raw mention or link in any mrkdwn text (nor the fallback `text`, if `fallback`).

    plain_text (titles, buttons, input values) is never parsed for mentions by Slack; every
    mrkdwn text must be escaped.
    """
    texts = [*mrkdwn_texts(payload), *([payload["text"]] if fallback else [])]
    for text in texts:
        for raw in RAW_MARKUP:
            assert raw not in text, f"unescaped {raw} in {text[:200]}"


def assert_valid_message(payload: dict[str, Any]) -> None:
    """A message Slack takes (the Block Kit checker, the SDK models) with its sample data
    escaped in every mrkdwn text and the fallback text."""
    assert render.message_problems(payload) == []  # slack_sdk models + what they skip
    for block in Block.parse_all(payload["blocks"]):
        block.validate_json()
    assert_escaped(payload)


def assert_valid_view(payload: dict[str, Any]) -> None:
    """A view Slack takes with its sample data escaped in every mrkdwn text."""
    assert render.view_problems(payload) == []  # slack_sdk View + what it skips
    assert_escaped(payload, fallback=False)
