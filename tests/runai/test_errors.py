"""errors.py: parsing error bodies and choosing the class."""

from __future__ import annotations

import pytest

from bot.runai import errors


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.InvalidRequestError),
        (401, errors.UnauthorizedError),
        (403, errors.ForbiddenError),
        (404, errors.NotFoundError),
        (409, errors.ConflictError),
        (422, errors.InvalidRequestError),
        (500, errors.UnavailableError),
        (503, errors.UnavailableError),
        (504, errors.UnavailableError),
    ],
)
def test_status_picks_the_class(status: int, cls: type[errors.RunaiError]) -> None:
    exc = errors.error_from_response(status, b'{"code": %d, "message": "m"}' % status)
    assert type(exc) is cls
    assert isinstance(exc, errors.RunaiError)
    assert exc.code == status


def test_error_body_fields_are_carried() -> None:
    exc = errors.error_from_response(
        409, b'{"code": 409, "message": "name already exists", "details": "project 1"}'
    )
    assert (exc.code, exc.message, exc.details) == (409, "name already exists", "project 1")
    assert str(exc) == "409: name already exists (project 1)"


def test_non_json_body_becomes_the_message() -> None:
    exc = errors.error_from_response(502, b"<html>bad gateway</html>")
    assert isinstance(exc, errors.UnavailableError)
    assert exc.code == 502
    assert exc.message == "<html>bad gateway</html>"
    assert exc.details is None


def test_empty_body_gets_the_reason_phrase() -> None:
    exc = errors.error_from_response(404, b"")
    assert exc.message == "Not Found"


def test_long_non_json_body_is_cut() -> None:
    exc = errors.error_from_response(500, b"x" * 5000)
    assert len(exc.message) < 400


def test_json_without_message_is_treated_as_text() -> None:
    exc = errors.error_from_response(400, b'{"error": "nope"}')
    assert isinstance(exc, errors.InvalidRequestError)
    assert exc.code == 400
    assert "nope" in exc.message


def test_bogus_code_in_body_falls_back_to_status() -> None:
    exc = errors.error_from_response(403, b'{"code": "x", "message": "denied"}')
    assert exc.code == 403


def test_unavailable_defaults_to_503() -> None:
    assert errors.UnavailableError(message="down").code == 503


def test_model_info_unavailable_is_a_not_found() -> None:
    assert issubclass(errors.ModelInfoUnavailableError, errors.NotFoundError)
