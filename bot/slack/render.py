"""Block Kit from `templates/`: Jinja2 JSON templates with one escaping filter.

Every value a template prints must pass through `esc` (the environment refuses to print a
raw string), so user text can neither inject mrkdwn (`<!channel>`, `<@U…>`, fake links)
nor break the JSON. Numbers may be printed as they are.

- `{{ x | esc }}`               mrkdwn text: `&`, `<`, `>` escaped, JSON-string escaped
- `{{ x | esc('plain') }}`      plain_text / input values: JSON-string escaped only
                                (Slack never turns plain_text into mentions or links)
- `{{ x | esc(max=150) }}`      also cut to at most 150 characters *after* escaping

Rendered payloads are checked against the Slack limits that `slack_sdk.models` does not
check (`check_message`, `check_view`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import jinja2
from markupsafe import Markup


def _templates_dir() -> Path:
    # In a wheel templates/ ships as bot/templates; in a checkout it sits at the top.
    here = Path(__file__).resolve()
    packaged = here.parents[1] / "templates"
    return packaged if packaged.is_dir() else here.parents[2] / "templates"


TEMPLATES_DIR = _templates_dir()

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_CONTEXT_TEXT = 3000
MAX_INPUT_LENGTH = 3000
MAX_VIEW_TITLE = 24
MAX_PRIVATE_METADATA = 3000
MAX_MESSAGE_TEXT = 4000
MAX_VIEW_BYTES = 250_000

Mode = Literal["mrkdwn", "plain"]
# What json.dumps(ensure_ascii=False) would change in a string: quotes, backslashes,
# control characters.
_JSON_SPECIAL = re.compile(r'["\\\x00-\x1f\x7f]')


class RenderError(RuntimeError):
    """A template produced something Slack would refuse (a bug in the template)."""


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(escaped: str, limit: int) -> str:
    """Cut escaped text to `limit` characters without splitting an `&…;` entity."""
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: max(limit - 1, 0)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def esc(value: Any, mode: Mode = "mrkdwn", max: int | None = None) -> Markup:
    """The one escaping filter; see the module docstring."""
    text = "" if value is None else str(value)
    if mode == "mrkdwn":
        text = escape_mrkdwn(text)
    elif mode != "plain":
        raise RenderError(f"unknown escaping mode {mode!r}")
    if max is not None:
        text = _cut(text, max)
    if _JSON_SPECIAL.search(text) is None:
        return Markup(text)  # nothing to escape for JSON (the common case, and hot)
    # json.dumps gives a quoted JSON string; the template supplies the quotes.
    return Markup(json.dumps(text, ensure_ascii=False)[1:-1])


def _finalize(value: Any) -> Any:
    if isinstance(value, Markup):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    raise RenderError(
        f"template printed {type(value).__name__} {str(value)[:40]!r} without the esc filter"
    )


@lru_cache(maxsize=4)
def environment(templates_dir: Path = TEMPLATES_DIR) -> jinja2.Environment:
    """The Jinja2 environment over `templates/` (shared with watch/)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        # On so that macro output is Markup; every printed value is still forced through esc.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,  # templates ship with the code: no stat() per render
    )
    env.filters["esc"] = esc
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False}
    return env


def render(template: str, /, **context: Any) -> dict[str, Any]:
    """Render one template to a dict (the JSON it produces)."""
    text = environment().get_template(template).render(**context)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RenderError(f"{template} rendered invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise RenderError(f"{template} must render a JSON object")
    return data


def message(template: str, /, **context: Any) -> dict[str, Any]:
    """Render a message template (`{"text": …, "blocks": [...]}`) and check its limits."""
    payload = render(f"messages/{template}.json.j2", **context)
    check_message(payload)
    return payload


def view(template: str, /, **context: Any) -> dict[str, Any]:
    """Render a modal template (a view object) and check its limits."""
    payload = render(f"modals/{template}.json.j2", **context)
    check_view(payload)
    return payload


def _text_of(obj: Any) -> str:
    if isinstance(obj, Mapping):
        return str(obj.get("text", ""))
    return ""


def _check_len(what: str, text: str, limit: int, problems: list[str]) -> None:
    if len(text) > limit:
        problems.append(f"{what} is {len(text)} characters (limit {limit})")


def _check_element(el: Mapping[str, Any], where: str, problems: list[str]) -> None:
    kind = el.get("type")
    if kind == "button":
        _check_len(f"{where} button text", _text_of(el.get("text")), MAX_BUTTON_TEXT, problems)
        _check_len(f"{where} button value", str(el.get("value", "")), MAX_BUTTON_VALUE, problems)
    if kind == "plain_text_input":
        max_length = el.get("max_length")
        if max_length is not None and not 1 <= int(max_length) <= MAX_INPUT_LENGTH:
            problems.append(f"{where} max_length {max_length} outside 1..{MAX_INPUT_LENGTH}")
        min_length = el.get("min_length")
        if min_length is not None and not 0 <= int(min_length) <= MAX_INPUT_LENGTH:
            problems.append(f"{where} min_length {min_length} outside 0..{MAX_INPUT_LENGTH}")
        initial = el.get("initial_value")
        if initial is not None:
            limit = int(max_length) if max_length is not None else MAX_INPUT_LENGTH
            _check_len(f"{where} initial_value", str(initial), limit, problems)
    if kind == "static_select" and not el.get("options") and not el.get("option_groups"):
        problems.append(f"{where} static_select has no options")
    options = list(el.get("options") or [])
    if "initial_option" in el:
        options.append(el["initial_option"])
    for opt in options:
        _check_len(f"{where} option text", _text_of(opt.get("text")), MAX_OPTION_TEXT, problems)
        _check_len(f"{where} option value", str(opt.get("value", "")), MAX_OPTION_VALUE, problems)


def _check_blocks(blocks: list[Mapping[str, Any]], problems: list[str]) -> None:
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"block {i} ({block.get('type')})"
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in seen:
                problems.append(f"{where} repeats block_id {block_id!r}")
            seen.add(block_id)
        kind = block.get("type")
        if kind == "section":
            _check_len(f"{where} text", _text_of(block.get("text")), MAX_SECTION_TEXT, problems)
            for field in block.get("fields") or []:
                _check_len(f"{where} field", _text_of(field), MAX_FIELD_TEXT, problems)
            if "accessory" in block:
                _check_element(block["accessory"], where, problems)
        elif kind == "header":
            _check_len(f"{where} text", _text_of(block.get("text")), MAX_HEADER_TEXT, problems)
        elif kind == "context":
            for el in block.get("elements") or []:
                _check_len(f"{where} element", _text_of(el), MAX_CONTEXT_TEXT, problems)
        elif kind == "actions":
            for el in block.get("elements") or []:
                _check_element(el, where, problems)
        elif kind == "input":
            _check_element(block.get("element") or {}, where, problems)


def message_problems(payload: Mapping[str, Any]) -> list[str]:
    """What in a message payload breaks a Slack limit the SDK models don't check."""
    problems: list[str] = []
    blocks = list(payload.get("blocks") or [])
    if len(blocks) > MAX_MESSAGE_BLOCKS:
        problems.append(f"{len(blocks)} blocks (limit {MAX_MESSAGE_BLOCKS})")
    text = payload.get("text")
    if not text:
        problems.append("no top-level text (notifications and screen readers need it)")
    else:
        _check_len("text", str(text), MAX_MESSAGE_TEXT, problems)
    _check_blocks(blocks, problems)
    return problems


def view_problems(payload: Mapping[str, Any]) -> list[str]:
    """What in a view payload breaks a Slack limit the SDK models don't check."""
    problems: list[str] = []
    blocks = list(payload.get("blocks") or [])
    if len(blocks) > MAX_VIEW_BLOCKS:
        problems.append(f"{len(blocks)} blocks (limit {MAX_VIEW_BLOCKS})")
    for key in ("title", "submit", "close"):
        if key in payload:
            _check_len(key, _text_of(payload[key]), MAX_VIEW_TITLE, problems)
    _check_len(
        "private_metadata", str(payload.get("private_metadata", "")), MAX_PRIVATE_METADATA, problems
    )
    size = len(json.dumps(payload).encode())
    if size > MAX_VIEW_BYTES:
        problems.append(f"view is {size} bytes (limit {MAX_VIEW_BYTES})")
    _check_blocks(blocks, problems)
    return problems


def check_message(payload: Mapping[str, Any]) -> None:
    """Raise `RenderError` if a message breaks a Slack limit."""
    problems = message_problems(payload)
    if problems:
        raise RenderError("; ".join(problems))


def check_view(payload: Mapping[str, Any]) -> None:
    """Raise `RenderError` if a view breaks a Slack limit."""
    problems = view_problems(payload)
    if problems:
        raise RenderError("; ".join(problems))
