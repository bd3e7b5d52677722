"""`watch --only failed,degraded,running,deleted`: which phase changes a watch replies to.

The parent message still shows every phase; only the thread replies are filtered.
"""

from __future__ import annotations

from collections.abc import Iterable

ONLY_CHOICES: dict[str, frozenset[str]] = {
    "failed": frozenset({"Failed"}),
    "degraded": frozenset({"Degraded"}),
    "running": frozenset({"Running"}),
    # Deleting is where a delete shows first; Deleted is the watch's pseudo-phase for gone.
    "deleted": frozenset({"Deleting", "Deleted"}),
}


def only_phases(choices: Iterable[str]) -> frozenset[str]:
    """The phases a set of `--only` words covers (an unknown word is a ValueError)."""
    phases: set[str] = set()
    for word in choices:
        if word not in ONLY_CHOICES:
            raise ValueError(f"unknown --only choice {word!r}")
        phases |= ONLY_CHOICES[word]
    return frozenset(phases)


def wants(only: Iterable[str] | None, phase: str) -> bool:
    """Whether a watch limited to `only` (None or empty: everything) replies to `phase`."""
    choices = frozenset(only or ())
    return not choices or phase in only_phases(choices)
