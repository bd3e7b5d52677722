"""Failures → the words a user reads. The one place that turns errors into sentences.

Every handler that catches an exception asks `describe` for a `Problem` (one plain
sentence plus, when the API sent one, its message) and renders it with the `error`
template. Tracebacks go to the log, never to Slack.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from bot.runai import errors as runai_errors

logger = logging.getLogger(__name__)

_GATED_HINTS = ("gated", "restricted", "hftoken", "hugging face", "huggingface", "license")


@dataclass(frozen=True)
class Problem:
    """What went wrong, for a user: a sentence and an optional API message."""

    sentence: str
    detail: str | None = None


class UserFacingError(Exception):
    """A failure the bot itself detected, already in user words."""

    def __init__(self, sentence: str, detail: str | None = None) -> None:
        super().__init__(sentence)
        self.problem = Problem(sentence, detail)


class NoSuchWorkload(UserFacingError):
    """A name or id matched no inference workload."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"There is no inference named {ref}.")
        self.ref = ref


@dataclass(frozen=True)
class Doing:
    """What the bot was doing, to finish the 403 sentence (`may not <verb>`)."""

    verb: str
    subject: str | None = None


def _api_detail(exc: runai_errors.RunaiError) -> str | None:
    message = exc.message.strip()
    if not message or message == type(exc).__name__:
        return None
    return message


def is_gated_refusal(exc: Exception) -> bool:
    """Whether a model-info 401/403 is Hugging Face refusing a gated model (not our login)."""
    if not isinstance(exc, runai_errors.UnauthorizedError | runai_errors.ForbiddenError):
        return False
    text = f"{exc.message} {exc.details or ''}".lower()
    return any(hint in text for hint in _GATED_HINTS)


def describe(exc: BaseException, doing: Doing | None = None) -> Problem:
    """The user's view of an exception raised while `doing` something."""
    doing = doing or Doing("do that")
    if isinstance(exc, UserFacingError):
        return exc.problem
    if isinstance(exc, runai_errors.RunaiError):
        detail = _api_detail(exc)
        # Hub errors exist only once the Hub module was imported (lazily, at a lookup).
        hub = sys.modules.get("bot.modelinfo.hub")
        if hub is not None and isinstance(exc, hub.HubUnavailableError):
            return Problem("The Hugging Face Hub is unavailable, try again in a minute.", detail)
        if isinstance(exc, runai_errors.UnauthorizedError):
            return Problem("The bot's Run:ai credentials were refused; ask an admin.", detail)
        if isinstance(exc, runai_errors.ForbiddenError):
            what = f"{doing.verb} {doing.subject}" if doing.subject else doing.verb
            return Problem(f"The bot's service account may not {what}.", detail)
        if isinstance(exc, runai_errors.ModelInfoUnavailableError):
            return Problem("This Run:ai control plane can't look up Hugging Face models.", detail)
        if isinstance(exc, runai_errors.NotFoundError):
            if doing.subject:
                return Problem(f"There is no inference named {doing.subject}.", detail)
            return Problem("Run:ai doesn't know that workload (it may have been deleted).", detail)
        if isinstance(exc, runai_errors.ConflictError):
            return Problem("That name is already used in the project; pick another.", detail)
        if isinstance(exc, runai_errors.InvalidRequestError):
            return Problem("Run:ai refused the request.", detail)
        if isinstance(exc, runai_errors.UnavailableError):
            return Problem("Run:ai is unavailable, try again in a minute.", detail)
        return Problem(f"Run:ai answered with an error ({exc.code}).", detail)
    logger.error("unexpected error", exc_info=exc, extra={"doing": doing.verb})
    return Problem("Something went wrong on my side; it has been logged.")
