"""Flapping: more than 6 phase changes in 10 minutes become one summary reply.

`on_change` is fed every phase change of a watched workload and says what to do with it:
post it as usual, post the one summary ("flapping Running ↔ Degraded, 9 changes in
10 min"), or fold it into the summary already posted (the wiring may edit that message
with `summary()`; it posts nothing new). Normal replies resume with the first change after
10 quiet minutes; `settle` tells a periodic check that those minutes have passed, so the
thread can be told once that the workload settled. Pure and JSON-ready.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

FLAP_WINDOW = timedelta(minutes=10)
FLAP_LIMIT = 6  # more changes than this within the window is flapping
QUIET_AFTER = timedelta(minutes=10)


class Reply(StrEnum):
    """What to do with one phase change."""

    POST = "post"  # the usual thread reply
    SUMMARY = "summary"  # post the flapping summary instead
    FOLD = "fold"  # counted in the summary already posted: no new reply


@dataclass(frozen=True)
class Flap:
    """The recent phase changes of one watch (oldest first, within the window)."""

    changes: tuple[tuple[datetime, str], ...] = ()
    flapping: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (for the database)."""
        return {
            "changes": [[at.isoformat(), phase] for at, phase in self.changes],
            "flapping": self.flapping,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Flap:
        """The state `to_json` wrote."""
        changes = tuple(
            (datetime.fromisoformat(at), str(phase)) for at, phase in data.get("changes", [])
        )
        return cls(changes, bool(data.get("flapping", False)))


@dataclass(frozen=True)
class Summary:
    """What the flapping summary says."""

    phases: tuple[str, ...]  # most frequent first
    changes: int
    window: timedelta

    def words(self) -> str:
        """`flapping Running ↔ Degraded, 9 changes in 10 min`."""
        minutes = int(self.window.total_seconds() // 60)
        return f"flapping {' ↔ '.join(self.phases)}, {self.changes} changes in {minutes} min"


def on_change(flap: Flap, phase: str, at: datetime) -> tuple[Flap, Reply]:
    """Count one change into the window; what to do with its reply."""
    if flap.flapping and flap.changes and at - flap.changes[-1][0] >= QUIET_AFTER:
        flap = Flap()  # quiet long enough: back to normal with this change
    kept = (*(c for c in flap.changes if at - c[0] < FLAP_WINDOW), (at, phase))
    if flap.flapping:
        return replace(flap, changes=kept), Reply.FOLD
    if len(kept) > FLAP_LIMIT:
        return Flap(kept, True), Reply.SUMMARY
    return Flap(kept, False), Reply.POST


def settle(flap: Flap, now: datetime) -> tuple[Flap, bool]:
    """Whether a flapping watch has been quiet for `QUIET_AFTER` at `now` (then it ends)."""
    if flap.flapping and (not flap.changes or now - flap.changes[-1][0] >= QUIET_AFTER):
        return Flap(), True
    return flap, False


def summary(flap: Flap) -> Summary:
    """The summary of the changes in the window."""
    counts: dict[str, int] = {}
    for _, phase in flap.changes:
        counts[phase] = counts.get(phase, 0) + 1
    # Most frequent first; ties keep the order of first appearance (dicts keep it).
    phases = tuple(sorted(counts, key=lambda p: -counts[p]))
    return Summary(phases, len(flap.changes), FLAP_WINDOW)
