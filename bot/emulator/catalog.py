"""An offline catalog of real Hugging Face models for the model-info call.

Pipeline tags, architectures, parameter counts and gating are those the Hub shows
for each repository. `minMemoryRequirementsMb` is derived, not looked up:

    minMemoryRequirementsMb = ceil(parameters * 2 bytes (bf16/fp16) * 1.2 / 2**20)

i.e. the weights in 16-bit plus 20% for activations, CUDA context and a minimal
KV cache. `vllmSupportingVersions` lists the vLLM releases (from a fixed set)
whose model registry includes the first architecture; empty when vLLM cannot
serve it (e.g. ViT image classifiers).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.emulator.errors import ApiError, bad_request

BYTES_PER_PARAMETER = 2
OVERHEAD = 1.2
VLLM_VERSIONS = ("0.6.4", "0.6.6", "0.7.3", "0.8.5", "0.9.2", "0.10.1")
# First vLLM release (of VLLM_VERSIONS) serving each architecture.
VLLM_SINCE = {
    "Qwen2ForCausalLM": "0.6.4",
    "LlamaForCausalLM": "0.6.4",
    "MistralForCausalLM": "0.6.4",
    "Phi3ForCausalLM": "0.6.4",
    "PhiForCausalLM": "0.6.4",
    "Gemma2ForCausalLM": "0.6.4",
    "OPTForCausalLM": "0.6.4",
    "Qwen2VLForConditionalGeneration": "0.6.4",
    "MllamaForConditionalGeneration": "0.6.4",
    "BertModel": "0.6.6",
    "XLMRobertaModel": "0.6.6",
    "MistralModel": "0.6.4",
    "WhisperForConditionalGeneration": "0.7.3",
}


@dataclass(frozen=True)
class CatalogModel:
    """A Hugging Face repository as the model-info call describes it."""

    name: str
    pipeline_tag: str
    architectures: tuple[str, ...]
    parameters: int
    gated: bool = False

    def min_memory_mb(self) -> int:
        """Memory needed to serve the model (see the module docstring)."""
        return math.ceil(self.parameters * BYTES_PER_PARAMETER * OVERHEAD / 2**20)

    def vllm_versions(self) -> list[str]:
        """vLLM releases able to serve the first architecture."""
        since = VLLM_SINCE.get(self.architectures[0])
        if since is None:
            return []
        return list(VLLM_VERSIONS[VLLM_VERSIONS.index(since) :])


CATALOG = (
    CatalogModel(
        "Qwen/Qwen2.5-7B-Instruct", "text-generation", ("Qwen2ForCausalLM",), 7_615_616_512
    ),
    CatalogModel(
        "Qwen/Qwen2.5-0.5B-Instruct", "text-generation", ("Qwen2ForCausalLM",), 494_032_768
    ),
    CatalogModel(
        "meta-llama/Llama-3.1-8B-Instruct",
        "text-generation",
        ("LlamaForCausalLM",),
        8_030_261_248,
        gated=True,
    ),
    CatalogModel(
        "meta-llama/Llama-3.2-11B-Vision-Instruct",
        "image-text-to-text",
        ("MllamaForConditionalGeneration",),
        10_670_220_835,
        gated=True,
    ),
    CatalogModel(
        "mistralai/Mistral-7B-Instruct-v0.3",
        "text-generation",
        ("MistralForCausalLM",),
        7_248_023_552,
        gated=True,
    ),
    CatalogModel(
        "microsoft/Phi-3-mini-4k-instruct", "text-generation", ("Phi3ForCausalLM",), 3_821_079_552
    ),
    CatalogModel("microsoft/phi-2", "text-generation", ("PhiForCausalLM",), 2_779_683_840),
    CatalogModel(
        "google/gemma-2-9b-it", "text-generation", ("Gemma2ForCausalLM",), 9_241_705_984, gated=True
    ),
    CatalogModel(
        "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
        "text-generation",
        ("LlamaForCausalLM",),
        1_100_048_384,
    ),
    CatalogModel("facebook/opt-125m", "text-generation", ("OPTForCausalLM",), 125_239_296),
    CatalogModel("BAAI/bge-large-en-v1.5", "feature-extraction", ("BertModel",), 335_141_888),
    CatalogModel(
        "sentence-transformers/all-MiniLM-L6-v2", "sentence-similarity", ("BertModel",), 22_713_216
    ),
    CatalogModel(
        "intfloat/e5-mistral-7b-instruct", "feature-extraction", ("MistralModel",), 7_110_660_096
    ),
    CatalogModel(
        "google/vit-base-patch16-224",
        "image-classification",
        ("ViTForImageClassification",),
        86_567_656,
    ),
    CatalogModel(
        "Qwen/Qwen2-VL-7B-Instruct",
        "image-text-to-text",
        ("Qwen2VLForConditionalGeneration",),
        8_291_375_616,
    ),
    CatalogModel(
        "openai/whisper-small",
        "automatic-speech-recognition",
        ("WhisperForConditionalGeneration",),
        241_734_912,
    ),
)
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
