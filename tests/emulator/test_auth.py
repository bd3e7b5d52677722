"""Token grants, bearer checks and expiry."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest

from tests.emulator.conftest import MODULE_LOOP, TOKEN, WORKLOADS, Api

pytestmark = MODULE_LOOP


@pytest.mark.parametrize(
    "keys",
    [
        ("grantType", "clientID", "clientSecret"),
        ("grantType", "clientId", "clientSecret"),
        ("granttype", "ClientID", "CLIENTSECRET"),
    ],
)
async def test_client_credentials_any_key_case(anonymous: Api, keys: tuple[str, str, str]) -> None:
    grant, client_id, secret = keys
    body = {
        grant: "client_credentials",
        client_id: anonymous.emulator.client_id,
        secret: anonymous.emulator.client_secret,
    }
    response = await anonymous.call("POST", TOKEN, json=body, auth=False)
    assert response.status_code == 200
    token = response.json()
    claims = jwt.decode(token["accessToken"], options={"verify_signature": False})
    assert claims["sub"] == anonymous.emulator.client_id
    assert claims["exp"] - claims["iat"] == pytest.approx(3600, abs=1)
    assert token["expiresIn"] == 3600


@pytest.mark.parametrize("keys", [("AppId", "AppSecret"), ("appID", "appSecret")])
async def test_app_token_grant(anonymous: Api, keys: tuple[str, str]) -> None:
    body = {
        "grantType": "app_token",
        keys[0]: anonymous.emulator.client_id,
        keys[1]: anonymous.emulator.client_secret,
    }
    response = await anonymous.call("POST", TOKEN, json=body, auth=False)
    assert response.status_code == 200
    anonymous.token = response.json()["accessToken"]
    listed = await anonymous.call("GET", WORKLOADS)
    assert listed.status_code == 200


async def test_wrong_secret_is_401(anonymous: Api) -> None:
    body = {"grantType": "client_credentials", "clientID": "test-client", "clientSecret": "nope"}
    response = await anonymous.call("POST", TOKEN, json=body, auth=False)
    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "Invalid client credentials."}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"clientID": "a", "clientSecret": "b"}, "grantType is required"),
        ({"grantType": "magic", "clientID": "a", "clientSecret": "b"}, "unknown grantType"),
        ({"grantType": "password", "username": "a", "password": "b"}, "not supported"),
        ({"grantType": "client_credentials", "clientSecret": "b"}, "clientID is required"),
        ({"grantType": "client_credentials", "clientID": "a"}, "clientSecret is required"),
        ({"grantType": "app_token", "AppId": "a"}, "appSecret is required"),
        (["not", "an", "object"], "JSON object"),
    ],
)
async def test_bad_token_requests_are_400(anonymous: Api, body: Any, needle: str) -> None:
    response = await anonymous.call("POST", TOKEN, json=body, auth=False)
    assert response.status_code == 400
    assert needle in response.json()["message"]


async def test_malformed_json_is_400(anonymous: Api) -> None:
    response = await anonymous.client.post(
        TOKEN, content=b"{oops", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"code": 400, "message": "Bad request - the body is not valid JSON"}


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "Authorization header is missing."),
        ("Basic abc", "Authorization header must be 'Bearer <token>'."),
        ("Bearer not-a-jwt", "Issuer is not familiar."),
    ],
)
async def test_calls_need_a_valid_bearer(anonymous: Api, header: str | None, message: str) -> None:
    headers = {"Authorization": header} if header else {}
    response = await anonymous.call("GET", WORKLOADS, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": message}


async def test_token_signed_elsewhere_is_401(api: Api) -> None:
    assert api.token is not None
    claims = jwt.decode(api.token, options={"verify_signature": False})
    forged = jwt.encode(claims, "another-key-of-sufficient-length-32b", algorithm="HS256")
    response = await api.call("GET", WORKLOADS, headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


async def test_expired_token_is_401(api: Api) -> None:
    assert (await api.call("GET", WORKLOADS)).status_code == 200
    api.emulator.state.clock.advance(3601)
    response = await api.call("GET", WORKLOADS)
    assert response.status_code == 401
    assert response.json()["message"] == "Token is expired."
    await api.login()
    assert (await api.call("GET", WORKLOADS)).status_code == 200


async def test_short_ttl_token_expires(emulator_factory: Any) -> None:
    async with (
        emulator_factory(token_ttl_seconds=1) as emu,
        httpx.AsyncClient(base_url=emu.url) as client,
    ):
        api = Api(client, emu)
        await api.login()
        claims = jwt.decode(api.token or "", options={"verify_signature": False})
        assert claims["exp"] <= emu.state.now() + 2
        assert (await api.call("GET", WORKLOADS)).status_code == 200
        emu.state.clock.advance(2)
        assert (await api.call("GET", WORKLOADS)).status_code == 401


async def test_clock_control_advances_expiry(api: Api) -> None:
    response = await api.client.post("/emulator/clock", json={"advanceSeconds": 4000})
    assert response.status_code == 200
    assert (await api.call("GET", WORKLOADS)).status_code == 401
