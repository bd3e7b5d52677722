"""Pure parts: timelines, filters, timestamps, quantities, traffic, the catalog's memory formula."""

from __future__ import annotations

import pytest

from bot.emulator import metrics, phases, usage
from bot.emulator.catalog import CATALOG, CatalogModel
from bot.emulator.clock import iso, parse_timestamp
from bot.emulator.errors import ApiError
from bot.emulator.filtering import Filter, parse_filters, split_params
from bot.emulator.schema import subset
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


def test_timeline_steps_walked_so_far() -> None:
    timeline = phases.creation(100.0, 2.0, "vllm:latest")
    assert timeline.steps(99.0, inclusive=True) == []
    assert timeline.steps(100.0, inclusive=True) == [("Creating", 100.0, None)]
    assert timeline.steps(100.0, inclusive=False) == []
    assert [s[0] for s in timeline.steps(103.0, inclusive=True)] == ["Creating", "Initializing"]
    # Replaced exactly when Running would have begun: Running never happened.
    assert [s[0] for s in timeline.steps(104.0, inclusive=False)] == ["Creating", "Initializing"]
    assert [s[0] for s in timeline.steps(1e9, inclusive=True)] == [
        "Creating",
        "Initializing",
        "Running",
    ]
    forced = phases.forced(10.0, "Failed", "OOMKilled")
    assert forced.steps(99.0, inclusive=True) == [("Failed", 10.0, "OOMKilled")]
    instant = phases.creation(5.0, 0.0, "vllm")
    assert instant.steps(5.0, inclusive=True) == [
        ("Creating", 5.0, None),
        ("Initializing", 5.0, None),
        ("Running", 5.0, None),
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("20G", 20e9),
        ("200Mi", 200 * 2**20),
        ("1.5Gi", 1.5 * 2**30),
        ("500m", 0.5),
        ("2e9", 2e9),
        ("7", 7.0),
        ("lots", 0.0),
        (None, 0.0),
    ],
)
def test_quantities(text: str | None, value: float) -> None:
    assert usage.quantity(text) == pytest.approx(value)


def test_gpus_per_replica() -> None:
    assert usage.gpus_per_pod({}) == 0.0
    assert usage.gpus_per_pod({"compute": {"gpuDevicesRequest": 2}}) == 2.0
    assert usage.gpus_per_pod({"compute": {"gpuPortionRequest": 0.25}}) == 0.25
    half = {"compute": {"gpuDevicesRequest": 1, "gpuMemoryRequest": "40Gi"}}
    assert usage.gpus_per_pod(half) == 0.5
    assert usage.gpu_memory_per_pod(half) == 40 * 2**30


def test_traffic_settings_merge_field_by_field_in_time() -> None:
    settings = [
        usage.TrafficSetting(10.0, {"requestsPerSecond": 5.0}),
        usage.TrafficSetting(20.0, {"gpuUtilization": 0.0}),
        usage.TrafficSetting(30.0, {"requestsPerSecond": None}),
    ]
    assert usage.traffic_at(settings, 9.0) == {}
    assert usage.traffic_at(settings, 15.0) == {"requestsPerSecond": 5.0}
    assert usage.traffic_at(settings, 25.0) == {"requestsPerSecond": 5.0, "gpuUtilization": 0.0}
    assert usage.traffic_at(settings, 30.0) == {"requestsPerSecond": None, "gpuUtilization": 0.0}


def test_sample_times_never_precede_the_creation() -> None:
    query = metrics.MetricsQuery(("LATENCY",), start=0.0, end=100.0, samples=5)
    assert metrics.timestamps(query) == [0.0, 25.0, 50.0, 75.0, 100.0]
    assert metrics.timestamps(query, not_before=60.0) == [60.0, 70.0, 80.0, 90.0, 100.0]
    assert metrics.timestamps(query, not_before=100.0) == [100.0]
    assert metrics.timestamps(query, not_before=100.5) == []


def test_metric_types_are_the_schemas() -> None:
    schemas = subset()["components"]["schemas"]
    assert list(metrics.WORKLOAD_METRIC_TYPES) == schemas["WorkloadMetricType"]["enum"]
    assert list(metrics.INFERENCE_METRIC_TYPES) == schemas["InferenceWorkloadMetricType"]["enum"]
