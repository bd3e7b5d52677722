"""Slack payloads out of third-party DEBUG lines.

slack_sdk logs every request and response body at DEBUG, and Bolt logs every response
it sends. Those bodies carry what users typed into modals (env values, tokens in
flight), so with LOG_LEVEL=DEBUG they would land in the log. The bot's own log lines
never carry payloads; these filters cut them from the libraries' lines and keep the
rest (method, URL, status).
"""

from __future__ import annotations

import logging

MARKERS = (" params: ", " headers: ", " body: ", " json: ", " data: ", "payload: ")
LOGGERS = (
    "slack_sdk.web.async_base_client",
    "slack_sdk.web.base_client",
    "slack_sdk.webhook.async_client",
    "slack_sdk.webhook.client",
    "slack_sdk.socket_mode.aiohttp",
    "slack_sdk.socket_mode.builtin.client",
    "slack_bolt",
    "bot.slack.bolt",
)


def cut_payload(message: str) -> str:
    """`message` up to the first payload marker, which is kept, plus `[redacted]`."""
    cut = len(message)
    for marker in MARKERS:
        index = message.find(marker)
        if index != -1:
            cut = min(cut, index + len(marker))
    return message if cut == len(message) else message[:cut] + "[redacted]"


class PayloadRedactor(logging.Filter):
    """Rewrites DEBUG records so they carry no request or response body."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record, minus its payload."""
        if record.levelno < logging.INFO:
            message = record.getMessage()
            redacted = cut_payload(message)
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


_REDACTOR = PayloadRedactor()


def redact_library_payloads(names: tuple[str, ...] = LOGGERS) -> None:
    """Attach the redactor to the libraries' loggers (idempotent)."""
    for name in names:
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)
