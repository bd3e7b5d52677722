"""Stuck: a workload in Pending, Creating or Initializing for longer than `STUCK_AFTER`.

One thread reply per stuck stretch, without any rule: the stretch is named by its phase
and the time it began (`phaseUpdatedAt`), and the store keeps the last name reported, so
a later poll, a restart or another replica finds it told already. A workload that moves
on and comes back to Pending is a new stretch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

STUCK_PHASES = frozenset({"Pending", "Creating", "Initializing"})
DEFAULT_STUCK_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class StuckCheck:
    """Whether a workload is stuck now, and whether to reply about it."""

    stuck: bool
    report: bool
    key: str | None = None  # names the stretch; store it once reported
    for_: timedelta | None = None  # how long it has been in the phase


def stretch_key(phase: str, began: datetime) -> str:
    """The name of one stretch in one phase."""
    return f"{phase}@{began.isoformat()}"


def check_stuck(
    phase: str | None,
    phase_updated_at: datetime | None,
    now: datetime,
    after: timedelta,
    reported: str | None,
) -> StuckCheck:
    """Is the workload stuck (in a stuck phase for longer than `after`), and not yet told?"""
    if phase not in STUCK_PHASES or phase_updated_at is None:
        return StuckCheck(False, False)
    held = now - phase_updated_at
    if held <= after:
        return StuckCheck(False, False, for_=held)
    key = stretch_key(phase, phase_updated_at)
    return StuckCheck(True, key != reported, key, held)
