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

from bot.emulator.errors import bad_request

SUBSET_PATH = Path(__file__).with_name("openapi-inference-subset.json")
_REF_PREFIX = "#/components/schemas/"


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


@cache
def _validator(schema_name: str) -> OAS30WriteValidator:
    return OAS30WriteValidator(inlined(schema_name), format_checker=oas30_format_checker)


def check_against(schema_name: str, body: Any) -> None:
    """400 naming the first offending field when `body` breaks `schema_name`."""
    error = best_match(_validator(schema_name).iter_errors(body))
    if error is None:
        return
    where = ".".join(str(part) for part in error.absolute_path) or "body"
    raise bad_request(f"Bad request - {where}: {error.message}", details=f"schema: {schema_name}")
