"""transport.py: proxy settings are read from the environment once per origin; an httpx
transport's failures say whether the request may have been sent."""

from __future__ import annotations

import httpx
import pytest
from yarl import URL

from bot.runai.httpx_wire import HttpxWire
from bot.runai.transport import AiohttpWire, WireError


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


@pytest.mark.parametrize(
    ("failure", "name", "sent", "timed_out"),
    [
        (httpx.ConnectError("refused"), "ConnectError", False, False),
        (httpx.ConnectTimeout("slow"), "ConnectTimeout", False, True),
        (httpx.PoolTimeout("busy"), "PoolTimeout", False, True),
        (httpx.UnsupportedProtocol("ftp"), "ConnectError", False, False),
        (httpx.ReadTimeout("slow"), "ReadTimeout", True, True),
        (httpx.WriteTimeout("slow"), "ReadTimeout", True, True),
        (httpx.ReadError("lost"), "ReadError", True, False),
        (httpx.WriteError("lost"), "ReadError", True, False),
        (httpx.RemoteProtocolError("closed"), "RemoteProtocolError", True, False),
    ],
)
async def test_an_httpx_failure_says_whether_the_request_may_have_been_sent(
    failure: httpx.TransportError, name: str, sent: bool, timed_out: bool
) -> None:
    """Only what surely never left the machine may be retried without a second create."""

    def fail(request: httpx.Request) -> httpx.Response:
        raise failure

    wire = HttpxWire(httpx.MockTransport(fail))
    with pytest.raises(WireError) as caught:
        await wire.send("POST", "http://runai.test/api/v1/workloads/inferences", {}, b"{}", 1.0)
    assert (type(caught.value).__name__, caught.value.sent, caught.value.timed_out) == (
        name,
        sent,
        timed_out,
    )
