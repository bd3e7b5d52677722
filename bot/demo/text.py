"""Block Kit → terminal text, for the demo console (pure functions)."""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_USER = re.compile(r"<@([A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#([A-Z0-9]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(\w+)(?:\|([^>]*))?>")
_LINK = re.compile(r"<([^<>|]+)\|([^<>]+)>")
_BARE_LINK = re.compile(r"<((?:https?|mailto):[^<>|]+)>")
_EMOJI = re.compile(r":([a-z0-9_+-]+):")
# The shortcodes the bot's templates use, as a terminal shows them; others stay as typed.
EMOJI = {
    "arrow_forward": "▶", "arrow_up_down": "↕", "arrows_counterclockwise": "🔄",
    "bar_chart": "📊", "black_square_for_stop": "⏹",
    "double_vertical_bar": "⏸", "eyes": "👀", "ghost": "👻", "grey_question": "❔",
    "hatching_chick": "🐣", "hourglass": "⌛", "hourglass_flowing_sand": "⏳",
    "large_green_circle": "🟢", "lock": "🔒", "no_bell": "🔕",
    "ok_hand": "👌", "red_circle": "🔴", "rocket": "🚀", "see_no_evil": "🙈",
    "straight_ruler": "📏", "twisted_rightwards_arrows": "🔀", "warning": "⚠",
    "wastebasket": "🗑", "white_check_mark": "✅", "x": "❌", "unlock": "🔓",
    "no_entry": "⛔", "crown": "👑",
}  # fmt: skip
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")


def mrkdwn_to_text(text: str, names: Mapping[str, str] | None = None) -> str:
    """Turn Slack mrkdwn into readable plain text (links, mentions, entities).

    A mention shows its label (`<#C1|general>`), else the name `names` gives its id (as
    Slack's client shows `<#C1>` as #general), else the id.
    """
    known = names or {}
    text = _USER.sub(lambda m: "@" + (m.group(2) or known.get(m.group(1)) or m.group(1)), text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or known.get(m.group(1)) or m.group(1)), text)
    text = _SPECIAL.sub(lambda m: "@" + (m.group(2) or m.group(1)), text)
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    text = _BARE_LINK.sub(lambda m: m.group(1), text)
    text = _BOLD.sub(r"\1", text)
    text = _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text)
    return html.unescape(text)


def text_of(obj: Any, names: Mapping[str, str] | None = None) -> str:
    """The plain text of a Block Kit text object (or of a bare string)."""
    if isinstance(obj, Mapping):
        return mrkdwn_to_text(str(obj.get("text", "")), names)
    return mrkdwn_to_text(str(obj or ""), names)


@dataclass
class Button:
    """A clickable element seen in a message, numbered for the user."""

    number: int
    text: str
    action_id: str
    block_id: str | None
    value: str | None
    confirm: Mapping[str, Any] | None
    element: Mapping[str, Any]


@dataclass
class Rendered:
    """Lines to print and the buttons found on the way."""

    lines: list[str] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)


def _rich_text(elements: Iterable[Mapping[str, Any]], names: Mapping[str, str]) -> str:
    out: list[str] = []
    for element in elements:
        if "elements" in element:
            out.append(_rich_text(element["elements"], names))
        elif element.get("type") == "user":
            user = str(element.get("user_id", ""))
            out.append("@" + names.get(user, user))
        elif element.get("type") == "link":
            out.append(str(element.get("text") or element.get("url", "")))
        else:
            out.append(str(element.get("text", "")))
    return "".join(out)


def render_blocks(
    blocks: Sequence[Mapping[str, Any]],
    *,
    first_button: int = 1,
    width: int = 88,
    names: Mapping[str, str] | None = None,
) -> Rendered:
    """Render message blocks as indented text; buttons become numbered choices.

    `names`: channel and user ids → names, for mentions (see `mrkdwn_to_text`).
    """
    result = Rendered()
    known = names or {}

    def _text_of(obj: Any) -> str:
        return text_of(obj, known)

    number = first_button

    def add_button(element: Mapping[str, Any], block_id: str | None) -> None:
        nonlocal number
        if element.get("type") not in {"button", "overflow", "static_select"}:
            return
        result.buttons.append(
            Button(
                number=number,
                text=_text_of(element.get("text") or element.get("placeholder") or "choose"),
                action_id=str(element.get("action_id", "")),
                block_id=block_id,
                value=element.get("value"),
                confirm=element.get("confirm"),
                element=element,
            )
        )
        number += 1

    for block in blocks:
        kind = block.get("type")
        block_id = block.get("block_id")
        if kind == "header":
            result.lines.append(_text_of(block.get("text")).upper())
        elif kind == "section":
            if block.get("text"):
                for para in _text_of(block["text"]).splitlines() or [""]:
                    result.lines.extend(textwrap.wrap(para, width) or [""])
            fields = [_text_of(f).replace("\n", " ") for f in block.get("fields") or []]
            for i in range(0, len(fields), 2):
                pair = fields[i : i + 2]
                result.lines.append("  " + "   ".join(f"{p:<40}" for p in pair).rstrip())
            if block.get("accessory"):
                add_button(block["accessory"], block_id)
        elif kind == "context":
            parts = [
                _text_of(e) if e.get("type") != "image" else f"[{e.get('alt_text', 'image')}]"
                for e in block.get("elements") or []
            ]
            result.lines.append("  " + " · ".join(p for p in parts if p))
        elif kind == "divider":
            result.lines.append("─" * min(width, 40))
        elif kind == "image":
            result.lines.append(f"[image: {block.get('alt_text', '')}]")
        elif kind == "rich_text":
            result.lines.append(_rich_text(block.get("elements") or [], known))
        elif kind == "actions":
            for element in block.get("elements") or []:
                add_button(element, block_id)
        elif kind == "input":
            result.lines.append(f"{_text_of(block.get('label'))}: …")
    if result.buttons:
        result.lines.append("  " + "  ".join(f"[{b.number}] {b.text}" for b in result.buttons))
    return result


def render_message(
    text: str | None,
    blocks: Sequence[Mapping[str, Any]] | None,
    names: Mapping[str, str] | None = None,
) -> Rendered:
    """Render a message: its blocks when present, else its fallback text."""
    if blocks:
        return render_blocks(blocks, names=names)
    return Rendered(lines=mrkdwn_to_text(text or "", names).splitlines())
