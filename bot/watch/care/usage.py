"""Metric samples → what a person reads: requests served, GPU-hours held, their cost.

Pure. Samples come from Run:ai's metrics API (`THROUGHPUT` in requests/s, `LATENCY` in ms,
`GPU_ALLOCATION` in GPUs); a value holds from its timestamp until the next sample.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from bot.runai import models

# ISO 4217 currencies whose amounts are printed without the usual two decimals.
_ZERO_DECIMALS = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE_DECIMALS = "BHD IQD JOD KWD LYD OMR TND"
_MINOR_UNITS = {
    **dict.fromkeys(_ZERO_DECIMALS.split(), 0),
    **dict.fromkeys(_THREE_DECIMALS.split(), 3),
}


class Sample(NamedTuple):
    """One metric sample; `value` None is a gap the API reported."""

    at: datetime
    value: float | None


def samples_of(measurement: models.Measurement | None) -> list[Sample]:
    """A Run:ai series → samples in time order (samples without a timestamp dropped)."""
    if measurement is None:
        return []
    found = [Sample(v.timestamp, v.value) for v in measurement.values if v.timestamp is not None]
    return sorted(found, key=lambda s: s.at)


def served_any(samples: Iterable[Sample]) -> bool:
    """Whether any sample shows traffic (a positive throughput)."""
    return any(s.value is not None and s.value > 0 for s in samples)


def _spans(samples: Sequence[Sample], end: datetime) -> list[tuple[float, float]]:
    """(value, seconds it held) per sample: until the next sample, the last until `end` but
    no longer than the usual spacing (a series that stopped does not hold for ever)."""
    ordered = sorted((s for s in samples if s.value is not None), key=lambda s: s.at)
    if not ordered:
        return []
    gaps = [(b.at - a.at).total_seconds() for a, b in itertools.pairwise(ordered)]
    usual = sorted(gaps)[len(gaps) // 2] if gaps else 0.0
    spans = [(a.value or 0.0, gap) for a, gap in zip(ordered, gaps, strict=False)]
    tail = min(max((end - ordered[-1].at).total_seconds(), 0.0), usual)
    spans.append((ordered[-1].value or 0.0, tail))
    return spans


def requests_served(throughput: Sequence[Sample], end: datetime) -> float:
    """Requests over the series: requests/s integrated over time."""
    return sum(max(value, 0.0) * seconds for value, seconds in _spans(throughput, end))


def gpu_hours_of(allocation: Sequence[Sample], end: datetime) -> float:
    """GPU-hours over a `GPU_ALLOCATION` series."""
    return sum(max(value, 0.0) * seconds for value, seconds in _spans(allocation, end)) / 3600


def gpu_hours(gpus: float, held: timedelta) -> float:
    """GPU-hours of `gpus` held for `held`."""
    return max(gpus, 0.0) * max(held.total_seconds(), 0.0) / 3600


def p95(samples: Iterable[Sample]) -> float | None:
    """The 95th percentile (nearest rank) of the sample values; None without values."""
    values = sorted(s.value for s in samples if s.value is not None and math.isfinite(s.value))
    if not values:
        return None
    return values[max(math.ceil(0.95 * len(values)) - 1, 0)]


def cost(hours: float, price: Decimal | None) -> Decimal | None:
    """The money of `hours` GPU-hours at `price` a GPU-hour; None without a price."""
    if price is None:
        return None
    return Decimal(str(round(hours, 6))) * price


def say_money(amount: Decimal, currency: str) -> str:
    """`1,234.50 USD`, `3,000 JPY`: the currency's usual decimals, half up, its ISO code."""
    places = _MINOR_UNITS.get(currency, 2)
    rounded = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{rounded:,.{places}f} {currency}"


def _number(value: float) -> str:
    # 2, 0.5, 12.5, 1,234: no trailing zeros, at most two decimals.
    text = f"{round(value, 2):,.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def say_gpus(gpus: float) -> str:
    """`2 GPUs`, `1 GPU`, `0.5 GPU`."""
    return f"{_number(gpus)} GPU" + ("s" if gpus > 1 else "")


def say_gpu_hours(hours: float) -> str:
    """`48 GPU-hours`, `1 GPU-hour`, `0.25 GPU-hours`."""
    return f"{_number(hours)} GPU-hour" + ("" if _number(hours) == "1" else "s")


def say_requests(count: float) -> str:
    """`12,345`, `1.2M`, `0`: a request count at a glance."""
    if count >= 1_000_000:
        return f"{_number(count / 1_000_000)}M"
    return f"{round(count):,}"
