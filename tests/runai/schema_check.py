"""Check requests the client sends against the official schema subset.

Bodies go through the team's contract helper (tests/contract.py: OAS 3.0 validators with
format checks); query parameters are checked here against the operation's parameter
schemas (`explode: false` arrays split on commas, integers and booleans parsed).
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any
from urllib.parse import parse_qs

import httpx
import jsonschema

from bot.runai.client import DEFAULT_MODEL_INFO_PATH
from tests import contract
from tests.contract import resolve, spec


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


def template_of(method: str, path: str) -> str | None:
    """The subset's path template for a concrete method and path, or None."""
    for pattern, template in _routes():
        if pattern.match(path) and method.lower() in spec()["paths"][template]:
            return template
    return None


def _check_query(op: dict[str, Any], query: dict[str, list[str]]) -> None:
    params = {}
    for param in op.get("parameters", []):
        resolved = resolve(param)
        if resolved["in"] == "query":
            params[resolved["name"]] = resolved
    for name, values in query.items():
        assert name in params, f"query parameter {name!r} is not in the schema"
        assert len(values) == 1, f"{name!r} sent {len(values)} times (explode is false)"
        schema = resolve(params[name]["schema"])
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
    template = template_of(request.method, path)
    if (
        template is None
        and request.method == "POST"
        and isinstance(body, dict)
        and "modelName" in body
    ):
        # The model-info path is a setting (FACTS.md §1); its body has the seed's shape.
        assert not request.url.query
        contract.assert_request_matches("POST", DEFAULT_MODEL_INFO_PATH, body)
        return
    assert template is not None, f"{request.method} {path} is not in the schema subset"
    op = contract.operation(request.method, template)
    _check_query(op, parse_qs(request.url.query.decode(), keep_blank_values=True))
    if "requestBody" in op:
        contract.assert_request_matches(request.method, template, body)
    else:
        assert body is None, f"{request.method} {path} has no body in the schema"
