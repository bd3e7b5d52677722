"""Model info from the Hugging Face Hub, through `huggingface_hub` (knows nothing of Slack).

`HfApi(endpoint=…).model_info(repo, token=…, expand=[…])` gives the task, the config's
architectures, gating and the safetensors parameter count; the minimum GPU memory and the
vLLM versions follow from the rules the emulator uses (`memory`, `vllm`). The Hub shows a
gated model's metadata to anyone and gates its files, so for a gated repository
`HfApi.auth_check` then asks whether the token may read them: without a token that is a
401, with one not granted access a 403, raised as the same error types the Run:ai path
raises for a gated model (`UnauthorizedError` / `ForbiddenError`, with the Hub's sentence),
so the Slack side asks for a token the same way.

`huggingface_hub` is synchronous: each lookup runs in a worker thread. The endpoint is
`HF_ENDPOINT` (`Settings.hf_endpoint`, the same variable `huggingface_hub` reads itself);
None leaves huggingface_hub's own default. The token is passed for one call and dropped:
never stored, logged, or put in an error. Without a user token the call is anonymous
(`token=False`), never the host's saved login or `HF_TOKEN`: the answer must not depend on
what the bot's machine happens to be logged into.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Literal

from huggingface_hub import HfApi
from huggingface_hub import ModelInfo as HfModelInfo
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from bot.modelinfo import memory, vllm
from bot.runai import errors, models

logger = logging.getLogger(__name__)

# Only what the answer needs: the Hub then skips siblings, card data, spaces and the rest.
EXPAND: list[Any] = ["pipeline_tag", "config", "safetensors", "gated", "library_name", "sha"]
INVALID_CREDENTIALS = "Invalid credentials in Authorization header"
DEFAULT_TIMEOUT_SECONDS = 10.0

Gating = Literal[False, "auto", "manual"]


class HubError(errors.RunaiError):
    """A Hugging Face Hub lookup failed. Subclasses are also the Run:ai error of that kind,
    so a handler written for the Run:ai path treats them alike; catch `HubError` to word
    a Hub failure differently."""


class HubTokenRequiredError(HubError, errors.UnauthorizedError):
    """401: a gated repository and no token."""


class HubTokenRefusedError(HubError, errors.UnauthorizedError):
    """401: the Hub does not accept the token at all."""


class HubAccessDeniedError(HubError, errors.ForbiddenError):
    """403: a gated repository the token has not been granted."""


class HubNotFoundError(HubError, errors.NotFoundError):
    """No such repository or revision (or a private one the token cannot see)."""


class HubUnavailableError(HubError, errors.UnavailableError):
    """The Hub did not answer, timed out, or failed (5xx, 429)."""


@dataclass(frozen=True)
class HubAnswer:
    """A Hub lookup: the bot's `ModelInfo`, plus what only the Hub says."""

    info: models.ModelInfo
    gated: Gating
    parameters: int | None
    library_name: str | None = None
    sha: str | None = None


def _gating(value: Any) -> Gating:
    if value == "manual":
        return "manual"
    if value == "auto" or value is True:  # older Hub answers said `true`
        return "auto"
    return False


def _parameters(safetensors: Any) -> int | None:
    total = getattr(safetensors, "total", None)
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def to_answer(info: HfModelInfo) -> HubAnswer:
    """`huggingface_hub.ModelInfo` → the bot's `ModelInfo` (memory and vLLM by the shared rules)."""
    config = info.config if isinstance(info.config, dict) else {}
    architectures = [a for a in config.get("architectures") or [] if isinstance(a, str)]
    parameters = _parameters(info.safetensors)
    return HubAnswer(
        info=models.ModelInfo(
            model_name=info.id,
            pipeline_tag=info.pipeline_tag,
            architectures=architectures,
            vllm_supporting_versions=vllm.supporting_versions(architectures),
            min_memory_requirements_mb=memory.min_memory_mb(parameters),
        ),
        gated=_gating(info.gated),
        parameters=parameters,
        library_name=info.library_name,
        sha=info.sha,
    )


def _server_message(exc: HfHubHTTPError) -> str | None:
    message = getattr(exc, "server_message", None)
    return message.strip() if isinstance(message, str) and message.strip() else None


def _status(exc: HfHubHTTPError) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def hub_error(exc: Exception, repo_id: str, *, with_token: bool) -> HubError:
    """The bot's error for a failed Hub call (no secret in it: built from the answer)."""
    if isinstance(exc, GatedRepoError):
        status = _status(exc) or 401
        said = _server_message(exc)
        if status == 403:
            return HubAccessDeniedError(
                403,
                said or f"Access to model {repo_id} is restricted: the token was not granted it.",
            )
        if with_token:
            return HubTokenRefusedError(
                401, f"Hugging Face refused the token for {repo_id}: {said or 'gated model'}"
            )
        return HubTokenRequiredError(
            401, said or f"Access to model {repo_id} is restricted: it is a gated model."
        )
    if isinstance(exc, RevisionNotFoundError):
        return HubNotFoundError(404, f"Hugging Face has no such revision of {repo_id}.")
    if isinstance(exc, RepositoryNotFoundError | HFValidationError):
        return HubNotFoundError(
            404,
            f"Repository Not Found for model {repo_id!r} on Hugging Face: it does not exist, "
            "or it is private and the token cannot see it.",
        )
    if isinstance(exc, HfHubHTTPError):
        status = _status(exc) or 500
        said = _server_message(exc) or f"HTTP {status}"
        if status == 401:
            return HubTokenRefusedError(401, f"Hugging Face refused the token: {said}")
        if status == 403:
            return HubAccessDeniedError(403, f"Hugging Face refused access to {repo_id}: {said}")
        if status == 429 or status >= 500:
            return HubUnavailableError(status, f"the Hugging Face Hub answered {status}: {said}")
        return HubError(status, f"the Hugging Face Hub answered {status}: {said}")
    if isinstance(exc, TimeoutError):
        return HubUnavailableError(504, "the Hugging Face Hub did not answer in time")
    # Transport failures differ by huggingface_hub version (requests, httpx): name the type
    # only; their text can hold the full URL and a proxy's words, never needed by a user.
    return HubUnavailableError(503, f"the Hugging Face Hub did not answer ({type(exc).__name__})")


class HubModelInfo:
    """Model info from the Hugging Face Hub at `endpoint` (None: huggingface_hub's own)."""

    def __init__(
        self, endpoint: str | None = None, *, timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        self._api = HfApi(endpoint=endpoint)
        self._timeout = timeout

    @property
    def endpoint(self) -> str:
        """The Hub's base URL in use."""
        return str(self._api.endpoint)

    def _lookup_sync(self, repo_id: str, token: str | bool) -> HubAnswer:
        info = self._api.model_info(repo_id, token=token, timeout=self._timeout, expand=EXPAND)
        answer = to_answer(info)
        if answer.gated:
            # Metadata is public; the files are what the deployment needs.
            self._api.auth_check(answer.info.model_name, token=token)
        return answer

    async def lookup(self, model_name: str, hf_token: str | None = None) -> HubAnswer:
        """What the Hub says about `model_name`; see the module doc for the errors."""
        repo_id = model_name.strip()
        token: str | bool = hf_token or False
        started = time.monotonic()
        try:
            # auth_check takes no timeout: bound the whole lookup here (the worker thread
            # is left to finish on its own if the Hub hangs).
            answer = await asyncio.wait_for(
                asyncio.to_thread(self._lookup_sync, repo_id, token), timeout=2 * self._timeout
            )
        except Exception as exc:
            error = hub_error(exc, repo_id, with_token=bool(hf_token)).redact(hf_token)
            logger.info(
                "hub model info failed",
                extra={"model": repo_id, "code": error.code, "error": type(error).__name__},
            )
            # `from None`: the Hub exception holds the request, Authorization header included.
            raise error from None
        logger.info(
            "hub model info",
            extra={
                "model": answer.info.model_name,
                "gated": answer.gated,
                "ms": round((time.monotonic() - started) * 1000),
            },
        )
        return answer

    async def model_info(self, model_name: str, hf_token: str | None = None) -> models.ModelInfo:
        """Same call shape as `RunaiClient.model_info`: the bot's `ModelInfo` only."""
        return (await self.lookup(model_name, hf_token)).info
