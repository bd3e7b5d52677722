"""Request bodies checked against the official schema subset, as a last line of defence.

The hand-written checks in `validation.py` run first and give the precise messages;
this pass catches every other type, enum or bound the schema states (OpenAPI 3.0
`nullable` understood), so the emulator accepts nothing the real API would refuse on
shape alone.

Two validators check a body. A compiled one (fastjsonschema, ~10 µs) answers for the
usual, valid body; only when it refuses does the reference OpenAPI 3.0 validator
(openapi-schema-validator over jsonschema, ~120 µs) decide, and word the 400. The
compiled schema is translated to be at least as strict as the reference, never looser
(see `strict_json_schema`), so a body it accepts the reference accepts too; where it is
stricter, the reference has the last word. tests/emulator/test_schema.py checks that
over generated bodies.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]
from openapi_schema_validator import OAS30WriteValidator, oas30_format_checker

from bot.emulator.errors import bad_request

SUBSET_PATH = Path(__file__).with_name("openapi-inference-subset.json")
_REF_PREFIX = "#/components/schemas/"
# Canonical hyphenated form: jsonschema's "uuid" check accepts a superset of it.
_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# OpenAPI's integer formats, as the reference checks them (inclusive bounds).
_INT_BOUNDS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
# Words that only annotate (fastjsonschema would write "default"s into the body).
_ANNOTATIONS = frozenset({"default", "example", "description", "deprecated", "nullable"})


@cache
def subset() -> dict[str, Any]:
    """The schema subset shipped beside this module."""
    loaded: dict[str, Any] = json.loads(SUBSET_PATH.read_text())
    return loaded


def inlined(schema_name: str) -> dict[str, Any]:
    """`schema_name` with every `$ref` replaced by the schema it names.

    A create body is checked against ~50 component schemas; resolving their `$ref`s
    through a registry on every request cost twice the check itself. The subset's
    request schemas are not recursive; a cycle would raise here, at first use.
    """
    components: dict[str, Any] = subset()["components"]["schemas"]

    def expand(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
                name = ref.removeprefix(_REF_PREFIX)
                if name in seen:
                    raise ValueError(f"recursive schema: {' -> '.join((*seen, name))}")
                return expand(components[name], (*seen, name))
            return {key: expand(value, seen) for key, value in node.items()}
        if isinstance(node, list):
            return [expand(value, seen) for value in node]
        return node

    expanded: dict[str, Any] = expand(components[schema_name], (schema_name,))
    return expanded


def strict_json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema (no `$ref`s) as plain JSON Schema, never looser than it.

    - `nullable: true` beside a `type` lets null through that type, as OpenAPI 3.0
      reads it (an `enum` beside it still has to list null);
    - `int32`/`int64` become bounds; `uuid` becomes the canonical pattern; formats the
      reference does not check (float, double, hostname) are dropped;
    - annotations go, `default` above all, so nothing is written into the body.
    """
    if isinstance(node, list):
        return [strict_json_schema(value) for value in node]
    if not isinstance(node, dict):
        return node
    out = {
        key: strict_json_schema(value) if key != "properties" else _each(value)
        for key, value in node.items()
        if key not in _ANNOTATIONS and key != "format"
    }
    kind = node.get("type")
    if node.get("nullable") is True and isinstance(kind, str):
        out["type"] = [kind, "null"]
    form = node.get("format")
    if form in _INT_BOUNDS and kind == "integer":
        low, high = _INT_BOUNDS[form]
        out["minimum"] = max(low, node.get("minimum", low))
        out["maximum"] = min(high, node.get("maximum", high))
    elif form == "uuid":
        out["format"] = "uuid"
    return out


def _each(properties: dict[str, Any]) -> dict[str, Any]:
    return {name: strict_json_schema(schema) for name, schema in properties.items()}


@cache
def _validator(schema_name: str) -> OAS30WriteValidator:
    return OAS30WriteValidator(inlined(schema_name), format_checker=oas30_format_checker)


@cache
def _compiled(schema_name: str) -> Any:
    definition = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        **strict_json_schema(inlined(schema_name)),
    }
    return fastjsonschema.compile(definition, formats={"uuid": _UUID}, use_default=False)


def passes_compiled(schema_name: str, body: Any) -> bool:
    """Whether the compiled (fast, stricter-or-equal) validator accepts `body`."""
    try:
        _compiled(schema_name)(body)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def reference_errors(schema_name: str, body: Any) -> list[Any]:
    """Every error the reference OpenAPI 3.0 validator finds in `body`."""
    return list(_validator(schema_name).iter_errors(body))


def check_against(schema_name: str, body: Any) -> None:
    """400 naming the first offending field when `body` breaks `schema_name`."""
    if passes_compiled(schema_name, body):
        return
    error = best_match(_validator(schema_name).iter_errors(body))
    if error is None:
        return
    where = ".".join(str(part) for part in error.absolute_path) or "body"
    raise bad_request(f"Bad request - {where}: {error.message}", details=f"schema: {schema_name}")
