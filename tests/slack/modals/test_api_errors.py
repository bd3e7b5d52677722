"""Run:ai's 400 messages land on the field they name, if the form has it."""

from __future__ import annotations

import pytest

from bot.slack.ids import Field
from bot.slack.modals import api_errors


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ("Bad request - invalid workload name 'X': must be lower case", Field.NAME),
        ("Bad request - The image name is mandatory for creating a workload", Field.IMAGE),
        ("Bad request - spec.servingPort.container must be an integer in 1..65535", Field.PORT),
        (
            "Bad request - spec.compute.gpuMemoryRequest must be a quantity like '20G'",
            Field.GPU_MEMORY,
        ),
        (
            "Bad request - spec.autoscaling.maxReplicas (1) must be >= minReplicas (2)",
            Field.MAX_REPLICAS,
        ),
        ("Bad request - spec.autoscaling.metricThreshold is mandatory", Field.THRESHOLD),
        ("Bad request - spec.environmentVariables[0] must be an object", Field.ENV),
        ("Bad request - project 9 does not exist", Field.PROJECT),
        ("Something unrelated", None),
    ],
)
def test_api_messages_map_to_fields(message: str, field: Field | None) -> None:
    assert api_errors.field_for_api_message(message, api_errors.CREATE_FIELDS) == field


def test_api_message_field_must_be_on_the_form() -> None:
    assert (
        api_errors.field_for_api_message("invalid workload name", api_errors.SCALE_FIELDS) is None
    )
