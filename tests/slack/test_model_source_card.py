"""The model card says where its answer came from (MODEL_INFO_SOURCE)."""

from __future__ import annotations

from bot.fakeslack import block_problems
from bot.modelinfo.source import Origin
from bot.runai import models
from bot.slack.modals.create import model_message

INFO = models.ModelInfo(
    model_name="Qwen/Qwen3-8B",
    pipeline_tag="text-generation",
    architectures=["Qwen3ForCausalLM"],
    vllm_supporting_versions=["0.8.5"],
    min_memory_requirements_mb=18_748,
)


def test_card_names_its_source() -> None:
    for origin in Origin:
        message = model_message(INFO, source=origin.label)
        assert f"Source: {origin.label}" in str(message["blocks"])
        assert block_problems(message["blocks"]) == []


def test_card_without_a_source_says_nothing_of_it() -> None:
    assert "Source:" not in str(model_message(INFO)["blocks"])


def test_source_text_is_escaped() -> None:
    text = str(model_message(INFO, source="<!channel> & co")["blocks"])
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; co" in text
