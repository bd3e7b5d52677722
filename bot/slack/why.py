"""`why <name|id>` and the Why? button: a workload, its events, pods and history → the
words of one message. Pure.

Texts from Run:ai are handed on raw: the `why` template escapes every one with `esc`
and cuts it after escaping (an event message to 500 characters, the phase message to
1500), so a long or hostile message stays within Block Kit's limits.

The schema has no restart count for a pod: `restarts` counts the `BackOff` events of that
pod among the events read (Kubernetes emits one per crash-loop back-off), so it is a
lower bound, and None when no events were read at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.runai import models
from bot.runai import observability as obs
from bot.slack.present import phase_emoji
from bot.watch.diff import format_duration

MAX_EVENTS = 10
MAX_PODS = 10
MAX_CHANGES = 5
MAX_CONDITIONS = 3


@dataclass(frozen=True)
class EventLine:
    """One event: Warning or Normal, its reason and message, and how old it is."""

    type: str
    reason: str
    message: str
    age: str
    subject: str  # the pod it is about, or the workload
    warning: bool


@dataclass(frozen=True)
class PodLine:
    """One pod: its phase, node, restarts seen, and when its container started."""

    name: str
    phase: str
    node: str
    restarts: int | None
    started: str


@dataclass(frozen=True)
class PhaseChange:
    """One phase change from the history."""

    phase: str
    message: str
    age: str


@dataclass(frozen=True)
class WhyCard:
    """What `why` says about one workload."""

    id: str
    name: str
    phase: str
    emoji: str
    held_for: str | None  # how long it has been in its phase
    message: str | None  # the phase message
    conditions: tuple[str, ...]
    events: tuple[EventLine, ...]
    pods: tuple[PodLine, ...]
    pods_more: int  # pods beyond those shown
    changes: tuple[PhaseChange, ...]


def age(moment: datetime | None, now: datetime) -> str:
    """`2m 13s ago`, or `just now`; `at an unknown time` without a time."""
    if moment is None:
        return "at an unknown time"
    text = format_duration((now - moment).total_seconds())
    return "just now" if text in (None, "0s") else f"{text} ago"


def condition_text(condition: models.Condition) -> str:
    """`Ready False: reason: message`, as the thread replies word conditions."""
    text = f"{condition.type} {condition.status}"
    if condition.reason:
        text += f": {condition.reason}"
    if condition.message:
        text += f": {condition.message}"
    return text


def _subject(event: obs.Event) -> str:
    involved = event.involved_object
    if involved is not None and (involved.kind or "").lower() == "pod" and involved.name:
        return involved.name
    return "workload"


def event_lines(events: Sequence[obs.Event], now: datetime, limit: int) -> tuple[EventLine, ...]:
    """The newest `limit` events, newest first."""
    newest = sorted(events, key=lambda e: e.created_at, reverse=True)[:limit]
    return tuple(
        EventLine(
            type=e.type,
            reason=e.reason or e.type,
            message=e.message,
            age=age(e.created_at, now),
            subject=_subject(e),
            warning=e.type.lower() == "warning",
        )
        for e in newest
    )


def restarts_of(pod: obs.Pod, events: Sequence[obs.Event]) -> int:
    """BackOff events about this pod: the restarts seen (the API has no count)."""
    return sum(
        1
        for e in events
        if e.reason == "BackOff"
        and e.involved_object is not None
        and e.involved_object.name == pod.name
    )


def why_card(
    workload: models.Workload,
    events: Sequence[obs.Event],
    pods: Sequence[obs.Pod],
    history: Sequence[obs.HistoryRecord],
    now: datetime,
) -> WhyCard:
    """Everything `why` says, from what Run:ai answered (events: any order, any number)."""
    phase = str(workload.phase or "Unknown")
    held = workload.phase_updated_at
    pod_lines = tuple(
        PodLine(
            name=p.name,
            phase=p.k8s_phase or "Unknown",
            node=p.node_name or "no node yet",
            restarts=restarts_of(p, events) if events else None,
            started=age(p.started_at, now) if p.started_at else "not started",
        )
        for p in sorted(pods, key=lambda p: p.name)[:MAX_PODS]
    )
    updates = sorted(
        (r for r in history if r.spec.phase_update is not None),
        key=lambda r: r.meta.creation_timestamp,
        reverse=True,
    )[:MAX_CHANGES]
    changes = tuple(
        PhaseChange(
            phase=str(r.spec.phase_update.phase),
            message=r.spec.phase_update.phase_message,
            age=age(r.meta.creation_timestamp, now),
        )
        for r in updates
        if r.spec.phase_update is not None
    )
    return WhyCard(
        id=workload.id,
        name=workload.name,
        phase=phase,
        emoji=phase_emoji(phase),
        held_for=format_duration((now - held).total_seconds()) if held else None,
        message=workload.phase_message or None,
        conditions=tuple(condition_text(c) for c in workload.conditions if c.message or c.reason)[
            :MAX_CONDITIONS
        ],
        events=event_lines(events, now, MAX_EVENTS),
        pods=pod_lines,
        pods_more=max(len(pods) - MAX_PODS, 0),
        changes=changes,
    )
