"""Block Kit from `templates/`: Jinja2 JSON templates with one escaping filter.

Every value a template prints must pass through `esc` (the environment refuses to print a
raw string), so user text can neither inject mrkdwn (`<!channel>`, `<@U…>`, fake links)
nor break the JSON. Numbers may be printed as they are.

- `{{ x | esc }}`               mrkdwn text: `&`, `<`, `>` escaped, JSON-string escaped
- `{{ x | esc('plain') }}`      plain_text / input values: JSON-string escaped only
                                (Slack never turns plain_text into mentions or links)
- `{{ x | esc(max=150) }}`      also cut to at most 150 characters *after* escaping

Either way bidirectional control characters (U+202A to U+202E, U+2066 to U+2069, U+200E/F,
U+061C) are dropped: they could make a name read backwards.

Rendered payloads are checked by the one Block Kit checker, `bot/slack/blockkit.py`
(`check_message`, `check_view`), the same one the fake Slack refuses with.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from markupsafe import Markup

from bot.slack import blockkit

if TYPE_CHECKING:
    import jinja2


def _templates_dir() -> Path:
    # In a wheel templates/ ships as bot/templates; in a checkout it sits at the top.
    here = Path(__file__).resolve()
    packaged = here.parents[1] / "templates"
    return packaged if packaged.is_dir() else here.parents[2] / "templates"


TEMPLATES_DIR = _templates_dir()

Mode = Literal["mrkdwn", "plain"]
# Bidirectional controls (LRE RLE PDF LRO RLO, LRI RLI FSI PDI, LRM RLM, ALM): in a name they
# can make it read backwards ("txt.exe" shown as "exe.txt"), so user text loses them.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
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
    text = _BIDI.sub("", "" if value is None else str(value))
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
    # Imported on the first render, not at start: an idle bot renders nothing (and saves
    # ~2 MB; bench/startup.py).
    import jinja2

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


def message_problems(payload: Mapping[str, Any]) -> list[str]:
    """What in a rendered message Slack would refuse, or the bot's messages must not lack."""
    problems = blockkit.message_problems(payload)
    if not payload.get("text"):
        # Slack takes blocks alone, but notifications and screen readers read `text`.
        problems.append("no top-level text (notifications and screen readers need it)")
    return problems


def view_problems(payload: Mapping[str, Any]) -> list[str]:
    """What in a rendered view Slack would refuse."""
    return blockkit.view_problems(payload)


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
