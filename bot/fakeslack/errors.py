"""Errors the fake answers with, and errors the driver raises."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A Web API failure: `{"ok": false, "error": error, **extra}` with an HTTP status."""

    def __init__(
        self,
        error: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body Slack sends for this error."""
        return {"ok": False, "error": self.error, **self.extra}


class SlackDriverError(AssertionError):
    """The driver was asked for something Slack's UI could not do (e.g. click a missing button)."""
