"""Alerts, stuck and flapping → the words their messages print. Pure.

The templates: `watch_alert_firing`, `watch_alert_resolved`, `watch_stuck`,
`watch_flapping` (thread replies the watch room posts) and `alerts` (the list). Each card
is a plain dataclass; `render.message(template, card=card)` renders it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from bot.runai import observability as obs
from bot.slack.present import phase_emoji, when
from bot.slack.why import EventLine, age, event_lines
from bot.watch.alerts.episodes import Episode, State
from bot.watch.alerts.rules import Rule, value_text
from bot.watch.diff import format_duration

STUCK_EVENTS = 5
SNOOZES = {"1h": timedelta(hours=1), "24h": timedelta(hours=24)}
"""What the Snooze buttons hold fires back for (their values end with the key)."""


@dataclass(frozen=True)
class Chart:
    """The image slot of a firing alert: a public URL or an uploaded Slack file id."""

    url: str | None = None
    file_id: str | None = None
    alt: str = "chart"


@dataclass(frozen=True)
class AlertCard:
    """One alert's fire or resolve reply."""

    alert_id: str
    workload_id: str
    name: str
    rule: str  # in words
    value: str  # the latest value, with its unit
    since: str  # when the breach began (UTC)
    since_age: str
    lasted: str | None = None  # resolved: how long it fired
    chart: Chart | None = None


def alert_card(
    alert_id: str,
    workload_id: str,
    name: str,
    rule: Rule,
    episode: Episode,
    now: datetime,
    chart: Chart | None = None,
) -> AlertCard:
    """The words of a fire (episode firing) or a resolve (episode resolved)."""
    lasted = None
    if episode.state is State.RESOLVED and episode.since and episode.resolved_at:
        lasted = format_duration((episode.resolved_at - episode.since).total_seconds())
    return AlertCard(
        alert_id=alert_id,
        workload_id=workload_id,
        name=name,
        rule=rule.words(),
        value=value_text(rule.metric, episode.value) if episode.value is not None else "no data",
        since=when(episode.since),
        since_age=age(episode.since, now),
        lasted=lasted,
        chart=chart,
    )


@dataclass(frozen=True)
class AlertRow:
    """One rule in the `alerts` list."""

    alert_id: str
    name: str
    rule: str
    state: Literal["ok", "firing", "resolved", "snoozed"]
    state_text: str


def alert_row(alert_id: str, name: str, rule: Rule, episode: Episode, now: datetime) -> AlertRow:
    """A rule and where it stands: `firing since … (512 ms)`, `snoozed until …`, `ok`."""
    if episode.state is State.FIRING:
        state: Literal["ok", "firing", "resolved", "snoozed"] = "firing"
        value = value_text(rule.metric, episode.value) if episode.value is not None else "?"
        text = f"firing since {when(episode.since)} ({value})"
    elif episode.state is State.RESOLVED:
        state, text = "resolved", f"ok, last fired until {when(episode.resolved_at)}"
    else:
        state, text = "ok", "ok"
    if episode.snoozed(now):
        state = "snoozed" if state != "firing" else state
        text += f"; snoozed until {when(episode.snoozed_until)}"
    return AlertRow(alert_id, name, rule.words(), state, text)


@dataclass(frozen=True)
class StuckCard:
    """A workload stuck in a phase, with its latest events."""

    workload_id: str
    name: str
    phase: str
    emoji: str
    held_for: str
    events: tuple[EventLine, ...]


def stuck_card(
    workload_id: str,
    name: str,
    phase: str,
    held_for: timedelta,
    events: Sequence[obs.Event],
    now: datetime,
) -> StuckCard:
    """`… has been Pending for 16m` and the 5 newest events."""
    return StuckCard(
        workload_id,
        name,
        phase,
        phase_emoji(phase),
        format_duration(held_for.total_seconds()) or "a while",
        event_lines(events, now, STUCK_EVENTS),
    )


def _json(value: Any) -> Any:
    """A card as JSON for the outbox (times as text)."""
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, datetime):
        return when(value)
    return value


class Words:
    """The words of the alert loop's replies, as JSON (`bot.watch.alert_loop.AlertWords`)."""

    def alert(
        self,
        alert_id: str,
        workload_id: str,
        name: str,
        rule: Rule,
        episode: Episode,
        now: datetime,
        chart: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """A fire or resolve reply's card; `chart` is an uploaded (file id, alt text)."""
        image = Chart(file_id=chart[0], alt=chart[1]) if chart else None
        card = alert_card(alert_id, workload_id, name, rule, episode, now, image)
        return dict(_json(asdict(card)))

    def stuck(
        self,
        workload_id: str,
        name: str,
        phase: str,
        held: timedelta,
        events: Sequence[obs.Event],
        now: datetime,
    ) -> dict[str, Any]:
        """A stuck reply's card, with the latest events."""
        return dict(_json(asdict(stuck_card(workload_id, name, phase, held, events, now))))


WORDS = Words()
