"""Failures → one plain sentence (+ the API's message), never a trace."""

from __future__ import annotations

import pytest

from bot.runai import errors
from bot.slack.errors import Doing, NoSuchWorkload, describe, is_gated_refusal


@pytest.mark.parametrize(
    ("exc", "sentence"),
    [
        (errors.UnauthorizedError(401, "bad token"), "The bot's Run:ai credentials were refused"),
        (errors.ForbiddenError(403, "nope"), "The bot's service account may not scale llama."),
        (errors.NotFoundError(404, "Resource id not found."), "There is no inference named llama."),
        (errors.UnavailableError(503, "later"), "Run:ai is unavailable, try again"),
        (errors.ConflictError(409, "exists"), "already used in the project"),
        (errors.InvalidRequestError(400, "bad"), "Run:ai refused the request."),
        (errors.ModelInfoUnavailableError(404, "x"), "can't look up Hugging Face models"),
        (errors.RunaiError(418, "teapot"), "Run:ai answered with an error (418)."),
        (NoSuchWorkload("ghost"), "There is no inference named ghost."),
    ],
)
def test_sentences(exc: Exception, sentence: str) -> None:
    problem = describe(exc, Doing("scale", "llama"))
    assert sentence in problem.sentence


def test_api_message_is_the_detail() -> None:
    assert describe(errors.UnavailableError(503, "Please try again")).detail == "Please try again"
    assert describe(errors.UnavailableError(503)).detail is None


def test_unexpected_errors_say_nothing_internal(caplog: pytest.LogCaptureFixture) -> None:
    problem = describe(KeyError("secret-internal"))
    assert "secret-internal" not in problem.sentence and problem.detail is None
    assert "unexpected error" in caplog.text


def test_gated_refusal_is_told_apart_from_our_login() -> None:
    gated = errors.UnauthorizedError(401, "Access to model x is restricted: it is a gated model.")
    assert is_gated_refusal(gated)
    assert not is_gated_refusal(errors.UnauthorizedError(401, "invalid client credentials"))
    assert not is_gated_refusal(errors.NotFoundError(404, "gated"))


def test_the_hub_unavailable_is_not_called_run_ai() -> None:
    from bot.modelinfo.hub import HubUnavailableError

    problem = describe(HubUnavailableError(503, "the Hugging Face Hub answered 503: busy"))
    assert problem.sentence == "The Hugging Face Hub is unavailable, try again in a minute."
    assert problem.detail == "the Hugging Face Hub answered 503: busy"
    # Run:ai's own 503 keeps its words.
    assert describe(errors.UnavailableError(503, "down")).sentence.startswith("Run:ai")
