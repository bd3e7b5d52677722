"""Access tokens: the `POST /api/v1/token` grants and bearer checks (HS256 JWTs)."""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from typing import Any

import jwt

from bot.emulator.clock import Clock
from bot.emulator.errors import ApiError, bad_request

GRANT_TYPES = (
    "app_token",
    "client_credentials",
    "refresh_token",
    "exchange_token",
    "password",
    "external_token_exchange",
)
# Which body keys (compared case-insensitively) carry the id and the secret per grant.
_CREDENTIAL_KEYS: dict[str, tuple[str, str]] = {
    "client_credentials": ("clientid", "clientsecret"),
    "app_token": ("appid", "appsecret"),
}
ISSUER = "runai-emulator"
_VERIFIED_MAX = 4096  # remembered tokens; the cache starts over when full


class TokenIssuer:
    """Issues and verifies JWTs for one pair of accepted credentials."""

    def __init__(self, client_id: str, client_secret: str, ttl_seconds: float, clock: Clock):
        self.client_id = client_id
        self.client_secret = client_secret
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._key = secrets.token_bytes(32)
        # token -> (subject, exp) for tokens whose signature and claims checked out once:
        # decoding a JWT costs ~35 µs, a third of serving a GET. Expiry is still checked
        # against the clock on every request.
        self._verified: dict[str, tuple[str, float]] = {}

    def grant(self, body: Any) -> dict[str, Any]:
        """Answer a token request body with a `TokenResponse`, or raise ApiError."""
        if not isinstance(body, Mapping):
            raise bad_request("Bad request - the body must be a JSON object")
        fields = {str(key).lower(): value for key, value in body.items()}
        grant_type = fields.get("granttype")
        if grant_type is None:
            raise bad_request("Bad request - grantType is required")
        if grant_type not in GRANT_TYPES:
            raise bad_request(
                f"Bad request - unknown grantType {grant_type!r}",
                details="grantType must be one of " + ", ".join(GRANT_TYPES),
            )
        if grant_type not in _CREDENTIAL_KEYS:
            raise bad_request(
                f"Bad request - grantType {grant_type!r} is not supported by this control plane",
                details="use client_credentials (clientID/clientSecret) or app_token",
            )
        id_key, secret_key = _CREDENTIAL_KEYS[grant_type]
        client_id, client_secret = fields.get(id_key), fields.get(secret_key)
        if not isinstance(client_id, str) or not client_id:
            raise bad_request(f"Bad request - {_spelled(grant_type, 0)} is required")
        if not isinstance(client_secret, str) or not client_secret:
            raise bad_request(f"Bad request - {_spelled(grant_type, 1)} is required")
        if not (
            secrets.compare_digest(client_id, self.client_id)
            and secrets.compare_digest(client_secret, self.client_secret)
        ):
            raise ApiError(401, "Invalid client credentials.")
        return self.issue(client_id)

    def issue(self, subject: str) -> dict[str, Any]:
        """A fresh `TokenResponse` for `subject`."""
        now = self._clock.now()
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "iat": int(now),
            "exp": math.ceil(now + self.ttl_seconds),
            "jti": secrets.token_hex(8),
        }
        token = jwt.encode(claims, self._key, algorithm="HS256")
        return {"accessToken": token, "expiresIn": int(self.ttl_seconds)}

    def verify(self, authorization: str | None) -> str:
        """Check an `Authorization` header value; return the token's subject or raise 401."""
        if not authorization:
            raise ApiError(401, "Authorization header is missing.")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "Authorization header must be 'Bearer <token>'.")
        token = token.strip()
        known = self._verified.get(token)
        if known is None:
            try:
                claims = jwt.decode(
                    token,
                    self._key,
                    algorithms=["HS256"],
                    issuer=ISSUER,
                    options={"verify_exp": False, "verify_iat": False, "require": ["exp", "sub"]},
                )
            except jwt.PyJWTError:
                raise ApiError(401, "Issuer is not familiar.") from None
            known = (str(claims["sub"]), float(claims["exp"]))
            if len(self._verified) >= _VERIFIED_MAX:
                self._verified.clear()
            self._verified[token] = known
        subject, expires = known
        if expires <= self._clock.now():
            raise ApiError(401, "Token is expired.")
        return subject


def _spelled(grant_type: str, index: int) -> str:
    names = {
        "client_credentials": ("clientID", "clientSecret"),
        "app_token": ("appID", "appSecret"),
    }
    return names[grant_type][index]
