"""Pure phase logic: what a watch knew vs what Run:ai reports → the transition to tell.

No I/O here. The poller feeds observations in, the store persists what comes out, the
notifier renders it. Everything is JSON-serialisable so it can sit in the outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.utc import as_utc

TRANSITIONAL_PHASES = frozenset(
    {
        "Creating",
        "Initializing",
        "Resuming",
        "Pending",
        "Deleting",
        "Updating",
        "Stopping",
        "Terminating",
    }
)
"""Phases that are expected to move soon: the poller looks more often while one is watched."""

ALERT_PHASES = frozenset({"Failed", "Degraded"})
"""Phases announced to the whole channel (reply_broadcast)."""

DELETED = "Deleted"
"""Pseudo-phase of a workload that is gone (404 after a delete)."""


def format_duration(seconds: float | None) -> str | None:
    """`2m 13s`, `45s`, `1h 2m`, `3d 4h`; None for an unknown or negative duration."""
    if seconds is None or seconds < 0:
        return None
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    delta = (end - start).total_seconds()
    return delta if delta >= 0 else None


@dataclass(frozen=True)
class Observation:
    """What Run:ai says about one workload now, in the watch's own words."""

    workload_id: str
    phase: str
    phase_message: str | None = None
    phase_updated_at: datetime | None = None
    conditions: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    name: str | None = None
    project: str | None = None
    image: str | None = None
    replicas: str | None = None


def parent_message(
    *,
    workload_id: str,
    name: str | None,
    project: str | None,
    image: str | None,
    replicas: str | None,
    url: str | None,
    phase: str | None,
    phase_message: str | None,
    ended: str | None = None,
) -> dict[str, Any]:
    """What a thread's parent message shows: the outbox's JSON, the template's input."""
    return {
        "workload_id": workload_id,
        "name": name,
        "project": project,
        "image": image,
        "replicas": replicas,
        "url": url,
        "phase": phase,
        "phase_message": phase_message,
        "ended": ended,
    }


def observed_parent(obs: Observation) -> dict[str, Any]:
    """The parent message of a workload just observed (before any watch exists)."""
    return parent_message(
        workload_id=obs.workload_id,
        name=obs.name,
        project=obs.project,
        image=obs.image,
        replicas=obs.replicas,
        url=obs.urls[0] if obs.urls else None,
        phase=obs.phase,
        phase_message=obs.phase_message,
    )


@dataclass(frozen=True)
class WatchState:
    """What the store knows about one watch (one workload followed in one channel)."""

    workload_id: str
    channel: str
    last_phase: str | None
    phase_updated_at: datetime | None
    reason: str
    created_at: datetime
    workload_created_at: datetime | None = None
    ready_announced: bool = False
    pending_action: str | None = None
    pending_user: str | None = None


@dataclass(frozen=True)
class Transition:
    """One phase change to tell in the thread."""

    old_phase: str | None
    new_phase: str
    at: datetime
    phase_message: str | None = None
    conditions: tuple[str, ...] = ()
    previous_seconds: float | None = None
    actor_user: str | None = None
    actor_action: str | None = None
    ready_seconds: float | None = None
    url: str | None = None

    @property
    def broadcast(self) -> bool:
        """Failed and Degraded reach the whole channel."""
        return self.new_phase in ALERT_PHASES

    @property
    def final(self) -> bool:
        """The workload is gone: the watch ends with this reply."""
        return self.new_phase == DELETED

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict for the outbox."""
        # Built by hand: dataclasses.asdict deep-copies, which shows in the poll's CPU time.
        return {
            "old_phase": self.old_phase,
            "new_phase": self.new_phase,
            "at": _iso(self.at),
            "phase_message": self.phase_message,
            "conditions": list(self.conditions),
            "previous_seconds": self.previous_seconds,
            "actor_user": self.actor_user,
            "actor_action": self.actor_action,
            "ready_seconds": self.ready_seconds,
            "url": self.url,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Transition:
        """Inverse of `to_json`."""
        values = dict(data)
        values["at"] = _parse(values["at"]) or datetime.now(UTC)
        values["conditions"] = tuple(values.get("conditions") or ())
        return cls(**values)


@dataclass(frozen=True)
class WatchUpdate:
    """What the store must write for one watch after an observation."""

    last_phase: str
    phase_updated_at: datetime | None
    ready_announced: bool
    pending_action: str | None
    pending_user: str | None
    transition: Transition | None


def diff(state: WatchState, obs: Observation, now: datetime) -> WatchUpdate | None:
    """Compare a watch with a fresh observation; None when nothing needs writing."""
    same_phase = state.last_phase == obs.phase
    newer_stamp = obs.phase_updated_at is not None and (
        state.phase_updated_at is None or obs.phase_updated_at > state.phase_updated_at
    )
    if same_phase:
        if not newer_stamp:
            return None
        # The phase moved away and came back between two polls (e.g. a quick update):
        # nothing to tell, but remember the new stamp so durations stay right.
        return WatchUpdate(
            last_phase=obs.phase,
            phase_updated_at=obs.phase_updated_at,
            ready_announced=state.ready_announced,
            pending_action=state.pending_action if obs.phase in TRANSITIONAL_PHASES else None,
            pending_user=state.pending_user if obs.phase in TRANSITIONAL_PHASES else None,
            transition=None,
        )
    at = obs.phase_updated_at or now
    ready_seconds: float | None = None
    ready_announced = state.ready_announced
    if obs.phase == "Running" and state.reason == "create" and not state.ready_announced:
        ready_seconds = _seconds_between(state.workload_created_at or state.created_at, at)
        ready_announced = True
    transition = Transition(
        old_phase=state.last_phase,
        new_phase=obs.phase,
        at=at,
        phase_message=obs.phase_message,
        conditions=obs.conditions,
        previous_seconds=_seconds_between(state.phase_updated_at, at),
        actor_user=state.pending_user,
        actor_action=state.pending_action,
        ready_seconds=ready_seconds,
        url=obs.urls[0] if obs.urls else None,
    )
    settled = obs.phase not in TRANSITIONAL_PHASES
    return WatchUpdate(
        last_phase=obs.phase,
        phase_updated_at=at,
        ready_announced=ready_announced,
        pending_action=None if settled else state.pending_action,
        pending_user=None if settled else state.pending_user,
        transition=transition,
    )


def deleted(state: WatchState, now: datetime) -> WatchUpdate:
    """The workload is confirmed gone (404): the last transition of the watch."""
    return WatchUpdate(
        last_phase=DELETED,
        phase_updated_at=now,
        ready_announced=state.ready_announced,
        pending_action=None,
        pending_user=None,
        transition=Transition(
            old_phase=state.last_phase,
            new_phase=DELETED,
            at=now,
            previous_seconds=_seconds_between(state.phase_updated_at, now),
            actor_user=state.pending_user,
            actor_action=state.pending_action,
        ),
    )


@dataclass(frozen=True)
class Reply:
    """Several transitions of one workload told as one thread reply."""

    path: tuple[str, ...]
    steps: tuple[Transition, ...] = field(default_factory=tuple)

    @property
    def last(self) -> Transition:
        """The newest transition: its phase is the workload's current phase."""
        return self.steps[-1]

    @property
    def broadcast(self) -> bool:
        """Broadcast when any step reached an alert phase."""
        return any(step.broadcast for step in self.steps)

    @property
    def final(self) -> bool:
        """The reply ends the watch."""
        return any(step.final for step in self.steps)


def coalesce(transitions: Sequence[Transition]) -> Reply:
    """Several transitions in a row → one reply that walks the whole path."""
    if not transitions:
        raise ValueError("nothing to coalesce")
    path: list[str] = []
    first = transitions[0]
    if first.old_phase:
        path.append(first.old_phase)
    for step in transitions:
        if not path or path[-1] != step.new_phase:
            path.append(step.new_phase)
    return Reply(path=tuple(path), steps=tuple(transitions))


def is_transitional(phase: str | None) -> bool:
    """True when the phase should move on its own soon."""
    return phase in TRANSITIONAL_PHASES


def poll_due(
    now: float, last_poll: float | None, interval: float, fast_interval: float, fast: bool
) -> bool:
    """Whether the poller should ask Run:ai now (faster while something is transitional)."""
    if last_poll is None:
        return True
    wait = fast_interval if fast else interval
    return now - last_poll >= wait - 1e-3
