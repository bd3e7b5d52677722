"""The API's error body: `{"code": int, "message": str, "details"?: str}`."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse


class ApiError(Exception):
    """An error answered with the schema's `Error` body and its status code."""

    def __init__(self, code: int, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        """The JSON body of this error."""
        return error_body(self.code, self.message, self.details)

    def response(self) -> JSONResponse:
        """This error as an HTTP response."""
        return JSONResponse(self.body(), status_code=self.code)


def error_body(code: int, message: str, details: str | None = None) -> dict[str, Any]:
    """Build an `Error` body; `details` only when there is some."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return body


def bad_request(message: str, details: str | None = None) -> ApiError:
    """A 400 with the API's wording style."""
    return ApiError(400, message, details)


def not_found(message: str = "Resource id not found.") -> ApiError:
    """A 404."""
    return ApiError(404, message)
