"""What the forms share: amounts, metadata, reading Slack's view state (pure)."""

from __future__ import annotations

import pytest

from bot.slack.ids import Field
from bot.slack.modals import fields


@pytest.mark.parametrize(
    ("given", "expected"),
    [("20Gi", "20Gi"), ("20GiB", "20Gi"), ("16000 MB", "16000M"), ("1.5G", "1.5G"), ("8", "8")],
)
def test_quantities(given: str, expected: str) -> None:
    assert fields.quantity(given, "x") == expected


def test_modal_context_round_trip_and_garbage() -> None:
    ctx = fields.ModalContext(channel_id="C1", workload_id="w", name="n")
    assert fields.ModalContext.load(ctx.dump()) == ctx
    assert fields.ModalContext.load("not json") == fields.ModalContext()
    assert fields.ModalContext.load(None) == fields.ModalContext()


def test_field_values_reads_inputs_and_selects() -> None:
    values = fields.field_values(
        {
            "f_name": {"f_name": {"type": "plain_text_input", "value": "  x  "}},
            "f_project": {
                "f_project": {"type": "static_select", "selected_option": {"value": "2"}}
            },
            "f_metric": {"f_metric": {"type": "static_select", "selected_option": None}},
            "unknown": {"a": {"value": "ignored"}},
        }
    )
    assert values == {Field.NAME: "x", Field.PROJECT: "2", Field.METRIC: ""}
