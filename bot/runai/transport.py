"""`AiohttpTransport`: an httpx transport that sends requests with aiohttp.

Why: httpcore's connection pool spends ~1.5 ms of CPU per request at 20 concurrent
requests (it rescans every connection and queued request on each state change), which
made the client slower than the sync SDK. aiohttp's connector costs a fraction of that.
The client still speaks httpx (`httpx.Request`/`httpx.Response`, httpx's exception
classes), so any httpx transport (a mock, `httpx.AsyncHTTPTransport`) can replace this one.
"""

from __future__ import annotations

import aiohttp
import httpx

# Headers that describe aiohttp's wire encoding, not the decoded body we hand on.
_HOP_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def _seconds(request: httpx.Request, key: str) -> float | None:
    timeout = request.extensions.get("timeout") or {}
    value = timeout.get(key)
    return float(value) if value is not None else None


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests over one aiohttp session (created in the running loop)."""

    def __init__(self, *, max_connections: int = 100, keepalive_seconds: float = 4.0) -> None:
        self._max_connections = max_connections
        self._keepalive_seconds = keepalive_seconds
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                keepalive_timeout=self._keepalive_seconds,
                enable_cleanup_closed=False,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # httpx.Request already carries Host, Content-Length and our headers.
                skip_auto_headers=("User-Agent", "Content-Type"),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request`; raise httpx's exception classes on transport failures."""
        session = self._open()
        connect = _seconds(request, "connect")
        read = _seconds(request, "read")
        pool = _seconds(request, "pool")
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=read,
        )
        headers = [
            (key.decode("latin-1"), value.decode("latin-1"))
            for key, value in request.headers.raw
            if key.lower() != b"host"
        ]
        try:
            async with session.request(
                request.method,
                str(request.url),
                headers=headers,
                data=request.content or None,
                allow_redirects=False,
                timeout=timeout,
            ) as response:
                content = await response.read()
                status = response.status
                response_headers = [
                    (key, value)
                    for key, value in response.headers.items()
                    if key.lower() not in _HOP_HEADERS
                ]
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "connect timed out", request=request) from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise httpx.ReadTimeout(str(exc) or "read timed out", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        except (aiohttp.ClientPayloadError, aiohttp.ClientResponseError) as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        except (aiohttp.ClientOSError, aiohttp.ClientError, OSError) as exc:
            raise httpx.ReadError(str(exc), request=request) from exc
        return httpx.Response(status, headers=response_headers, content=content, request=request)

    async def aclose(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None
