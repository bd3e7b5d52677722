"""transport.py: proxy settings are read from the environment once per origin."""

from __future__ import annotations

import pytest
from yarl import URL

from bot.runai.transport import AiohttpWire


def test_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "internal.corp")
    wire = AiohttpWire()
    assert wire._proxy(URL("https://app.run.ai/api/v1/token")) == "http://proxy.corp:3128"
    assert wire._proxy(URL("https://runai.internal.corp/api")) is None
    assert wire._proxy(URL("http://app.run.ai/api")) is None  # no HTTP_PROXY set


def test_proxy_lookup_is_cached_per_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    wire = AiohttpWire()
    assert wire._proxy(URL("https://app.run.ai/a")) is None
    monkeypatch.setenv("HTTPS_PROXY", "http://late:1")
    assert wire._proxy(URL("https://app.run.ai/b")) is None
