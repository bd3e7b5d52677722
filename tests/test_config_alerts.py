"""ALERT_INTERVAL_SECONDS and STUCK_AFTER, read from the environment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from bot.config import Settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALERT_INTERVAL_SECONDS", raising=False)
    monkeypatch.delenv("STUCK_AFTER", raising=False)
    settings = Settings()
    assert settings.alert_interval_seconds == 60
    assert settings.stuck_after == timedelta(minutes=15)


def test_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_INTERVAL_SECONDS", "15")
    monkeypatch.setenv("STUCK_AFTER", "2h")
    settings = Settings()
    assert settings.alert_interval_seconds == 15
    assert settings.stuck_after == timedelta(hours=2)


@pytest.mark.parametrize(
    ("name", "value"),
    [("ALERT_INTERVAL_SECONDS", "0"), ("STUCK_AFTER", "15"), ("STUCK_AFTER", "0m")],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()
