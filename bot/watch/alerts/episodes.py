"""One rule's episodes: ok → firing → resolved, and what to post at each step.

`step(episode, verdict, now, muted=...)` is a pure function: the stored episode and a
verdict in, the next episode and one `Post` (fire, resolve or nothing) out. The store
writes the new episode with compare-and-set (like `Store.apply`) and posts only when its
write won, so a fire or resolve goes out once per episode across restarts and replicas:
`Episode.number` names the episode, `(rule id, number, post)` is the idempotency key.

Quiet: a snoozed rule (until `snoozed_until`) or a muted watch does not post a fire; the
episode still starts, and if it is still firing when the quiet ends, the fire is posted
then (once). A resolve is posted only for an episode whose fire was posted, and not
while the watch is muted: a user who muted the thread hears nothing, and one who
snoozed a fire still hears that it ended (the snooze was about the noise, not the news).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.watch.alerts.rules import Verdict


class State(StrEnum):
    """Where a rule stands."""

    OK = "ok"
    FIRING = "firing"
    RESOLVED = "resolved"  # like ok, remembering when the last episode ended


class Post(StrEnum):
    """What one evaluation posts to the workload's thread."""

    NOTHING = "nothing"
    FIRE = "fire"
    RESOLVE = "resolve"


@dataclass(frozen=True)
class Episode:
    """A rule's state between evaluations (JSON-ready with `to_json`)."""

    state: State = State.OK
    number: int = 0  # how many episodes have begun; the current one when firing
    since: datetime | None = None  # when the breach of this episode began
    announced: bool = False  # this episode's fire was posted
    resolved_at: datetime | None = None
    snoozed_until: datetime | None = None
    value: float | None = None  # the latest value seen

    def snoozed(self, now: datetime) -> bool:
        """Whether fires are held back at `now`."""
        return self.snoozed_until is not None and now < self.snoozed_until

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (for the database)."""
        return {
            "state": str(self.state),
            "number": self.number,
            "since": _iso(self.since),
            "announced": self.announced,
            "resolved_at": _iso(self.resolved_at),
            "snoozed_until": _iso(self.snoozed_until),
            "value": self.value,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Episode:
        """The episode `to_json` wrote."""
        value = data.get("value")
        return cls(
            State(data.get("state", State.OK)),
            int(data.get("number", 0)),
            _time(data.get("since")),
            bool(data.get("announced", False)),
            _time(data.get("resolved_at")),
            _time(data.get("snoozed_until")),
            None if value is None else float(value),
        )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _time(text: Any) -> datetime | None:
    return None if text is None else datetime.fromisoformat(str(text))


def step(
    episode: Episode, verdict: Verdict, now: datetime, *, muted: bool = False
) -> tuple[Episode, Post]:
    """The next episode and what to post, for one verdict at `now`."""
    if verdict.state == "unknown":
        return episode, Post.NOTHING
    seen = replace(episode, value=verdict.value)
    quiet = muted or episode.snoozed(now)
    if verdict.state == "breaching":
        if episode.state is not State.FIRING:
            started = replace(
                seen,
                state=State.FIRING,
                number=episode.number + 1,
                since=verdict.since,
                announced=not quiet,
                resolved_at=None,
            )
            return started, Post.NOTHING if quiet else Post.FIRE
        if not episode.announced and not quiet:
            return replace(seen, announced=True), Post.FIRE
        return seen, Post.NOTHING
    if verdict.state == "clear" and episode.state is State.FIRING:
        ended = replace(seen, state=State.RESOLVED, resolved_at=now)
        return ended, Post.RESOLVE if episode.announced and not muted else Post.NOTHING
    # pending (breaching, but not for long enough yet), or clear while not firing
    return seen, Post.NOTHING


def snooze(episode: Episode, until: datetime) -> Episode:
    """Hold fires back until `until` (a later snooze replaces an earlier one)."""
    return replace(episode, snoozed_until=until)
