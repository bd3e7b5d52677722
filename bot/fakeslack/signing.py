"""Sign requests the way Slack does, so the bot's signature check can be exercised."""

from __future__ import annotations

import time

from slack_sdk.signature import SignatureVerifier


def sign_request(body: bytes, signing_secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers `X-Slack-Request-Timestamp` and `X-Slack-Signature` for `body`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": str(signature)}
