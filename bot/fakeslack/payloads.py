"""What a Slack client would put in interaction payloads: actions and view state values."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from bot.fakeslack.errors import SlackDriverError

VALUE_ELEMENTS = {"plain_text_input", "email_text_input", "url_text_input", "number_input"}
SINGLE_OPTION = {"static_select", "external_select", "radio_buttons", "overflow"}
MULTI_OPTION = {"multi_static_select", "multi_external_select", "checkboxes"}
SELECTED_KEY = {
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
}
INITIAL_KEY = {
    "users_select": "initial_user",
    "multi_users_select": "initial_users",
    "conversations_select": "initial_conversation",
    "multi_conversations_select": "initial_conversations",
    "channels_select": "initial_channel",
    "multi_channels_select": "initial_channels",
    "datepicker": "initial_date",
    "timepicker": "initial_time",
    "datetimepicker": "initial_date_time",
}


def block_elements(block: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Interactive elements of one block (accessory, input element, actions elements)."""
    for key in ("accessory", "element"):
        el = block.get(key)
        if isinstance(el, dict):
            yield el
    if block.get("type") == "actions":
        for el in block.get("elements") or []:
            if isinstance(el, dict):
                yield el


def find_element(
    blocks: list[dict[str, Any]], action_id: str, block_id: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (block, element) carrying `action_id`; SlackDriverError when nothing shows it."""
    for block in blocks:
        if block_id is not None and block.get("block_id") != block_id:
            continue
        for el in block_elements(block):
            if el.get("action_id") == action_id:
                return block, el
    seen = sorted({str(el.get("action_id")) for b in blocks for el in block_elements(b)})
    raise SlackDriverError(f"no element with action_id {action_id!r}; present: {seen}")


def _all_options(el: Mapping[str, Any]) -> list[dict[str, Any]]:
    opts = [o for o in el.get("options") or [] if isinstance(o, dict)]
    for group in el.get("option_groups") or []:
        if isinstance(group, dict):
            opts.extend(o for o in group.get("options") or [] if isinstance(o, dict))
    return opts


def pick_option(el: Mapping[str, Any], value: Any) -> dict[str, Any]:
    """The option a user picks by its value (external selects accept any value)."""
    if isinstance(value, dict):
        return value
    for opt in _all_options(el):
        if str(opt.get("value")) == str(value):
            return opt
    if el.get("type") in ("external_select", "multi_external_select"):
        return {"text": {"type": "plain_text", "text": str(value)}, "value": str(value)}
    offered = [o.get("value") for o in _all_options(el)]
    raise SlackDriverError(
        f"{el.get('action_id')!r} offers no option {value!r}; offered: {offered}"
    )


def element_state(
    el: Mapping[str, Any], value: Any = None, *, given: bool = False
) -> dict[str, Any]:
    """The state.values entry Slack sends for one element (initial values when not `given`)."""
    kind = str(el.get("type"))
    out: dict[str, Any] = {"type": kind}
    if kind in VALUE_ELEMENTS or kind == "rich_text_input":
        raw = value if given else el.get("initial_value")
        out["value"] = None if raw is None or raw == "" else str(raw)
    elif kind in SINGLE_OPTION:
        if given:
            out["selected_option"] = None if value is None else pick_option(el, value)
        else:
            out["selected_option"] = el.get("initial_option")
    elif kind in MULTI_OPTION:
        if given:
            items = value if isinstance(value, list | tuple) else [value]
            out["selected_options"] = [pick_option(el, v) for v in items if v is not None]
        else:
            out["selected_options"] = list(el.get("initial_options") or [])
    elif kind in SELECTED_KEY:
        out[SELECTED_KEY[kind]] = value if given else el.get(INITIAL_KEY[kind])
    elif kind == "file_input":
        out["files"] = list(value or []) if given else []
    else:
        out["value"] = value
    return out


def state_values(
    blocks: list[dict[str, Any]], values: Mapping[str, Any] | None = None
) -> dict[str, dict[str, dict[str, Any]]]:
    """`view.state.values` for a modal: every input (and stateful action element) of `blocks`.

    `values[block_id][action_id] = value`, or `values[block_id] = value` for the block's
    only element. Value shapes: str for text/number inputs, option value (or list of them)
    for selects, checkboxes and radios, user/channel ids, 'YYYY-MM-DD' for datepickers.
    """
    values = dict(values or {})
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for block in blocks:
        if block.get("type") not in ("input", "actions", "section"):
            continue
        block_id = str(block.get("block_id") or "")
        given_for_block = values.pop(block_id, _MISSING)
        entries: dict[str, dict[str, Any]] = {}
        elements = [
            el
            for el in block_elements(block)
            if block.get("type") == "input"
            or el.get("type") not in ("button", "overflow", "workflow_button")
        ]
        per_action = isinstance(given_for_block, dict) and not _is_option(given_for_block)
        used: set[str] = set()
        for el in elements:
            action_id = str(el.get("action_id") or "")
            if given_for_block is _MISSING:
                entries[action_id] = element_state(el)
            elif per_action:
                if action_id in given_for_block:
                    entries[action_id] = element_state(el, given_for_block[action_id], given=True)
                    used.add(action_id)
                else:
                    entries[action_id] = element_state(el)
            elif len(elements) == 1:
                entries[action_id] = element_state(el, given_for_block, given=True)
            else:
                raise SlackDriverError(
                    f"block {block_id!r} has several elements: give {{action_id: value}}"
                )
        if per_action and set(given_for_block) - used:
            raise SlackDriverError(
                f"block {block_id!r} has no element(s) {sorted(set(given_for_block) - used)}"
            )
        if entries and (block.get("type") == "input" or given_for_block is not _MISSING):
            out[block_id] = entries
    if values:
        known = [str(b.get("block_id")) for b in blocks if b.get("type") == "input"]
        raise SlackDriverError(f"no input block(s) {sorted(values)} in the view; inputs: {known}")
    return out


def _is_option(given: Mapping[str, Any]) -> bool:
    # An option object has "text" and "value"; any other mapping is {action_id: value}.
    return "value" in given and "text" in given


class _Missing:
    pass


_MISSING: Any = _Missing()


def action_payload(
    block: Mapping[str, Any], el: Mapping[str, Any], value: Any, *, given: bool
) -> dict[str, Any]:
    """One entry of block_actions `actions`, shaped per element type."""
    kind = str(el.get("type"))
    action: dict[str, Any] = {
        "type": kind,
        "action_id": el.get("action_id"),
        "block_id": block.get("block_id") or "",
        "action_ts": f"{time.time():.6f}",
    }
    if kind == "button":
        action["text"] = el.get("text")
        if given or el.get("value") is not None:
            action["value"] = value if given else el.get("value")
        if el.get("style"):
            action["style"] = el["style"]
    else:
        state = element_state(el, value, given=given)
        state.pop("type")
        action.update(state)
        if kind in (
            "static_select",
            "external_select",
            "multi_static_select",
            "users_select",
        ) and el.get("placeholder"):
            action["placeholder"] = el["placeholder"]
    return action
