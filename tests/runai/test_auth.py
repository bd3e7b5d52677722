"""auth.py: expiry from expiresIn or JWT exp, refresh margin, one shared refresh."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from pydantic import SecretStr

from bot.runai import errors, models
from bot.runai.auth import TokenManager, jwt_expiry, refresh_margin


def _jwt(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256'})}.{part(claims)}.sig"


def test_jwt_expiry_reads_exp_without_a_key() -> None:
    assert jwt_expiry(_jwt({"exp": 1700000000})) == 1700000000.0


@pytest.mark.parametrize("token", ["opaque", "a.b.c", _jwt({"sub": "x"}), _jwt({"exp": "soon"})])
def test_jwt_expiry_is_none_for_anything_else(token: str) -> None:
    assert jwt_expiry(token) is None


def test_refresh_margin_is_60s_or_a_tenth_of_short_lifetimes() -> None:
    assert refresh_margin(3600) == 60
    assert refresh_margin(10) == 1
    assert refresh_margin(-5) == 0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Fetcher:
    """Counts exchanges; each answers a new token."""

    def __init__(self, expires_in: int | None = 100, exp_from_now: float | None = None):
        self.calls = 0
        self.expires_in = expires_in
        self.exp_from_now = exp_from_now
        self.gate = asyncio.Event()
        self.gate.set()
        self.started = asyncio.Event()
        self.wall = FakeClock()

    async def __call__(self, request: models.TokenRequest) -> models.TokenResponse:
        assert request.to_api()["clientSecret"] == "s"
        self.calls += 1
        self.started.set()
        await self.gate.wait()
        token = f"token-{self.calls}"
        if self.exp_from_now is not None:
            token = _jwt({"exp": self.wall.now + self.exp_from_now, "n": self.calls})
        return models.TokenResponse.model_validate(
            {"accessToken": token, "expiresIn": self.expires_in}
        )


async def test_token_is_cached_until_the_margin_then_refreshed() -> None:
    fetch, clock = Fetcher(expires_in=100), FakeClock()
    manager = TokenManager(fetch, "id", SecretStr("s"), clock=clock)
    first = await manager.token()
    clock.now += 89  # 100 s lifetime, 10 s margin
    assert await manager.token() == first
    clock.now += 2
    assert await manager.token() != first
    assert fetch.calls == 2


async def test_jwt_exp_is_used_without_expires_in() -> None:
    fetch, clock = Fetcher(expires_in=None, exp_from_now=1000), FakeClock()
    manager = TokenManager(fetch, "id", SecretStr("s"), clock=clock, wall_clock=fetch.wall)
    first = await manager.token()
    clock.now += 930  # margin 60 s
    assert await manager.token() == first
    clock.now += 20
    assert await manager.token() != first


async def test_concurrent_callers_share_one_refresh() -> None:
    fetch = Fetcher()
    fetch.gate.clear()
    manager = TokenManager(fetch, "id", SecretStr("s"))
    waiters = [asyncio.create_task(manager.token()) for _ in range(50)]
    await fetch.started.wait()
    fetch.gate.set()
    tokens = await asyncio.gather(*waiters)
    assert set(tokens) == {"token-1"}
    assert fetch.calls == 1


async def test_invalidate_drops_only_the_rejected_token() -> None:
    fetch = Fetcher()
    manager = TokenManager(fetch, "id", SecretStr("s"))
    first = await manager.token()
    await manager.invalidate("someone-elses")
    assert await manager.token() == first
    await manager.invalidate(first)
    assert await manager.token() == "token-2"


async def test_empty_access_token_is_unauthorized() -> None:
    async def fetch(request: models.TokenRequest) -> models.TokenResponse:
        return models.TokenResponse.model_validate({"accessToken": ""})

    manager = TokenManager(fetch, "id", SecretStr("s"))
    with pytest.raises(errors.UnauthorizedError):
        await manager.token()


def test_repr_has_no_secret() -> None:
    manager = TokenManager(Fetcher(), "id", SecretStr("s3cr3t"))
    assert "s3cr3t" not in repr(manager)
