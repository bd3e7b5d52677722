"""Samples → requests, GPU-hours, money and their words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.runai import models
from bot.watch.care.usage import (
    Sample,
    cost,
    gpu_hours,
    gpu_hours_of,
    p95,
    requests_served,
    samples_of,
    say_gpu_hours,
    say_gpus,
    say_money,
    say_requests,
    served_any,
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def _series(values: list[float | None], step: timedelta = timedelta(minutes=1)) -> list[Sample]:
    return [Sample(T0 + i * step, v) for i, v in enumerate(values)]


def test_samples_of_a_runai_series_are_in_time_order_without_untimed_ones() -> None:
    series = models.Measurement(
        type="THROUGHPUT",
        values=[
            models.MetricValue(value=2.0, timestamp=T0 + timedelta(minutes=1)),
            models.MetricValue(value=1.0, timestamp=T0),
            models.MetricValue(value=5.0, timestamp=None),
        ],
    )
    assert samples_of(series) == [Sample(T0, 1.0), Sample(T0 + timedelta(minutes=1), 2.0)]
    assert samples_of(None) == []


def test_served_any_needs_a_positive_sample() -> None:
    assert not served_any([])
    assert not served_any(_series([0.0, None, 0.0]))
    assert served_any(_series([0.0, 0.01]))


def test_requests_and_gpu_hours_integrate_a_step_series() -> None:
    # 2 requests/s for 3 minutes, then the last sample holds one usual step (60 s).
    series = _series([2.0, 2.0, 2.0])
    assert requests_served(series, T0 + timedelta(hours=1)) == pytest.approx(2.0 * 180)
    # The last sample holds only until `end` when that is sooner.
    assert requests_served(series, T0 + timedelta(minutes=2, seconds=30)) == pytest.approx(
        2.0 * 150
    )
    hourly = _series([2.0] * 24, timedelta(hours=1))
    assert gpu_hours_of(hourly, T0 + timedelta(hours=24)) == pytest.approx(48)
    assert gpu_hours(2, timedelta(hours=24)) == 48
    assert requests_served([], T0) == 0


def test_p95_is_the_nearest_rank() -> None:
    assert p95(_series([float(v) for v in range(1, 101)])) == 95
    assert p95(_series([None, 7.0])) == 7
    assert p95([]) is None


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (Decimal("120"), "USD", "120.00 USD"),
        (Decimal("1234.505"), "EUR", "1,234.51 EUR"),
        (Decimal("0.004"), "USD", "0.00 USD"),
        (Decimal("3000.4"), "JPY", "3,000 JPY"),
        (Decimal("1.2345"), "KWD", "1.235 KWD"),
    ],
)
def test_money_has_its_currency_decimals(amount: Decimal, currency: str, text: str) -> None:
    assert say_money(amount, currency) == text


def test_cost_needs_a_price() -> None:
    assert cost(48, None) is None
    assert cost(48, Decimal("2.50")) == Decimal("120.00")


@pytest.mark.parametrize(
    ("gpus", "text"),
    [(2, "2 GPUs"), (1, "1 GPU"), (0.5, "0.5 GPU"), (0, "0 GPU"), (12.25, "12.25 GPUs")],
)
def test_gpus_in_words(gpus: float, text: str) -> None:
    assert say_gpus(gpus) == text


def test_gpu_hours_and_requests_in_words() -> None:
    assert say_gpu_hours(48) == "48 GPU-hours"
    assert say_gpu_hours(1) == "1 GPU-hour"
    assert say_gpu_hours(0.25) == "0.25 GPU-hours"
    assert say_gpu_hours(1234.5) == "1,234.5 GPU-hours"
    assert say_requests(12345.4) == "12,345"
    assert say_requests(2_500_000) == "2.5M"


@given(st.lists(st.floats(min_value=0, max_value=1e4), max_size=50))
def test_integrals_are_never_negative_and_bounded(values: list[float]) -> None:
    series = _series(list(values))
    end = T0 + timedelta(minutes=len(values))
    total = requests_served(series, end)
    assert 0 <= total <= max(values, default=0) * 60 * max(len(values), 1) + 1e-6
