"""Reading request bodies: JSON or a 400 Error body."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

from bot.emulator.errors import bad_request

# Only a body with an escaped surrogate can hold a lone one (raw UTF-8 cannot encode it).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


async def json_body(request: Request, *, required: bool = True) -> Any:
    """The parsed JSON body; 400 when missing (if required) or malformed."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise bad_request("Bad request - a JSON body is required")
        return {}
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("Bad request - the body is not valid JSON") from None
    # `"\ud800"` is valid JSON syntax but no Unicode text: stored, it would make every
    # later answer that echoes it fail to encode (a 500 on each read).
    if _SURROGATE_ESCAPE.search(raw) and _has_lone_surrogate(parsed):
        raise bad_request(
            "Bad request - the body holds a lone UTF-16 surrogate (e.g. \\ud800), "
            "which is not Unicode text"
        )
    return parsed


def encodable(text: str) -> bool:
    """Whether `text` is Unicode text (no lone surrogate), i.e. encodes as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return not encodable(value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False
