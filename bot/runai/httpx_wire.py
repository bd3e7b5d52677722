"""`HttpxWire`: the client's requests through any `httpx.AsyncBaseTransport` (a mock, a
proxying `httpx.AsyncHTTPTransport`, a recording wrapper), for callers that pass
`RunaiClient(transport=...)`. Its failures become the `WireError`s of the default wire."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from bot.runai import transport as wire

# Most specific first: httpx's timeouts are also its network errors' kin.
_FAILURES: tuple[tuple[type[httpx.TransportError], type[wire.WireError]], ...] = (
    (httpx.ConnectTimeout, wire.ConnectTimeout),
    (httpx.PoolTimeout, wire.PoolTimeout),
    (httpx.ConnectError, wire.ConnectError),
    (httpx.UnsupportedProtocol, wire.ConnectError),  # refused before sending
    (httpx.TimeoutException, wire.ReadTimeout),  # read or write: it may have been sent
    (httpx.RemoteProtocolError, wire.RemoteProtocolError),
)


def wire_error(exc: httpx.TransportError) -> wire.WireError:
    """The `WireError` an httpx transport failure is (ReadError when none fits better)."""
    kind = next((ours for theirs, ours in _FAILURES if isinstance(exc, theirs)), wire.ReadError)
    return kind(str(exc) or type(exc).__name__)


class HttpxWire:
    """Sends through an httpx transport (called directly, without httpx.AsyncClient)."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self.transport = transport

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        socket_timeout: float,
    ) -> wire.Reply:
        """Send one request as an `httpx.Request`."""
        request = httpx.Request(
            method,
            url,
            headers=headers,
            content=body,
            extensions={
                "timeout": dict.fromkeys(("connect", "read", "write", "pool"), socket_timeout)
            },
        )
        try:
            response = await self.transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
        except httpx.TransportError as exc:
            raise wire_error(exc) from exc
        return wire.Reply(response.status_code, response.content)

    async def aclose(self) -> None:
        """Close the transport."""
        await self.transport.aclose()
