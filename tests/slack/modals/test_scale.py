"""The scale form: validation, the typed command's rule, the prefill (pure)."""

from __future__ import annotations

from bot.runai import models
from bot.slack.ids import Field
from bot.slack.modals import scale


def test_scale_zero_to_one_needs_no_metric() -> None:
    scaling = scale.validate_scale({Field.MIN_REPLICAS: "0", Field.MAX_REPLICAS: "1"})
    assert isinstance(scaling, scale.Scaling)
    assert scale.check_scale_command(scaling) is None
    assert scale.check_scale_command(scale.Scaling(min_replicas=1, max_replicas=3)) is not None


def test_scale_values_prefill() -> None:
    values = scale.scale_values(
        models.AutoScaling(
            min_replicas=0,
            max_replicas=2,
            metric="concurrency",
            metric_threshold=5,
            scale_to_zero_retention_seconds=120,
        )
    )
    assert values == {
        Field.MIN_REPLICAS: "0",
        Field.MAX_REPLICAS: "2",
        Field.METRIC: "concurrency",
        Field.THRESHOLD: "5",
        Field.RETENTION: "120",
    }
    assert scale.scale_values(None)[Field.MAX_REPLICAS] == "1"


def test_typed_scale_keeps_the_metric_only_where_the_range_still_scales() -> None:
    auto = models.AutoScaling(
        min_replicas=0,
        max_replicas=3,
        metric="concurrency",
        metric_threshold=4,
        scale_to_zero_retention_seconds=60,
    )
    assert scale.command_scaling(auto, 1, 4) == scale.Scaling(
        min_replicas=1, max_replicas=4, metric="concurrency", threshold=4
    )
    assert scale.command_scaling(auto, 0, 2) == scale.Scaling(
        min_replicas=0, max_replicas=2, metric="concurrency", threshold=4, retention_seconds=60
    )
    assert scale.command_scaling(auto, 2, 2) == scale.Scaling(min_replicas=2, max_replicas=2)
    unscaled = scale.command_scaling(None, 1, 3)
    assert scale.check_scale_command(unscaled, "llama") is not None  # the form picks a metric
