"""Pure parts: timelines, filters, timestamps, the catalog's memory formula."""

from __future__ import annotations

import pytest

from bot.emulator import phases
from bot.emulator.catalog import CATALOG, CatalogModel
from bot.emulator.clock import iso, parse_timestamp
from bot.emulator.errors import ApiError
from bot.emulator.filtering import Filter, parse_filters, split_params
from bot.emulator.validation import effective_replicas, merge_patch


def test_creation_timeline_steps() -> None:
    timeline = phases.creation(100.0, 2.0, "vllm:latest")
    assert timeline.phase_at(100.0) == ("Creating", 100.0, None)
    assert timeline.phase_at(101.9) == ("Creating", 100.0, None)
    assert timeline.phase_at(102.0) == ("Initializing", 102.0, None)
    assert timeline.phase_at(104.5) == ("Running", 104.0, None)
    assert timeline.phase_at(10_000.0) == ("Running", 104.0, None)


def test_failing_image_and_zero_step() -> None:
    failing = phases.creation(0.0, 0.0, "my-FAIL-image")
    phase, _, message = failing.phase_at(0.0) or ("", 0.0, None)
    assert phase == "Failed"
    assert message is not None and "my-FAIL-image" in message


def test_deletion_removes_after_one_step() -> None:
    timeline = phases.deletion(50.0, 1.0)
    assert timeline.phase_at(50.5) == ("Deleting", 50.0, None)
    assert timeline.phase_at(51.0) is None
    assert timeline.removed_time() == 51.0


def test_iso_and_parse_round_trip() -> None:
    assert iso(0.0) == "1970-01-01T00:00:00.000Z"
    assert iso(1.2346) == "1970-01-01T00:00:01.235Z"
    for text in (
        "2023-06-06 12:09:18.211",
        "2023-06-06T12:09:18.211Z",
        "2023-06-06T14:09:18.211+02:00",
    ):
        assert iso(parse_timestamp(text)) == "2023-06-06T12:09:18.211Z"
    with pytest.raises(ValueError):
        parse_timestamp("June 6th")


def test_filter_terms() -> None:
    assert split_params(["a==1,b==2", "c==3"]) == ["a==1", "b==2", "c==3"]
    [term] = parse_filters(["name=@llm"], ["name"], frozenset())
    assert term == Filter("name", "=@", "llm", None)
    assert term.accepts("my-llm") and not term.accepts("other")
    assert Filter("name", "!=", "x", None).accepts(None)
    assert not Filter("name", "==", "x", None).accepts(None)
    with pytest.raises(ApiError) as caught:
        parse_filters(["nam==x"], ["name"], frozenset())
    assert caught.value.code == 400


def test_replica_defaults() -> None:
    assert effective_replicas(None) == (1, 1)
    assert effective_replicas({"minReplicas": 0}) == (0, 1)
    assert effective_replicas({"minReplicas": 3}) == (3, 3)
    assert effective_replicas({"maxReplicas": 4}) == (1, 4)


def test_merge_patch() -> None:
    current = {"a": 1, "b": {"c": 2, "d": 3}, "e": [1]}
    assert merge_patch(current, {"b": {"c": None, "x": 9}, "e": [2], "a": None}) == {
        "b": {"d": 3, "x": 9},
        "e": [2],
    }
    assert current == {"a": 1, "b": {"c": 2, "d": 3}, "e": [1]}


def test_memory_formula() -> None:
    model = CatalogModel("x/y", "text-generation", ("LlamaForCausalLM",), 1_000_000_000)
    assert model.min_memory_mb() == 2289  # ceil(1e9 * 2 * 1.2 / 2**20)
    assert (
        CatalogModel(
            "x/z", "image-classification", ("ViTForImageClassification",), 1
        ).vllm_versions()
        == []
    )


def test_catalog_covers_text_embeddings_and_vision() -> None:
    tags = {model.pipeline_tag for model in CATALOG}
    assert len(CATALOG) >= 8
    assert {"text-generation", "feature-extraction", "sentence-similarity"} <= tags
    assert {"image-classification", "image-text-to-text"} <= tags
    assert len({model.name.lower() for model in CATALOG}) == len(CATALOG)
