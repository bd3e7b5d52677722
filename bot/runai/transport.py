"""How the client puts requests on the wire.

`Wire` is the one thing `RunaiClient` needs: send a method, URL, headers and body; get a
status and bytes back, or a `WireError` saying whether the request may have reached the
server and whether it timed out. Two implementations:

- `AiohttpWire` (the default): aiohttp's connector, no httpx objects on the way. httpcore's
  pool cost ~1.5 ms of CPU per request at 20 concurrent requests (it rescans every
  connection and queued request on each state change) and building `httpx.Request`
  another 60-130 µs; this path costs about a fifth of that.
- `HttpxWire` (`httpx_wire.py`): any `httpx.AsyncBaseTransport` (a mock,
  `httpx.AsyncHTTPTransport`, a recording wrapper), for callers that pass `transport=`.
  Only it imports httpx, so a bot that runs on the default wire never loads it (~2 MB).
"""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp
from yarl import URL


class WireError(Exception):
    """A request that failed on the wire, without an HTTP answer. The class names are
    httpx's, whose failures `HttpxWire` maps onto them: they name the failure in logs,
    metrics and error details."""

    sent = True  # it may have reached the server: retrying could do it twice
    timed_out = False


class ConnectError(WireError):
    sent = False


class ConnectTimeout(WireError):
    sent = False
    timed_out = True


class PoolTimeout(WireError):
    """No connection of the pool came free in time (nothing was sent)."""

    sent = False
    timed_out = True


class ReadTimeout(WireError):
    timed_out = True


class ReadError(WireError):
    pass


class RemoteProtocolError(WireError):
    """The server broke the exchange off (closed, or answered something that is not HTTP)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A response: its status and its (decoded) body."""

    status_code: int
    content: bytes


class Wire(Protocol):
    """Sends one request. Transport failures raise `WireError`s: ConnectError,
    ConnectTimeout and PoolTimeout when nothing was sent, the others when it may have
    been."""

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        socket_timeout: float,
    ) -> Reply: ...

    async def aclose(self) -> None: ...


class AiohttpWire:
    """One aiohttp session (created lazily, in the running event loop)."""

    def __init__(self, *, max_connections: int = 100, keepalive_seconds: float = 4.0) -> None:
        self._max_connections = max_connections
        # Below uvicorn's 5 s keep-alive, so a reused connection is rarely one the
        # server has just closed.
        self._keepalive_seconds = keepalive_seconds
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str | None, int | None], str | None] = {}

    def _proxy(self, url: URL) -> str | None:
        """HTTP(S)_PROXY / NO_PROXY for this origin, as httpx honours them by default.

        Looked up once per origin: aiohttp's `trust_env` re-reads the environment and
        .netrc on every request (~0.35 ms each).
        """
        origin = (url.scheme, url.host, url.port)
        if origin not in self._proxies:
            proxy = None
            if url.host and not urllib.request.proxy_bypass(url.host):
                proxy = urllib.request.getproxies().get(url.scheme)
            self._proxies[origin] = proxy
        return self._proxies[origin]

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._max_connections, keepalive_timeout=self._keepalive_seconds
                ),
                skip_auto_headers=("User-Agent", "Content-Type"),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        socket_timeout: float,
    ) -> Reply:
        """Send one request; the URL must already be percent-encoded."""
        session = self._open()
        target = URL(url, encoded=True)
        try:
            async with session.request(
                method,
                target,
                proxy=self._proxy(target),
                headers=headers,
                data=body,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=socket_timeout,
                    sock_connect=socket_timeout,
                    sock_read=socket_timeout,
                ),
            ) as response:
                return Reply(response.status, await response.read())
        except aiohttp.ConnectionTimeoutError as exc:
            raise ConnectTimeout(str(exc) or "connect timed out") from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise ReadTimeout(str(exc) or "read timed out") from exc
        except aiohttp.ClientConnectorError as exc:
            raise ConnectError(str(exc)) from exc
        except (
            aiohttp.ServerDisconnectedError,
            aiohttp.ClientPayloadError,
            aiohttp.ClientResponseError,
        ) as exc:
            raise RemoteProtocolError(str(exc)) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise ReadError(str(exc)) from exc

    async def aclose(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None
