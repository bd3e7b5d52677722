"""The exceptions of the Run:ai client: one class per kind of failure.

Catch `RunaiError` for everything, or a subclass at the depth you need. Each carries
the API's `code`, `message` and `details` (from its `Error` body when there is one).
No secret is ever part of an exception's text: the client builds them from response
bodies and status codes, never from requests.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any


class RunaiError(Exception):
    """Base class: a call to the Run:ai API failed."""

    default_code = 500

    def __init__(self, code: int | None = None, message: str = "", details: str | None = None):
        self.code: int = self.default_code if code is None else code
        self.message: str = message or self.__class__.__name__
        self.details: str | None = details
        super().__init__(self.code, self.message, self.details)

    def redact(self, *secrets: str | None) -> RunaiError:
        """Blank out any of `secrets` the server echoed into the message or details."""
        for secret in secrets:
            if secret:
                self.message = self.message.replace(secret, "***")
                if self.details is not None:
                    self.details = self.details.replace(secret, "***")
        self.args = (self.code, self.message, self.details)
        return self

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}"
        return f"{text} ({self.details})" if self.details else text

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(code={self.code!r}, message={self.message!r}, "
            f"details={self.details!r})"
        )


class UnauthorizedError(RunaiError):
    """401: missing, wrong or expired credentials (also a refused token exchange)."""

    default_code = 401


class ForbiddenError(RunaiError):
    """403: the credentials may not do this."""

    default_code = 403


class NotFoundError(RunaiError):
    """404: no such workload, pod or model."""

    default_code = 404


class ModelInfoUnavailableError(NotFoundError):
    """The control plane has no model-info route (it answered 404/405 as a route)."""


class ConflictError(RunaiError):
    """409: e.g. the name is already used in the project."""

    default_code = 409


class InvalidRequestError(RunaiError):
    """400/422: the API refused the request body or query."""

    default_code = 400


class UnavailableError(RunaiError):
    """5xx, connection errors and timeouts, after the client's retries."""

    default_code = 503


_BY_STATUS: dict[int, type[RunaiError]] = {
    400: InvalidRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    422: InvalidRequestError,
}

_MAX_TEXT = 300  # a non-JSON body (an HTML proxy page) is cut to this many characters


def parse_error_body(status: int, content: bytes) -> tuple[int, str, str | None]:
    """`(code, message, details)` from an error response body, JSON `Error` or not."""
    try:
        data: Any = json.loads(content) if content else None
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        code = data.get("code")
        details = data.get("details")
        return (
            code if isinstance(code, int) and 100 <= code <= 599 else status,
            data["message"],
            details if isinstance(details, str) else None,
        )
    text = content.decode("utf-8", errors="replace").strip()
    if len(text) > _MAX_TEXT:
        text = text[:_MAX_TEXT] + "…"
    return status, text or _reason(status), None


def _reason(status: int) -> str:
    """The standard reason phrase of a status ("Bad Gateway"), else "HTTP 599"."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def error_class_for(status: int) -> type[RunaiError]:
    """The exception class for an HTTP error status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return UnavailableError
    if status == 405:
        return InvalidRequestError
    return RunaiError


def error_from_response(status: int, content: bytes) -> RunaiError:
    """The exception for an error response (`status` decides the class)."""
    code, message, details = parse_error_body(status, content)
    return error_class_for(status)(code, message, details)
