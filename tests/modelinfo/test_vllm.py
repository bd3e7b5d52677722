"""The architectures → vLLM releases table shipped with the bot."""

from __future__ import annotations

import json

from bot.modelinfo import vllm


def test_table_is_well_formed() -> None:
    data = json.loads(vllm.TABLE_PATH.read_text(encoding="utf-8"))
    versions = data["versions"]
    assert versions == sorted(versions, key=lambda v: tuple(int(p) for p in v.split(".")))
    assert set(data["since"].values()) <= set(versions)


def test_served_architecture_lists_every_release_since() -> None:
    assert vllm.supporting_versions(["LlamaForCausalLM"]) == list(vllm.known_versions())
    qwen3 = vllm.supporting_versions(["Qwen3ForCausalLM"])
    assert qwen3[0] == "0.8.5"
    assert qwen3 == list(vllm.known_versions()[vllm.known_versions().index("0.8.5") :])


def test_unserved_or_empty_architectures_give_nothing() -> None:
    assert vllm.supporting_versions(["ViTForImageClassification"]) == []
    assert vllm.supporting_versions([]) == []


def test_any_served_architecture_counts_earliest_first() -> None:
    both = vllm.supporting_versions(["NoSuchArch", "Gemma3ForCausalLM", "LlamaForCausalLM"])
    assert both == vllm.supporting_versions(["LlamaForCausalLM"])
