"""Which vLLM releases serve a model, from the table shipped beside this module.

`vllm_architectures.json` maps a Hugging Face architecture (config.json `architectures`)
to the first release, of a fixed set, whose model registry serves it. The emulator and the
Hub path both read it, so they agree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

TABLE_PATH = Path(__file__).with_name("vllm_architectures.json")


@cache
def _table() -> tuple[tuple[str, ...], Mapping[str, str]]:
    data: Any = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
    versions = tuple(str(v) for v in data["versions"])
    since = {str(arch): str(version) for arch, version in data["since"].items()}
    unknown = {v for v in since.values() if v not in versions}
    if unknown:  # a typo in the data file must fail loudly, not hide a model
        raise ValueError(f"{TABLE_PATH.name}: since-versions not in versions: {sorted(unknown)}")
    return versions, since


def known_versions() -> tuple[str, ...]:
    """Every vLLM release the table speaks of, oldest first."""
    return _table()[0]


def supported_architectures() -> frozenset[str]:
    """Architectures some release in the table serves."""
    return frozenset(_table()[1])


def supporting_versions(architectures: Iterable[str]) -> list[str]:
    """Releases serving any of `architectures` (vLLM takes the first it knows), oldest first.

    Empty when none of them is served (e.g. an image classifier).
    """
    versions, since = _table()
    firsts = [versions.index(since[arch]) for arch in architectures if arch in since]
    return list(versions[min(firsts) :]) if firsts else []
