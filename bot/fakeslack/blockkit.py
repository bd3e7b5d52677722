"""Block Kit checks the fake applies to what the bot sends, like Slack's own rejections.

slack_sdk.models validate most per-element limits when parsed and serialised; Slack also
rejects what those models skip (blocks per message, section fields, duplicate ids,
initial options not among the options, inputs without submit), so those are checked here.
"""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS_MAX = 50
MODAL_BLOCKS_MAX = 100
MESSAGE_TEXT_MAX = 40_000
SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_MAX = 2000
PLAIN_TEXT_INPUT_MAX = 3000
VIEW_MAX_BYTES = 250_000

_SELECTS_WITH_OPTIONS = {
    "static_select",
    "multi_static_select",
    "radio_buttons",
    "checkboxes",
    "overflow",
}


def _text_of(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return ""


def _elements(block: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key in ("accessory", "element"):
        el = block.get(key)
        if isinstance(el, dict):
            out.append(el)
    if block.get("type") == "actions":
        out.extend(e for e in block.get("elements") or [] if isinstance(e, dict))
    return out


def _option_values(el: dict[str, Any]) -> set[str]:
    values: set[str] = set()
    for opt in el.get("options") or []:
        if isinstance(opt, dict):
            values.add(str(opt.get("value")))
    for group in el.get("option_groups") or []:
        if isinstance(group, dict):
            for opt in group.get("options") or []:
                if isinstance(opt, dict):
                    values.add(str(opt.get("value")))
    return values


def _element_problems(where: str, el: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    kind = el.get("type")
    if kind in _SELECTS_WITH_OPTIONS:
        values = _option_values(el)
        initial = el.get("initial_option")
        if isinstance(initial, dict) and str(initial.get("value")) not in values:
            problems.append(f"{where}: initial_option must be one of the options")
        for opt in el.get("initial_options") or []:
            if isinstance(opt, dict) and str(opt.get("value")) not in values:
                problems.append(f"{where}: initial_options must be among the options")
    if kind == "plain_text_input":
        max_length = el.get("max_length")
        min_length = el.get("min_length")
        if isinstance(max_length, int) and not 1 <= max_length <= PLAIN_TEXT_INPUT_MAX:
            problems.append(f"{where}: max_length must be between 1 and {PLAIN_TEXT_INPUT_MAX}")
        if isinstance(min_length, int) and not 0 <= min_length <= PLAIN_TEXT_INPUT_MAX:
            problems.append(f"{where}: min_length must be between 0 and {PLAIN_TEXT_INPUT_MAX}")
        if isinstance(min_length, int) and isinstance(max_length, int) and min_length > max_length:
            problems.append(f"{where}: min_length must not exceed max_length")
        initial_value = el.get("initial_value")
        if (
            isinstance(initial_value, str)
            and isinstance(max_length, int)
            and len(initial_value) > max_length
        ):
            problems.append(f"{where}: initial_value longer than max_length")
    return problems


def block_problems(blocks: Any, *, limit: int = MESSAGE_BLOCKS_MAX) -> list[str]:
    """Why Slack would refuse these blocks (empty list = accepted)."""
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return ["blocks must be a JSON array"]
    if not isinstance(blocks, list):
        return ["blocks must be an array"]
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(f"no more than {limit} items allowed [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for i, raw in enumerate(blocks):
        where = f"[json-pointer:/blocks/{i}]"
        if not isinstance(raw, dict) or "type" not in raw:
            problems.append(f"{where}: a block must be an object with a type")
            continue
        try:
            parsed = Block.parse(dict(raw))
            if parsed is None:
                problems.append(f"{where}: unknown block type {raw.get('type')!r}")
                continue
            parsed.to_dict()
        except SlackObjectFormationError as exc:
            problems.append(f"{where}: {exc}")
            continue
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            problems.append(f"{where}: malformed block ({exc})")
            continue
        block_id = raw.get("block_id")
        if isinstance(block_id, str):
            if block_id in block_ids:
                problems.append(f"{where}: duplicate block_id {block_id!r}")
            block_ids.add(block_id)
        if raw["type"] == "section":
            text, fields = raw.get("text"), raw.get("fields")
            if not text and not fields:
                problems.append(f"{where}: a section needs text or fields")
            if len(_text_of(text)) > SECTION_TEXT_MAX:
                problems.append(f"{where}: section text longer than {SECTION_TEXT_MAX}")
            if isinstance(fields, list):
                if len(fields) > SECTION_FIELDS_MAX:
                    problems.append(f"{where}: more than {SECTION_FIELDS_MAX} fields")
                for f in fields:
                    if len(_text_of(f)) > SECTION_FIELD_TEXT_MAX:
                        problems.append(f"{where}: field text longer than {SECTION_FIELD_TEXT_MAX}")
        action_ids: set[str] = set()
        for el in _elements(raw):
            action_id = el.get("action_id")
            if isinstance(action_id, str):
                if action_id in action_ids:
                    problems.append(f"{where}: duplicate action_id {action_id!r}")
                action_ids.add(action_id)
            problems.extend(_element_problems(where, el))
    return problems


def view_problems(view: Any) -> list[str]:
    """Why Slack would refuse this view in views.open/push/update (empty = accepted)."""
    if isinstance(view, str):
        try:
            view = json.loads(view)
        except ValueError:
            return ["view must be a JSON object"]
    if not isinstance(view, dict):
        return ["view must be an object"]
    problems = block_problems(view.get("blocks") or [], limit=MODAL_BLOCKS_MAX)
    if problems:
        return problems
    if view.get("type") == "modal":
        if not view.get("title"):
            problems.append("[json-pointer:/view/title] title is required for a modal")
        has_input = any(
            isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or []
        )
        if has_input and not view.get("submit"):
            problems.append(
                "[json-pointer:/view/submit] submit is required when a modal has input blocks"
            )
    if len(json.dumps(view)) > VIEW_MAX_BYTES:
        problems.append("view_too_large")
    try:
        View(**view).to_dict()
    except SlackObjectFormationError as exc:
        problems.append(f"[json-pointer:/view] {exc}")
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        problems.append(f"[json-pointer:/view] malformed view ({exc})")
    return problems


def input_block_ids(view: dict[str, Any]) -> set[str]:
    """block_ids of the view's input blocks (where response_action errors may point)."""
    return {
        str(b["block_id"])
        for b in view.get("blocks") or []
        if isinstance(b, dict) and b.get("type") == "input" and b.get("block_id")
    }
