"""The one Block Kit checker: what Slack would refuse in a message or a view.

Blocks and views are parsed into `slack_sdk.models` objects, whose validators already hold
most of Slack's per-element limits (section text 3000, header 150, button text/value
75/2000, actions ≤ 25 elements, context ≤ 10, view title/submit/close 24, private_metadata
3000, 1..100 blocks a view: see /work/shared/slack/FACTS.md §1.7 and §2.9). The checks
below are the ones those models skip. The renderer calls this before anything is sent
(`bot/slack/render.py`) and the fake Slack calls it to refuse what real Slack refuses
(`bot/fakeslack`), so the two can never disagree about a limit again.

Problems read like Slack's own `invalid_blocks` messages (`[json-pointer:/blocks/3]: …`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

# Blocks a message may hold: https://docs.slack.dev/reference/block-kit/blocks
MESSAGE_BLOCKS_MAX = 50
# Blocks a modal or a Home tab may hold: same page; slack_sdk View checks it too.
VIEW_BLOCKS_MAX = 100
# A message's top-level `text`: chat.update refuses more with msg_too_long ("The `text`
# field cannot exceed 4,000 characters"), and chat.postMessage asks for no more than 4,000
# (it truncates above 40,000, warning message_truncated). A bot message may be updated
# later, so 4,000 is the most that is safe on every path.
# Source: slack-api-ref docs.slack.dev/methods/chat.update.json, chat.postMessage.json.
MESSAGE_TEXT_MAX = 4000
# Where chat.postMessage starts truncating (warning message_truncated, not an error).
MESSAGE_TEXT_TRUNCATED = 40_000
# Each section field: https://docs.slack.dev/reference/block-kit/blocks/section-block
# (the SDK checks the count of fields, ≤ 10, not each one's length).
SECTION_FIELD_TEXT_MAX = 2000
# Any text object (context elements included): minimum 1, maximum 3000 characters.
# https://docs.slack.dev/reference/block-kit/composition-objects/text-object
TEXT_OBJECT_MAX = 3000
# Option text / value: https://docs.slack.dev/reference/block-kit/composition-objects/option-object
# (the SDK's Option validators do not run when a select is serialised inside a block).
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
# plain_text_input min_length 0..3000, max_length 1..3000 (not validated by slack_sdk):
# https://docs.slack.dev/reference/block-kit/block-elements/plain-text-input-element
PLAIN_TEXT_INPUT_MAX = 3000
# views.open/push/update answer view_too_large above 250 kB (FACTS.md §1.3).
VIEW_MAX_BYTES = 250_000

# Elements whose choices Slack requires to be listed in the element itself.
_SELECTS_WITH_OPTIONS = frozenset(
    {"static_select", "multi_static_select", "radio_buttons", "checkboxes", "overflow"}
)


def _text_of(obj: Any) -> str:
    if isinstance(obj, Mapping):
        return str(obj.get("text", ""))
    return ""


def _elements(block: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for key in ("accessory", "element"):
        el = block.get(key)
        if isinstance(el, Mapping):
            out.append(el)
    if block.get("type") == "actions":
        out.extend(e for e in block.get("elements") or [] if isinstance(e, Mapping))
    return out


def _options(el: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    opts = [o for o in el.get("options") or [] if isinstance(o, Mapping)]
    for group in el.get("option_groups") or []:
        if isinstance(group, Mapping):
            opts.extend(o for o in group.get("options") or [] if isinstance(o, Mapping))
    return opts


def _too_long(what: str, text: str, limit: int) -> list[str]:
    if len(text) > limit:
        return [f"{what} is {len(text)} characters (limit {limit})"]
    return []


def _option_problems(where: str, el: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    listed = _options(el)
    if el.get("type") in _SELECTS_WITH_OPTIONS and not listed and not el.get("option_groups"):
        problems.append(f"{where}: {el.get('type')} has no options")
    initial = [el["initial_option"]] if isinstance(el.get("initial_option"), Mapping) else []
    initial += [o for o in el.get("initial_options") or [] if isinstance(o, Mapping)]
    for opt in listed + initial:
        problems += _too_long(f"{where}: option text", _text_of(opt.get("text")), OPTION_TEXT_MAX)
        problems += _too_long(f"{where}: option value", str(opt.get("value", "")), OPTION_VALUE_MAX)
    if el.get("type") in _SELECTS_WITH_OPTIONS:
        values = {str(o.get("value")) for o in listed}
        one = el.get("initial_option")
        if isinstance(one, Mapping) and str(one.get("value")) not in values:
            problems.append(f"{where}: initial_option must be one of the options")
        if any(str(o.get("value")) not in values for o in initial if o is not one):
            problems.append(f"{where}: initial_options must be among the options")
    return problems


def _input_problems(where: str, el: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    max_length, min_length = el.get("max_length"), el.get("min_length")
    if isinstance(max_length, int) and not 1 <= max_length <= PLAIN_TEXT_INPUT_MAX:
        problems.append(f"{where}: max_length must be between 1 and {PLAIN_TEXT_INPUT_MAX}")
    if isinstance(min_length, int) and not 0 <= min_length <= PLAIN_TEXT_INPUT_MAX:
        problems.append(f"{where}: min_length must be between 0 and {PLAIN_TEXT_INPUT_MAX}")
    if isinstance(min_length, int) and isinstance(max_length, int) and min_length > max_length:
        problems.append(f"{where}: min_length must not exceed max_length")
    initial = el.get("initial_value")
    if isinstance(initial, str):
        limit = max_length if isinstance(max_length, int) else PLAIN_TEXT_INPUT_MAX
        problems += _too_long(f"{where}: initial_value", initial, limit)
    return problems


def _element_problems(where: str, el: Mapping[str, Any]) -> list[str]:
    if el.get("type") == "plain_text_input":
        return _input_problems(where, el)
    return _option_problems(where, el)


def _block_problems(where: str, raw: Mapping[str, Any]) -> list[str]:
    """What the SDK model of one block refuses, then what it lets through."""
    try:
        parsed = Block.parse(dict(raw))
        if parsed is None:
            return [f"{where}: unknown block type {raw.get('type')!r}"]
        parsed.to_dict()  # runs the model's validators
    except SlackObjectFormationError as exc:
        return [f"{where}: {exc}"]
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return [f"{where}: malformed block ({exc})"]
    problems: list[str] = []
    kind = raw.get("type")
    if kind == "section":
        for field in raw.get("fields") or []:
            problems += _too_long(f"{where}: field", _text_of(field), SECTION_FIELD_TEXT_MAX)
    elif kind == "context":
        for el in raw.get("elements") or []:
            problems += _too_long(f"{where}: context text", _text_of(el), TEXT_OBJECT_MAX)
    action_ids: set[str] = set()
    for el in _elements(raw):
        action_id = el.get("action_id")
        if isinstance(action_id, str):
            if action_id in action_ids:
                problems.append(f"{where}: duplicate action_id {action_id!r}")
            action_ids.add(action_id)
        problems += _element_problems(where, el)
    return problems


def _loaded(value: Any) -> Any:
    """A form-encoded Web API call passes blocks and views as JSON strings."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def block_problems(blocks: Any, *, limit: int = MESSAGE_BLOCKS_MAX) -> list[str]:
    """Why Slack would refuse these blocks (an empty list: it would take them)."""
    blocks = _loaded(blocks)
    if not isinstance(blocks, list):
        return ["blocks must be a JSON array"]
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(f"no more than {limit} items allowed [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for i, raw in enumerate(blocks):
        where = f"[json-pointer:/blocks/{i}]"
        if not isinstance(raw, Mapping) or "type" not in raw:
            problems.append(f"{where}: a block must be an object with a type")
            continue
        block_id = raw.get("block_id")
        if isinstance(block_id, str):
            if block_id in block_ids:
                problems.append(f"{where}: duplicate block_id {block_id!r}")
            block_ids.add(block_id)
        problems += _block_problems(where, raw)
    return problems


def message_problems(payload: Mapping[str, Any]) -> list[str]:
    """Why Slack would refuse this message (`text` and `blocks`) in chat.postMessage/update."""
    problems = _too_long("text", str(payload.get("text") or ""), MESSAGE_TEXT_MAX)
    if payload.get("blocks") is not None:
        problems += block_problems(payload["blocks"])
    return problems


def view_problems(view: Any) -> list[str]:
    """Why Slack would refuse this view in views.open/push/update/publish (empty: accepted)."""
    view = _loaded(view)
    if not isinstance(view, dict):
        return ["view must be a JSON object"]
    problems = block_problems(view.get("blocks") or [], limit=VIEW_BLOCKS_MAX)
    if problems:
        return problems
    if view.get("type") == "modal":
        if not view.get("title"):
            problems.append("[json-pointer:/view/title] title is required for a modal")
        has_input = any(
            isinstance(b, Mapping) and b.get("type") == "input" for b in view.get("blocks") or []
        )
        if has_input and not view.get("submit"):
            # https://docs.slack.dev/reference/views/modal-views
            problems.append(
                "[json-pointer:/view/submit] submit is required when a modal has input blocks"
            )
    if len(json.dumps(view).encode()) > VIEW_MAX_BYTES:
        problems.append("view_too_large")
    try:
        View(**view).to_dict()
    except SlackObjectFormationError as exc:
        problems.append(f"[json-pointer:/view] {exc}")
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        problems.append(f"[json-pointer:/view] malformed view ({exc})")
    return problems
