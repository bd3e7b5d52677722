"""Check requests the client sends against the official schema subset (jsonschema).

Bodies are validated against the operation's `requestBody` schema; query parameters
against the operation's parameter schemas (`explode: false` arrays split on commas).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import jsonschema

_CANDIDATES = (
    Path(__file__).resolve().parents[1] / "openapi-inference-subset.json",
    Path(__file__).resolve().parents[2] / "bot" / "emulator" / "openapi-inference-subset.json",
    Path("/work/shared/runai/openapi-inference-subset.json"),
)
# Not in the subset (its path is not published; see FACTS.md §1): checked by hand.
MODEL_INFO_KEYS = {"modelName", "hfToken", "requestMinMemoryRequirements"}


@cache
def spec() -> dict[str, Any]:
    """The schema subset, from the first place it is found."""
    for candidate in _CANDIDATES:
        if candidate.exists():
            loaded: dict[str, Any] = json.loads(candidate.read_text())
            return loaded
    raise FileNotFoundError("openapi-inference-subset.json not found")


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _validate(schema: dict[str, Any], value: Any) -> None:
    root = {**schema, "components": spec()["components"]}
    jsonschema.Draft4Validator(root).validate(value)


@cache
def _routes() -> list[tuple[re.Pattern[str], str]]:
    routes = []
    for template in spec()["paths"]:
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", template)
        routes.append((re.compile(f"^{pattern}$"), template))
    return routes


def operation(method: str, path: str) -> dict[str, Any] | None:
    """The subset's operation for a concrete method and path, or None."""
    for pattern, template in _routes():
        if pattern.match(path):
            found: dict[str, Any] | None = spec()["paths"][template].get(method.lower())
            return found
    return None


def _check_query(op: dict[str, Any], query: dict[str, list[str]]) -> None:
    params = {}
    for param in op.get("parameters", []):
        resolved = _resolve(param)
        if resolved["in"] == "query":
            params[resolved["name"]] = resolved
    for name, values in query.items():
        assert name in params, f"query parameter {name!r} is not in the schema"
        assert len(values) == 1, f"{name!r} sent {len(values)} times (explode is false)"
        schema = _resolve(params[name]["schema"])
        raw = values[0]
        value: Any
        if schema.get("type") == "array":
            value = raw.split(",")
        elif schema.get("type") == "integer":
            value = int(raw)
        elif schema.get("type") == "boolean":
            assert raw in ("true", "false"), f"{name}={raw!r} is not a boolean"
            value = raw == "true"
        else:
            value = raw
        _validate(params[name]["schema"], value)
    for name, param in params.items():
        if param.get("required"):
            assert name in query, f"required query parameter {name!r} missing"


def assert_request_matches(request: httpx.Request) -> None:
    """Fail unless the request's body and query fit the schema subset."""
    path = request.url.path
    body = json.loads(request.content) if request.content else None
    op = operation(request.method, path)
    if op is None and request.method == "POST" and isinstance(body, dict) and "modelName" in body:
        assert isinstance(body, dict) and set(body) <= MODEL_INFO_KEYS, body
        assert isinstance(body["modelName"], str)
        return
    assert op is not None, f"{request.method} {path} is not in the schema subset"
    _check_query(op, parse_qs(request.url.query.decode(), keep_blank_values=True))
    if "requestBody" in op:
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        _validate(schema, body)
    else:
        assert body is None, f"{request.method} {path} has no body in the schema"
