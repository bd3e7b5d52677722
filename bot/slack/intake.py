"""What reaches Bolt: a request signed by Slack, carrying a payload shaped like Slack's.

Bolt parses a body before it checks the signature, and a body it cannot read (not JSON,
not UTF-8, not an object) or a timestamp that is not a number ends in a 500 there. So the
HTTP app checks first, in this order: the signature (over the raw bytes: anything else
is 401, like any bad signature), then the payload (signed but malformed: 400, logged).
Socket Mode needs no such check: its payloads come from Slack over the app's own
authenticated connection (and Bolt builds a middleware's arguments from the payload
before any middleware could look at it).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Mapping
from typing import Any

from slack_bolt.request.internals import parse_body

logger = logging.getLogger(__name__)

MAX_AGE_SECONDS = 5 * 60
"""Slack's replay window: an older timestamp is refused, as Bolt does."""


def signed(secret: str, raw: bytes, headers: Mapping[str, str], now: float | None = None) -> bool:
    """Whether `raw` carries Slack's v0 signature (HMAC-SHA256 of `v0:<ts>:<body>`) with a
    timestamp within the replay window."""
    stamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if not stamp or not signature or not stamp.isascii() or not stamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > MAX_AGE_SECONDS:
        return False
    base = b"v0:" + stamp.encode() + b":" + raw
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


def malformed(payload: object) -> str | None:
    """Why a parsed payload is not shaped like anything Slack sends; None when it is."""
    if not isinstance(payload, Mapping):
        return f"the payload is a JSON {type(payload).__name__}, not an object"
    if "view" in payload and not isinstance(payload["view"], Mapping):
        return "its view is not an object"
    if "user" in payload and "command" not in payload and not isinstance(payload["user"], Mapping):
        return "its user is not an object"
    if payload.get("type") == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions:
            return "a block_actions payload without actions"
        if not all(isinstance(a, Mapping) for a in actions):
            return "an action is not an object"
    return None


def read_payload(raw: bytes, content_type: str | None) -> tuple[dict[str, Any] | None, str]:
    """The payload Bolt will see, parsed the way Bolt parses it; (None, why) when it is
    not one Bolt can handle."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "the body is not UTF-8"
    kind = content_type.split(";")[0].strip() if content_type else None
    try:
        payload: object = parse_body(text, kind)
    except ValueError:  # json.JSONDecodeError included
        return None, "the payload is not JSON"
    problem = malformed(payload)
    if problem is not None or not isinstance(payload, dict):
        return None, problem or "the payload is not an object"
    return payload, ""
