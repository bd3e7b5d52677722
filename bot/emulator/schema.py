"""Request bodies checked against the official schema subset, as a last line of defence.

The hand-written checks in `validation.py` run first and give the precise messages;
this pass catches every other type, enum or bound the schema states (OpenAPI 3.0
`nullable` understood), so the emulator accepts nothing the real API would refuse on
shape alone.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema.exceptions import best_match  # type: ignore[import-untyped]
from openapi_schema_validator import OAS30WriteValidator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from bot.emulator.errors import bad_request

SUBSET_PATH = Path(__file__).with_name("openapi-inference-subset.json")
_URI = "urn:runai:openapi-inference-subset"


@cache
def subset() -> dict[str, Any]:
    """The schema subset shipped beside this module."""
    loaded: dict[str, Any] = json.loads(SUBSET_PATH.read_text())
    return loaded


@cache
def _validator(schema_name: str) -> OAS30WriteValidator:
    resource = Resource.from_contents(subset(), default_specification=DRAFT4)
    registry: Registry[Any] = Registry().with_resource(_URI, resource)
    return OAS30WriteValidator(
        {"$ref": f"{_URI}#/components/schemas/{schema_name}"},
        registry=registry,
        format_checker=oas30_format_checker,
    )


def check_against(schema_name: str, body: Any) -> None:
    """400 naming the first offending field when `body` breaks `schema_name`."""
    error = best_match(_validator(schema_name).iter_errors(body))
    if error is None:
        return
    where = ".".join(str(part) for part in error.absolute_path) or "body"
    raise bad_request(f"Bad request - {where}: {error.message}", details=f"schema: {schema_name}")
