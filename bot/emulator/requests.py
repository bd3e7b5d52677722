"""Reading request bodies: JSON or a 400 Error body."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from bot.emulator.errors import bad_request


async def json_body(request: Request, *, required: bool = True) -> Any:
    """The parsed JSON body; 400 when missing (if required) or malformed."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise bad_request("Bad request - a JSON body is required")
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("Bad request - the body is not valid JSON") from None
