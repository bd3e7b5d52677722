"""The offline catalog (bot/emulator/catalog.json): size, families, fields, rules."""

from __future__ import annotations

import re

import pytest

from bot.emulator.catalog import CATALOG, lookup
from bot.modelinfo import vllm

FAMILIES = {
    "Llama 2": r"^meta-llama/Llama-2-",
    "Llama 3": r"^meta-llama/Meta-Llama-3-",
    "Llama 3.1": r"^meta-llama/Llama-3\.1-",
    "Llama 3.2": r"^meta-llama/Llama-3\.2-",
    "Llama 3.3": r"^meta-llama/Llama-3\.3-",
    "Mistral": r"^mistralai/Mistral-",
    "Mixtral": r"^mistralai/Mixtral-",
    "Qwen 2": r"^Qwen/Qwen2-",
    "Qwen 2.5": r"^Qwen/Qwen2\.5-",
    "Qwen 3": r"^Qwen/Qwen3-",
    "Gemma 1": r"^google/gemma-\d+b",
    "Gemma 2": r"^google/gemma-2-",
    "Gemma 3": r"^google/gemma-3-",
    "Phi 2": r"^microsoft/phi-2$",
    "Phi 3": r"^microsoft/Phi-3",
    "Phi 4": r"^microsoft/(phi|Phi)-4",
    "DeepSeek R1 distills": r"^deepseek-ai/DeepSeek-R1-Distill-",
    "DeepSeek V2 Lite": r"^deepseek-ai/DeepSeek-V2-Lite",
    "Falcon": r"^tiiuae/(falcon|Falcon)",
    "SmolLM": r"^HuggingFaceTB/SmolLM",
    "BGE": r"^BAAI/bge-",
    "E5": r"^intfloat/.*e5",
    "GTE": r"^thenlper/gte-",
    "nomic": r"^nomic-ai/nomic-embed-text",
    "Whisper": r"^openai/whisper-",
}


def test_at_least_sixty_distinct_repositories() -> None:
    assert len(CATALOG) >= 60
    assert len({m.name.lower() for m in CATALOG}) == len(CATALOG)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_is_present(family: str) -> None:
    assert any(re.match(FAMILIES[family], m.name) for m in CATALOG), family


def test_every_row_is_complete() -> None:
    for m in CATALOG:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", m.name), m.name
        assert m.pipeline_tag and m.architectures and m.model_type and m.library_name
        assert m.parameters > 0
        assert m.gated in (False, "auto", "manual")
        assert m.dtype in {"F32", "F16", "BF16"}
        assert m.min_memory_mb() > 0


def test_gating_follows_the_hub() -> None:
    for m in CATALOG:
        owner = m.name.split("/")[0]
        if owner in {"meta-llama", "google", "mistralai"} and m.model_type != "vit":
            assert m.gated, m.name
        if owner in {"Qwen", "microsoft", "deepseek-ai", "BAAI", "openai", "HuggingFaceTB"}:
            assert m.gated is False, m.name
    assert lookup("meta-llama/Llama-3.1-8B-Instruct").gated == "manual"  # type: ignore[union-attr]
    assert lookup("mistralai/Mistral-7B-Instruct-v0.3").gated == "auto"  # type: ignore[union-attr]


def test_tasks_cover_generation_embeddings_speech_and_vision() -> None:
    tags = {m.pipeline_tag for m in CATALOG}
    assert {
        "text-generation",
        "feature-extraction",
        "sentence-similarity",
        "automatic-speech-recognition",
        "image-text-to-text",
        "image-classification",
    } <= tags
    for m in CATALOG:
        if m.name.startswith("openai/whisper-"):
            assert m.pipeline_tag == "automatic-speech-recognition"
            assert m.architectures == ("WhisperForConditionalGeneration",)


def test_language_models_are_served_by_vllm() -> None:
    for m in CATALOG:
        if m.pipeline_tag in {"text-generation", "feature-extraction", "sentence-similarity"}:
            assert m.vllm_versions(), m.name
    unknown = {a for m in CATALOG for a in m.architectures} - vllm.supported_architectures()
    assert unknown == {"ViTForImageClassification"}


def test_same_architecture_same_size_same_memory() -> None:
    # A distill keeps its base's shape: the rule must give them the same memory.
    base = lookup("Qwen/Qwen2.5-14B-Instruct")
    distill = lookup("deepseek-ai/DeepSeek-R1-Distill-Qwen-14B")
    assert base is not None and distill is not None
    assert base.parameters == distill.parameters
    assert base.min_memory_mb() == distill.min_memory_mb()
