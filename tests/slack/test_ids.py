"""Every id a template or handler uses comes from ids.py."""

from __future__ import annotations

import re

from bot.slack import render
from bot.slack.ids import Action, Block, Callback, Field

KNOWN = {e.value for enum in (Action, Block, Callback, Field) for e in enum}


def test_template_ids_are_declared() -> None:
    found: set[str] = set()
    for path in render.TEMPLATES_DIR.rglob("*.j2"):
        if path.name.startswith("watch_"):
            continue  # the watch room's templates carry no interactive ids
        text = path.read_text()
        for key in ("action_id", "callback_id", "block_id"):
            for value in re.findall(rf'"{key}": "([^"{{]+)', text):
                found.add(value)
    # Ids built in templates (`inference_choose_workload_{{ n }}`, `{{ field }}_error`)
    # start with a declared one.
    undeclared = {v for v in found if v not in KNOWN and not any(v.startswith(k) for k in KNOWN)}
    assert not undeclared, undeclared
    assert {c.value for c in Callback} <= found | {"inference_loading", "inference_result"}


def test_ids_are_unique() -> None:
    values = [e.value for enum in (Action, Block, Callback, Field) for e in enum]
    assert len(values) == len(set(values))
