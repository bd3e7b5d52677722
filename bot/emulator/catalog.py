"""An offline catalog of real Hugging Face models for the model-info call.

The data lives in `catalog.json` beside this module (pipeline tag, architectures, model
type, safetensors parameter count and dtype, gating, library, license, as the Hub shows
each repository); the fake Hub (`bot/fakehub`) serves the same table. Two answers are
derived, by rules the bot's own Hub path shares (`bot/modelinfo`):
`minMemoryRequirementsMb` from the parameter count (`bot.modelinfo.memory`), and
`vllmSupportingVersions` from the architectures (`bot.modelinfo.vllm`, empty when vLLM
cannot serve it, e.g. ViT image classifiers).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from bot.emulator.errors import ApiError, bad_request
from bot.modelinfo import memory, vllm

CATALOG_PATH = Path(__file__).with_name("catalog.json")

Gating = Literal[False, "auto", "manual"]
"""The Hub's `gated`: open, or gated with automatic / manual approval."""


@dataclass(frozen=True)
class CatalogModel:
    """A Hugging Face repository as the model-info call (and the fake Hub) describes it."""

    name: str
    pipeline_tag: str
    architectures: tuple[str, ...]
    parameters: int
    gated: Gating = False
    model_type: str = ""
    dtype: str = "BF16"
    library_name: str = "transformers"
    license: str = "apache-2.0"

    def min_memory_mb(self) -> int:
        """Memory needed to serve the model (`bot.modelinfo.memory`)."""
        mb = memory.min_memory_mb(self.parameters)
        if mb is None:  # the catalog's own test keeps every count positive
            raise ValueError(f"{self.name}: no parameter count")
        return mb

    def vllm_versions(self) -> list[str]:
        """vLLM releases able to serve it (`bot.modelinfo.vllm`)."""
        return vllm.supporting_versions(self.architectures)


def _gating(value: Any) -> Gating:
    if value is False:
        return False
    if value == "auto":
        return "auto"
    if value == "manual":
        return "manual"
    raise ValueError(f"gated must be false, 'auto' or 'manual', not {value!r}")


def _row(row: Mapping[str, Any]) -> CatalogModel:
    return CatalogModel(
        name=str(row["id"]),
        pipeline_tag=str(row["pipeline_tag"]),
        architectures=tuple(str(a) for a in row["architectures"]),
        parameters=int(row["parameters"]),
        gated=_gating(row["gated"]),
        model_type=str(row["model_type"]),
        dtype=str(row["dtype"]),
        library_name=str(row["library_name"]),
        license=str(row["license"]),
    )


@cache
def load(path: Path = CATALOG_PATH) -> tuple[CatalogModel, ...]:
    """The catalog's models, in the data file's order."""
    data: Any = json.loads(path.read_text(encoding="utf-8"))
    return tuple(_row(row) for row in data["models"])


CATALOG = load()
_BY_NAME = {model.name.lower(): model for model in CATALOG}


def lookup(name: str) -> CatalogModel | None:
    """A catalog model by repository id (case-insensitive, like the Hub's redirects)."""
    return _BY_NAME.get(name.strip().lower())


def model_info(body: Any) -> dict[str, Any]:
    """Answer `{modelName, hfToken?, requestMinMemoryRequirements?}` like the Hub would."""
    if not isinstance(body, Mapping):
        raise bad_request("Bad request - the body must be a JSON object")
    name = body.get("modelName")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("Bad request - modelName is required", details="field: modelName")
    token = body.get("hfToken")
    if token is not None and not isinstance(token, str):
        raise bad_request("Bad request - hfToken must be a string", details="field: hfToken")
    want_memory = body.get("requestMinMemoryRequirements", True)
    if not isinstance(want_memory, bool):
        raise bad_request("Bad request - requestMinMemoryRequirements must be a boolean")
    if token and not token.startswith("hf_"):
        raise ApiError(401, "Invalid Hugging Face token: user access tokens start with 'hf_'.")
    model = lookup(name)
    if model is None:
        raise ApiError(
            404,
            f"Repository Not Found for model {name.strip()!r}: it does not exist on Hugging Face, "
            "or it is private and the token cannot see it.",
        )
    if model.gated and not token:
        raise ApiError(
            401,
            f"Access to model {model.name} is restricted: it is a gated model. Accept its "
            "license on huggingface.co and send an hfToken with access to it.",
        )
    info: dict[str, Any] = {
        "modelName": model.name,
        "pipelineTag": model.pipeline_tag,
        "architectures": list(model.architectures),
        "vllmSupportingVersions": model.vllm_versions(),
    }
    if want_memory:
        info["minMemoryRequirementsMb"] = model.min_memory_mb()
    return info
