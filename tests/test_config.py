"""The care settings: defaults, readable values, and a clear failure at start."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from bot import cli
from bot.config import SettingsError, load_settings

CARE = (
    "IDLE_AFTER",
    "IDLE_CHECK_INTERVAL_SECONDS",
    "GPU_HOUR_COST",
    "COST_CURRENCY",
    "SCHEDULE_MISFIRE_GRACE_SECONDS",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CARE:
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.idle_after == timedelta(hours=24)
    assert settings.idle_check_interval_seconds == 900
    assert settings.gpu_hour_cost is None
    assert settings.cost_currency == "USD"
    assert settings.schedule_misfire_grace_seconds == 300


def test_values_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDLE_AFTER", "30s")
    monkeypatch.setenv("IDLE_CHECK_INTERVAL_SECONDS", "5")
    monkeypatch.setenv("GPU_HOUR_COST", "2.50")
    monkeypatch.setenv("COST_CURRENCY", "eur")
    monkeypatch.setenv("SCHEDULE_MISFIRE_GRACE_SECONDS", "0")
    settings = load_settings()
    assert settings.idle_after == timedelta(seconds=30)
    assert settings.idle_check_interval_seconds == 5
    assert settings.gpu_hour_cost == Decimal("2.50")
    assert settings.cost_currency == "EUR"
    assert settings.schedule_misfire_grace_seconds == 0


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("IDLE_AFTER", "forever", "30s, 15m, 24h or 7d"),
        ("IDLE_AFTER", "86400", "30s, 15m, 24h or 7d"),
        ("IDLE_AFTER", "0s", "longer than 0s"),
        ("IDLE_CHECK_INTERVAL_SECONDS", "0", "greater than 0"),
        ("GPU_HOUR_COST", "cheap", "decimal"),
        ("GPU_HOUR_COST", "-1", "greater than or equal to 0"),
        ("GPU_HOUR_COST", "NaN", "GPU_HOUR_COST"),
        ("COST_CURRENCY", "dollars", "three-letter ISO 4217 code"),
        ("SCHEDULE_MISFIRE_GRACE_SECONDS", "-5", "greater than or equal to 0"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_it_takes(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, words: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert f"{name}:" in str(info.value)
    assert words in str(info.value)


def test_the_command_line_stops_at_start_with_the_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IDLE_AFTER", "a while")
    assert cli.main(["run"]) == 2
    err = capsys.readouterr().err
    assert "IDLE_AFTER: Durations look like 30s, 15m, 24h or 7d, not “a while”." in err
    assert "Traceback" not in err
