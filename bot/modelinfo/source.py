"""Where `/inference model` gets its answer: Run:ai, the Hugging Face Hub, or both.

`MODEL_INFO_SOURCE`:
- `runai`: the control plane's model-info operation only (the seed's behaviour);
- `huggingface`: the Hub only (`hub.HubModelInfo`);
- `auto` (default): Run:ai, and the Hub when the control plane has no model-info route
  (`ModelInfoUnavailableError`: it answered 404/405/501 as a route, see
  `RunaiClient.model_info`). A 404 that names the model is Run:ai's answer and stands.

The answer says where it came from (`SourcedModelInfo.origin`), for the reply to say.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from bot.config import Settings
from bot.runai import errors, models

if TYPE_CHECKING:
    from bot.modelinfo.hub import Gating, HubAnswer, HubModelInfo

logger = logging.getLogger(__name__)


class Mode(StrEnum):
    """`MODEL_INFO_SOURCE`."""

    AUTO = "auto"
    RUNAI = "runai"
    HUGGINGFACE = "huggingface"


class Origin(StrEnum):
    """Who answered."""

    RUNAI = "runai"
    HUGGINGFACE = "huggingface"

    @property
    def label(self) -> str:
        """The source in words, for a reply ("Source: Run:ai")."""
        return "Run:ai" if self is Origin.RUNAI else "the Hugging Face Hub"


class ModelInfoLookup(Protocol):
    """Anything with Run:ai's model-info call shape (the client, the guarded client)."""

    async def model_info(self, model_name: str, hf_token: str | None = None) -> models.ModelInfo:
        """What is known about a Hugging Face model."""
        ...


class HubLookup(Protocol):
    """What the source needs of the Hub (`hub.HubModelInfo`, or `LazyHub` in front of it)."""

    async def lookup(self, model_name: str, hf_token: str | None = None) -> HubAnswer:
        """The Hub's answer for a model."""
        ...


class LazyHub:
    """`HubModelInfo`, built (and `huggingface_hub` imported) at the first lookup: the
    import takes ~0.4 s, which start-up (`/healthz` within 1 s) must not pay."""

    def __init__(self, endpoint: str | None, timeout: float) -> None:
        self._endpoint = endpoint
        self._timeout = timeout
        self._hub: HubModelInfo | None = None

    def _built(self) -> HubModelInfo:
        if self._hub is None:
            from bot.modelinfo.hub import HubModelInfo

            self._hub = HubModelInfo(self._endpoint, timeout=self._timeout)
        return self._hub

    @property
    def endpoint(self) -> str:
        """The Hub's base URL (builds the client: huggingface_hub resolves its default)."""
        return self._built().endpoint

    async def lookup(self, model_name: str, hf_token: str | None = None) -> HubAnswer:
        """The Hub's answer for a model."""
        return await self._built().lookup(model_name, hf_token)


@dataclass(frozen=True)
class SourcedModelInfo:
    """Model info and where it came from."""

    info: models.ModelInfo
    origin: Origin
    # Run:ai said it had no model-info route, so the Hub answered (auto mode).
    fell_back: bool = False
    # Only the Hub says these; None from Run:ai.
    gated: Gating | None = None
    parameters: int | None = None


class ModelInfoSource:
    """Model info from Run:ai, the Hub, or Run:ai falling back to the Hub."""

    def __init__(
        self, mode: Mode | str, *, runai: ModelInfoLookup | None, hub: HubLookup | None
    ) -> None:
        self.mode = Mode(mode)
        if self.mode is not Mode.HUGGINGFACE and runai is None:
            raise ValueError(f"MODEL_INFO_SOURCE={self.mode.value} needs the Run:ai client")
        if self.mode is not Mode.RUNAI and hub is None:
            raise ValueError(f"MODEL_INFO_SOURCE={self.mode.value} needs the Hub")
        self._runai = runai
        self._hub = hub

    def over(self, runai: ModelInfoLookup) -> ModelInfoSource:
        """The same source asking `runai` (e.g. the Run:ai client bound to a request's
        asker, so its policy check applies); the Hub is shared."""
        if self.mode is Mode.HUGGINGFACE:
            return self
        return ModelInfoSource(self.mode, runai=runai, hub=self._hub)

    async def _from_hub(
        self, model_name: str, hf_token: str | None, fell_back: bool
    ) -> SourcedModelInfo:
        assert self._hub is not None  # checked in __init__
        answer = await self._hub.lookup(model_name, hf_token)
        return SourcedModelInfo(
            answer.info,
            Origin.HUGGINGFACE,
            fell_back=fell_back,
            gated=answer.gated,
            parameters=answer.parameters,
        )

    async def model_info(self, model_name: str, hf_token: str | None = None) -> SourcedModelInfo:
        """Model info for `model_name`, raising the Run:ai error types (Hub ones subclass them).

        A gated model without a (good) token raises `UnauthorizedError`/`ForbiddenError`
        carrying the hub's sentence, whichever source answered.
        """
        if self.mode is Mode.HUGGINGFACE:
            return await self._from_hub(model_name, hf_token, fell_back=False)
        assert self._runai is not None  # checked in __init__
        try:
            info = await self._runai.model_info(model_name, hf_token)
        except errors.ModelInfoUnavailableError as exc:
            if self.mode is Mode.RUNAI:
                raise
            logger.info(
                "run:ai has no model info; asking the hugging face hub",
                extra={"model": model_name, "runai": exc.details or exc.message},
            )
            return await self._from_hub(model_name, hf_token, fell_back=True)
        return SourcedModelInfo(info, Origin.RUNAI)


def build_source(settings: Settings, runai: ModelInfoLookup | None) -> ModelInfoSource:
    """The source `settings` ask for (`MODEL_INFO_SOURCE`, `HF_ENDPOINT`), over `runai`."""
    mode = Mode(settings.model_info_source)
    hub = (
        None
        if mode is Mode.RUNAI
        else LazyHub(settings.hf_endpoint, timeout=settings.runai_timeout_seconds)
    )
    return ModelInfoSource(mode, runai=runai, hub=hub)
