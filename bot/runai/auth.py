"""Bearer tokens for the Run:ai API: client-credentials exchange, cache and refresh."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import jwt
from pydantic import SecretStr

from bot.runai import errors, models

logger = logging.getLogger("bot.runai.auth")

TOKEN_PATH = "/api/v1/token"
REFRESH_MARGIN_SECONDS = 60.0
REFRESH_MARGIN_FRACTION = 0.1
DEFAULT_LIFETIME_SECONDS = 300.0  # neither expiresIn nor a JWT exp: refresh every 5 minutes


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim (epoch seconds) of a JWT, read without verifying it; else None."""
    try:
        # The token is only read here (to know when to refresh it); Run:ai checks it.
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


def refresh_margin(lifetime: float) -> float:
    """How long before expiry to refresh: 60 s, or 10 % of a short lifetime."""
    return min(REFRESH_MARGIN_SECONDS, max(lifetime, 0.0) * REFRESH_MARGIN_FRACTION)


# Sends the token request and returns the parsed response; the client supplies it so
# this module shares its connection pool, timeouts and retries.
TokenFetcher = Callable[[models.TokenRequest], Awaitable[models.TokenResponse]]


class TokenManager:
    """Caches one access token and refreshes it ahead of expiry.

    Concurrent callers that find the token stale share one refresh (an asyncio.Lock);
    `invalidate` drops a token the API refused with 401 so the next caller gets a new one.
    """

    def __init__(
        self,
        fetch: TokenFetcher,
        client_id: str,
        client_secret: SecretStr,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self._request = models.TokenRequest(client_id=client_id, client_secret=client_secret)
        self._clock = clock
        self._wall_clock = wall_clock
        self._token: SecretStr | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()
        self.refreshes = 0  # how many token exchanges this manager made

    def __repr__(self) -> str:
        return f"TokenManager(client_id={self._request.client_id!r})"

    def _valid(self) -> str | None:
        if self._token is not None and self._clock() < self._refresh_at:
            return self._token.get_secret_value()
        return None

    async def token(self) -> str:
        """A token good for at least the refresh margin; exchanges credentials if needed."""
        current = self._valid()
        if current is not None:
            return current
        async with self._lock:
            current = self._valid()  # someone else refreshed while we waited
            if current is not None:
                return current
            return await self._refresh()

    async def invalidate(self, rejected: str) -> None:
        """Forget `rejected` (refused with 401) unless a newer token already replaced it."""
        async with self._lock:
            if self._token is not None and self._token.get_secret_value() == rejected:
                self._token = None
                self._refresh_at = 0.0

    async def _refresh(self) -> str:
        started = self._clock()
        response = await self._fetch(self._request)
        access = response.access_token.get_secret_value()
        if not access:
            raise errors.UnauthorizedError(401, "token response carried no accessToken")
        if response.expires_in is not None:
            lifetime = float(response.expires_in)
        else:
            exp = jwt_expiry(access)
            lifetime = exp - self._wall_clock() if exp is not None else DEFAULT_LIFETIME_SECONDS
        self._token = response.access_token
        self._refresh_at = started + lifetime - refresh_margin(lifetime)
        self.refreshes += 1
        logger.debug(
            "runai token refreshed",
            extra={"lifetime_s": round(lifetime, 1), "refreshes": self.refreshes},
        )
        return access
