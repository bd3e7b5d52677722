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
