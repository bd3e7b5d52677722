"""Contract checks against the official Run:ai schema subset (OpenAPI 3.0.3).

    assert_response_matches("GET", "/api/v1/workloads/{workloadId}", 200, body)
    assert_request_matches("POST", "/api/v1/workloads/inferences", body)

Schemas are resolved with `referencing` over the whole subset and checked with
openapi-schema-validator's OAS 3.0 validators (they know `nullable`, `readOnly`,
`writeOnly`), with format checking (uuid, date-time, int32...).

Statuses: a documented status is checked against its schema. An undocumented
error status (>= 400) is checked against `Error`: Run:ai's docs list 405, 409,
501, 502, 504 as possible on any call (FACTS.md §2), and the emulator answers a
wrong-credential token request with 401. An undocumented 2xx/3xx fails.

The model-info call is not in the subset (FACTS.md §1); its request and response
are checked against MODEL_INFO_REQUEST / MODEL_INFO_RESPONSE below, the seed's shape.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema.exceptions import ValidationError, best_match
from openapi_schema_validator import (
    OAS30ReadValidator,
    OAS30WriteValidator,
    oas30_format_checker,
)
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from bot.runai.client import DEFAULT_MODEL_INFO_PATH

SPEC_PATH = (
    Path(__file__).resolve().parents[1] / "bot" / "emulator" / "openapi-inference-subset.json"
)
SPEC_URI = "urn:runai:openapi-inference-subset"

MODEL_INFO_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["modelName"],
    "additionalProperties": False,
    "properties": {
        "modelName": {"type": "string", "minLength": 1},
        "hfToken": {"type": "string", "nullable": True},
        "requestMinMemoryRequirements": {"type": "boolean", "nullable": True},
    },
}
MODEL_INFO_RESPONSE: dict[str, Any] = {
    "type": "object",
    "required": ["modelName", "pipelineTag", "architectures", "vllmSupportingVersions"],
    "properties": {
        "modelName": {"type": "string"},
        "pipelineTag": {"type": "string"},
        "architectures": {"type": "array", "items": {"type": "string"}},
        "vllmSupportingVersions": {"type": "array", "items": {"type": "string"}},
        "minMemoryRequirementsMb": {"type": "integer", "minimum": 0},
    },
}
ERROR_REF = "#/components/schemas/Error"


@cache
def spec() -> dict[str, Any]:
    """The schema subset as a dict."""
    loaded: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return loaded


@cache
def _registry() -> Registry[Any]:
    resource = Resource.from_contents(spec(), default_specification=DRAFT4)
    return Registry().with_resource(SPEC_URI, resource)


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow `$ref`s within the subset to the node they name."""
    while "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def operation(method: str, path_template: str) -> dict[str, Any]:
    """The operation object for a method and path template (AssertionError if absent)."""
    path_item = spec()["paths"].get(path_template)
    assert path_item is not None, f"{path_template} is not in the schema subset"
    found = path_item.get(method.lower())
    assert found is not None, f"{method.upper()} {path_template} is not in the schema subset"
    return dict(found)


def _absolute(schema: dict[str, Any]) -> dict[str, Any]:
    """Point local `#/...` refs at the registered subset."""
    if "$ref" in schema and schema["$ref"].startswith("#/"):
        return {"$ref": SPEC_URI + schema["$ref"]}
    return {"allOf": [schema], "components": spec()["components"]}


def _check(schema: dict[str, Any], value: Any, *, write: bool, where: str) -> None:
    validator_class = OAS30WriteValidator if write else OAS30ReadValidator
    validator = validator_class(
        _absolute(schema), registry=_registry(), format_checker=oas30_format_checker
    )
    errors = list(validator.iter_errors(value))
    if errors:
        error: ValidationError | None = best_match(errors)
        assert error is not None
        location = "/".join(str(part) for part in error.absolute_path) or "(root)"
        raise AssertionError(
            f"{where}: {len(errors)} schema violation(s); first at {location}: {error.message}"
        )


def response_schema(method: str, path_template: str, status: int) -> dict[str, Any]:
    """The JSON schema of a response, with the undocumented-error rule above."""
    if path_template == DEFAULT_MODEL_INFO_PATH:
        return MODEL_INFO_RESPONSE if status == 200 else {"$ref": ERROR_REF}
    responses = operation(method, path_template)["responses"]
    response = responses.get(str(status))
    if response is None:
        assert status >= 400, (
            f"{method.upper()} {path_template} does not document status {status} "
            f"(documented: {', '.join(responses)})"
        )
        return {"$ref": ERROR_REF}
    content = resolve(response).get("content", {})
    media = content.get("application/json")
    assert media is not None, f"{method.upper()} {path_template} {status} has no JSON body"
    schema: dict[str, Any] = media["schema"]
    return schema


def assert_response_matches(method: str, path_template: str, status: int, body: Any) -> None:
    """Fail unless `body` is what the schema says `method path_template` answers with `status`."""
    schema = response_schema(method, path_template, status)
    _check(schema, body, write=False, where=f"{method.upper()} {path_template} -> {status}")


def assert_request_matches(method: str, path_template: str, body: Any) -> None:
    """Fail unless `body` is a valid request body for `method path_template`."""
    where = f"{method.upper()} {path_template} request"
    if path_template == DEFAULT_MODEL_INFO_PATH:
        _check(MODEL_INFO_REQUEST, body, write=True, where=where)
        return
    request_body = operation(method, path_template).get("requestBody")
    assert request_body is not None, f"{where}: the operation takes no body"
    schema = resolve(request_body)["content"]["application/json"]["schema"]
    _check(schema, body, write=True, where=where)


def assert_error_body(body: Any, status: int) -> None:
    """An `Error` body whose code is the HTTP status."""
    _check({"$ref": ERROR_REF}, body, write=False, where=f"error {status}")
    assert body["code"] == status, f"Error.code {body['code']} != HTTP status {status}"
