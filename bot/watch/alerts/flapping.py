"""Flapping: more than 6 phase changes in 10 minutes become one summary reply.

`on_change` is fed every phase change of a watched workload and says what to do with it:
post it as usual, post the one summary ("flapping Running ↔ Degraded, 9 changes in
10 min"), or fold it into the summary already posted (the wiring edits that message with
`summary()`, which counts every change of the spell; it posts nothing new). Normal
replies resume with the first change after 10 quiet minutes; `settle` tells a periodic
check that those minutes have passed, so the thread can be told once that the workload
settled (and the summary that the spell ended). Pure and JSON-ready.

A spell can last longer than the 10-minute window: while it lasts, the changes that
leave the window are kept as counts per phase (`Flap.earlier`), so the summary says the
spell's true count and phases however long it runs, in a bounded amount of state.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.utc import as_utc

FLAP_WINDOW = timedelta(minutes=10)
FLAP_LIMIT = 6  # more changes than this within the window is flapping
QUIET_AFTER = timedelta(minutes=10)


class Reply(StrEnum):
    """What to do with one phase change."""

    POST = "post"  # the usual thread reply
    SUMMARY = "summary"  # post the flapping summary instead
    FOLD = "fold"  # counted in the summary already posted: no new reply


Earlier = tuple[tuple[datetime, str, int], ...]
"""A spell's changes that left the window: (the first one's time, phase, how many)."""


@dataclass(frozen=True)
class Flap:
    """The recent phase changes of one watch (oldest first, within the window), and while
    it flaps, the spell's older changes counted by phase."""

    changes: tuple[tuple[datetime, str], ...] = ()
    flapping: bool = False
    earlier: Earlier = ()

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (for the database)."""
        return {
            "changes": [[at.isoformat(), phase] for at, phase in self.changes],
            "flapping": self.flapping,
            "earlier": [[at.isoformat(), phase, n] for at, phase, n in self.earlier],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Flap:
        """The state `to_json` wrote."""
        changes = tuple(
            (datetime.fromisoformat(at), str(phase)) for at, phase in data.get("changes", [])
        )
        earlier = tuple(
            (datetime.fromisoformat(at), str(phase), int(n))
            for at, phase, n in data.get("earlier", [])
        )
        return cls(changes, bool(data.get("flapping", False)), earlier)


def _fold(earlier: Earlier, left: Iterable[tuple[datetime, str]]) -> Earlier:
    """Count the changes that left the window into the spell's earlier ones, by phase."""
    counts = {phase: (first, n) for first, phase, n in earlier}
    for at, phase in left:
        first, n = counts.get(phase, (at, 0))
        counts[phase] = (min(first, at), n + 1)
    return tuple(sorted((first, phase, n) for phase, (first, n) in counts.items()))


@dataclass(frozen=True)
class Summary:
    """What the flapping summary says."""

    phases: tuple[str, ...]  # most frequent first
    changes: int
    window: timedelta  # the window, or the spell's length when it is longer

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
        left = [c for c in flap.changes if at - c[0] >= FLAP_WINDOW]
        return Flap(kept, True, _fold(flap.earlier, left)), Reply.FOLD
    if len(kept) > FLAP_LIMIT:
        return Flap(kept, True), Reply.SUMMARY
    return Flap(kept, False), Reply.POST


def settle(flap: Flap, now: datetime) -> tuple[Flap, bool]:
    """Whether a flapping watch has been quiet for `QUIET_AFTER` at `now` (then it ends)."""
    if flap.flapping and (not flap.changes or now - flap.changes[-1][0] >= QUIET_AFTER):
        return Flap(), True
    return flap, False


def summary(flap: Flap) -> Summary:
    """The summary of the spell: every change of it (the window's and the earlier ones),
    over the window or, when the spell has lasted longer, its length (to the nearest minute)."""
    counts: dict[str, int] = {}
    for _, phase, n in flap.earlier:
        counts[phase] = counts.get(phase, 0) + n
    for _, phase in flap.changes:
        counts[phase] = counts.get(phase, 0) + 1
    # Most frequent first; ties keep the order of first appearance (dicts keep it).
    phases = tuple(sorted(counts, key=lambda p: -counts[p]))
    window = FLAP_WINDOW
    times = [at for at, _, _ in flap.earlier] + [at for at, _ in flap.changes]
    if times:
        lasted = max(times) - min(times)
        window = max(window, timedelta(minutes=math.floor(lasted.total_seconds() / 60 + 0.5)))
    return Summary(phases, sum(counts.values()), window)


def spell_key(since: datetime) -> str:
    """How the outbox names a flapping spell (its summary and that summary's edits): the
    spell's start (`flapping_since`)."""
    return as_utc(since).isoformat()


def summary_words(flap: Flap) -> str:
    """`flapping Running ↔ Degraded, 9 changes in 10 min` (phases of unknown name left out)."""
    told = summary(flap)
    return replace(told, phases=tuple(p for p in told.phases if p)).words()


class Ended(StrEnum):
    """Why a spell's summary got its last edit."""

    STEADY = "steady"  # quiet for `QUIET_AFTER`: phase replies resume
    DELETED = "deleted"  # the workload is gone
    UNWATCHED = "unwatched"  # the channel stopped following it


def flap_card(
    workload_id: str, name: str, words: str, *, ended: Ended | None = None
) -> dict[str, Any]:
    """The card of the `watch_flapping` template, as JSON for the outbox: the summary, or
    its last edit (`ended`, and why)."""
    return {
        "workload_id": workload_id,
        "name": name,
        "summary": words,
        "quiet_minutes": int(QUIET_AFTER.total_seconds() // 60),
        "ended": ended is not None,
        "why": str(ended) if ended is not None else None,
    }


def summary_end(
    workload_id: str, name: str, words: str, since: datetime, why: Ended
) -> dict[str, Any]:
    """The outbox payload of a spell summary's last edit (the spell named by its start)."""
    card = flap_card(workload_id, name, words, ended=why)
    return {"template": "watch_flapping", "context": {"card": card}, "spell": spell_key(since)}
