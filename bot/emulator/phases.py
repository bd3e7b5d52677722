"""Phases computed lazily from timestamps: no task per workload, so 10,000 scale.

A workload carries a `Timeline`: an anchor time, a step length and a sequence of
phases. Its phase at time t is the step that t falls in; the last phase holds
forever, unless the timeline ends in removal (a delete), after which it is gone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PHASES = (
    "Creating",
    "Initializing",
    "Resuming",
    "Pending",
    "Deleting",
    "Running",
    "Updating",
    "Stopped",
    "Stopping",
    "Degraded",
    "Failed",
    "Completed",
    "Terminating",
    "Unknown",
)
# Phases in which the workload's replicas serve requests.
SERVING_PHASES = frozenset({"Running", "Updating", "Degraded"})
# Phases in which the workload has no pods at all.
PODLESS_PHASES = frozenset({"Stopped", "Completed"})
# Kubernetes pod phase shown beside each Run:ai phase (`k8sPhase`).
K8S_PHASE = {
    "Creating": "Pending",
    "Initializing": "Pending",
    "Resuming": "Pending",
    "Pending": "Pending",
    "Running": "Running",
    "Updating": "Running",
    "Degraded": "Running",
    "Deleting": "Terminating",
    "Terminating": "Terminating",
    "Stopping": "Terminating",
    "Stopped": "Succeeded",
    "Completed": "Succeeded",
    "Failed": "Failed",
    "Unknown": "Unknown",
}
FAIL_MESSAGE = "Back-off pulling image: the image {image!r} could not be pulled (ImagePullBackOff)"


@dataclass(frozen=True, slots=True)
class Timeline:
    """Phases a workload walks through, one `step_seconds` apart, from `anchor`."""

    anchor: float
    step_seconds: float
    phases: tuple[str, ...]
    final_message: str | None = None
    removed_at_end: bool = False

    def index_at(self, now: float) -> int:
        """Index of the step `now` falls in (len(phases) once a removal completed)."""
        if self.step_seconds <= 0:
            return len(self.phases) if self.removed_at_end else len(self.phases) - 1
        steps = int((now - self.anchor) / self.step_seconds)
        limit = len(self.phases) if self.removed_at_end else len(self.phases) - 1
        return max(0, min(steps, limit))

    def phase_at(self, now: float) -> tuple[str, float, str | None] | None:
        """(phase, phaseUpdatedAt, phaseMessage) at `now`; None once removed."""
        index = self.index_at(now)
        if index >= len(self.phases):
            return None
        started = self.anchor + index * max(self.step_seconds, 0.0)
        last = index == len(self.phases) - 1
        return self.phases[index], started, self.final_message if last else None

    def steps(self, until: float, *, inclusive: bool) -> list[tuple[str, float, str | None]]:
        """(phase, started, message) of each step begun before `until` (or at it, if inclusive).

        Steps that take no time all begin at the anchor.
        """
        if until < self.anchor or (until == self.anchor and not inclusive):
            return []
        if self.step_seconds <= 0:
            count = len(self.phases)
        else:
            elapsed = (until - self.anchor) / self.step_seconds
            count = math.floor(elapsed) + 1 if inclusive else math.ceil(elapsed)
            count = min(count, len(self.phases))
        last = len(self.phases) - 1
        return [
            (
                self.phases[index],
                self.anchor + index * max(self.step_seconds, 0.0),
                self.final_message if index == last else None,
            )
            for index in range(count)
        ]

    def removed_time(self) -> float:
        """When a removal timeline makes the workload disappear."""
        return self.anchor + len(self.phases) * max(self.step_seconds, 0.0)


def creation(now: float, step: float, image: str) -> Timeline:
    """Creating → Initializing → Running, or → Failed for an image naming `fail`."""
    if "fail" in image.lower():
        return Timeline(
            now, step, ("Creating", "Initializing", "Failed"), FAIL_MESSAGE.format(image=image)
        )
    return Timeline(now, step, ("Creating", "Initializing", "Running"))


def update(now: float, step: float, image: str) -> Timeline:
    """Updating → Running (or Failed for a failing image) after a PATCH."""
    if "fail" in image.lower():
        return Timeline(now, step, ("Updating", "Failed"), FAIL_MESSAGE.format(image=image))
    return Timeline(now, step, ("Updating", "Running"))


def deletion(now: float, step: float) -> Timeline:
    """Deleting, then gone."""
    return Timeline(now, step, ("Deleting",), removed_at_end=True)


def forced(now: float, phase: str, message: str | None) -> Timeline:
    """A phase set by a test control; it holds until the next change."""
    return Timeline(now, 0.0, (phase,), message)
