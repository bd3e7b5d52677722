"""What the Slack handlers work with: clients, the watcher, caches, and one request's who/where.

`Deps` is built once by `app.build_app`. With access control (`bot.access`), its Bolt
middleware puts the request's asker in Bolt's `context["asker"]`, and each listener works
with `deps.bound(context)`: the same parts, answering to that asker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from slack_sdk.web.async_client import AsyncWebClient

from bot.cron import CronRule
from bot.modelinfo.source import ModelInfoSource
from bot.runai import RunaiCalls, models
from bot.slack.tasks import Background
from bot.watch.alert_store import AlertRule, AlertState
from bot.watch.alerts.rules import Rule
from bot.watch.care_store import Schedule

logger = logging.getLogger(__name__)
Action = Literal["scale", "update", "delete"]


class WatcherLike(Protocol):
    """What slack/ needs from `bot.watch.Watcher` (typing only; tests pass a recorder)."""

    async def watch(
        self,
        workload: models.Workload | models.Inference,
        *,
        channel: str,
        user: str | None,
        reason: Literal["create", "watch"],
    ) -> str:
        """Post the workload's parent message in `channel`, follow it; its ts."""
        ...

    async def unwatch(self, workload_id: str, *, channel: str, user: str) -> bool:
        """Stop following in `channel`; False when it wasn't followed."""
        ...

    async def record(
        self,
        workload_id: str,
        *,
        action: Literal["scale", "update", "delete"],
        user: str,
        summary: str,
    ) -> None:
        """Tell the workload's threads what a user did from Slack."""
        ...

    async def watched_in(self, channel: str) -> set[str]:
        """Workload ids followed in `channel`."""
        ...

    async def follow_only(
        self, workload_id: str, *, channel: str, phases: frozenset[str] | None
    ) -> bool:
        """Reset the watch's quiet settings, then reply only for `phases` (None: all)."""
        ...

    async def mute(self, workload_id: str, *, channel: str, until: datetime | None) -> bool:
        """Mute the thread (and its alerts) until `until` (None: until unmuted)."""
        ...

    async def unmute(self, workload_id: str, *, channel: str) -> bool:
        """Let the thread speak again."""
        ...


@dataclass
class ModalSlot:
    """The modal opened for an invocation, once there is one (errors then go there)."""

    view_id: str | None = None


@dataclass(frozen=True)
class Invocation:
    """Who asked, where, and how to answer: from a slash command, a button or a modal."""

    user_id: str
    channel_id: str | None
    response_url: str | None = None
    trigger_id: str | None = None
    view_id: str | None = None
    received_at: float = field(default_factory=time.monotonic)
    modal: ModalSlot = field(default_factory=ModalSlot, compare=False, repr=False)

    @property
    def modal_id(self) -> str | None:
        """The modal this invocation answers in: the one it came from or the one it opened."""
        return self.view_id or self.modal.view_id

    @classmethod
    def from_command(cls, body: Mapping[str, Any]) -> Invocation:
        """A slash command's body."""
        return cls(
            user_id=str(body.get("user_id", "")),
            channel_id=body.get("channel_id"),
            response_url=body.get("response_url"),
            trigger_id=body.get("trigger_id"),
        )

    @classmethod
    def from_action(cls, body: Mapping[str, Any]) -> Invocation:
        """A block_actions payload (message or modal container)."""
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        view_id = container.get("view_id") if container.get("type") == "view" else None
        return cls(
            user_id=str((body.get("user") or {}).get("id", "")),
            channel_id=channel,
            response_url=body.get("response_url"),
            trigger_id=body.get("trigger_id"),
            view_id=view_id,
        )

    def with_view(self, view_id: str) -> Invocation:
        """The same invocation, now answering in modal `view_id`."""
        return replace(self, view_id=view_id)

    def trigger_fresh(self, margin: float = 2.5) -> bool:
        """Whether the trigger_id is young enough to open a modal (Slack allows 3 s)."""
        return self.trigger_id is not None and time.monotonic() - self.received_at < margin


Orgs = tuple[list[models.Project], list[models.Cluster]]


class OrgsLike(Protocol):
    """Projects and clusters for the create form (`OrgCache`, or a view narrowed to one
    asker)."""

    def last(self) -> Orgs | None:
        """The last value fetched, however old."""
        ...

    def peek(self) -> Orgs | None:
        """The cached value when still fresh, without calling Run:ai."""
        ...

    async def get(self) -> Orgs:
        """Projects and clusters, from the cache or Run:ai."""
        ...


class OrgCache:
    """Projects and clusters for the create form, kept for `ttl` seconds."""

    def __init__(self, runai: RunaiCalls, ttl: float = 60.0) -> None:
        self._runai = runai
        self._ttl = ttl
        self._value: Orgs | None = None
        self._at = 0.0
        self._lock = asyncio.Lock()

    def last(self) -> Orgs | None:
        """The last value fetched, however old (to redraw a form without waiting)."""
        return self._value

    def peek(self) -> Orgs | None:
        """The cached value when still fresh, without calling Run:ai."""
        if self._value is not None and time.monotonic() - self._at < self._ttl:
            return self._value
        return None

    async def get(self) -> Orgs:
        """Projects and clusters, from the cache or Run:ai."""
        async with self._lock:
            cached = self.peek()
            if cached is not None:
                return cached
            projects, clusters = await asyncio.gather(
                self._runai.list_projects(), self._runai.list_clusters()
            )
            self._value = (projects, clusters)
            self._at = time.monotonic()
            return self._value


class OwnAnswers(Protocol):
    """`/inference policy` and `/inference audit`: answered by the access room."""

    async def policy(self, inv: Invocation) -> dict[str, Any]:
        """What the asker may do here, as a message."""
        ...

    async def audit(self, inv: Invocation, ref: str) -> dict[str, Any]:
        """The newest audit entries of a workload, as a message."""
        ...

    async def changes(self, workload_id: str) -> list[tuple[datetime, str, str]]:
        """(when, who, what) of the changes made through the bot, newest first."""
        ...


class SchedulesLike(Protocol):
    """The schedule commands' desk (`bot.access.schedules.ScheduleDesk`; typing only)."""

    def now(self) -> datetime:
        """Now, on the schedules' clock."""
        ...

    async def zone_of(self, user: str) -> str:
        """The user's Slack time zone, else UTC."""
        ...

    async def add(
        self,
        workload: models.Workload,
        *,
        channel: str,
        user: str,
        rule: CronRule,
        low: int,
        high: int | None,
    ) -> Schedule:
        """Check the author's rights and caps, then store the schedule."""
        ...

    async def listed(self, channel: str, workload_id: str | None = None) -> list[Schedule]:
        """A channel's active schedules."""
        ...

    async def remove(self, schedule_id: str, *, user: str, channel: str | None) -> Schedule:
        """End a schedule for `user`, if they may."""
        ...


class AlertsLike(Protocol):
    """The alert commands' desk (`bot.access.alerts.AlertDesk`; typing only)."""

    def now(self) -> datetime:
        """Now, on the alerts' clock."""
        ...

    async def add(
        self, workload: models.Workload, *, channel: str, user: str, rule: Rule
    ) -> AlertRule:
        """Store a rule (the lookup of `workload` checked the asker may read it)."""
        ...

    async def listed(
        self, channel: str, workload_id: str | None = None
    ) -> list[tuple[AlertRule, AlertState]]:
        """A channel's active rules with their state."""
        ...

    async def remove(self, alert_id: str, *, user: str, channel: str | None) -> AlertRule:
        """Remove a rule for `user`, if they may."""
        ...

    async def snooze(
        self, alert_id: str, *, user: str, channel: str | None, for_: timedelta
    ) -> tuple[AlertRule, datetime]:
        """Hold a rule's fires back for `for_`; the rule and the end of the snooze."""
        ...


Middleware = Callable[..., Awaitable[Any]]


class AccessLike(Protocol):
    """Access control around the app (`bot.access.Access`; typing only).

    Its Bolt middleware puts the request's asker in `context["asker"]`; `bind` gives the
    handlers of that request the parts that answer to the asker.
    """

    def middleware(self, deps: Deps) -> Middleware:
        """The Bolt middleware, working with the app's `deps` (tasks, Slack client)."""
        ...

    def bind(self, deps: Deps, asker: Any) -> Deps:
        """`deps` with its Run:ai client, org cache, watcher and answers bound to `asker`."""
        ...


class CareLike(Protocol):
    """What the idle nudge's buttons and `digest` need of the watch room
    (`care_desk.CareDesk`)."""

    async def nudged(self, workload_id: str) -> bool:
        """Whether the workload has an open, nudged idle episode."""
        ...

    async def keep(self, workload_id: str, *, name: str, user: str, channel: str | None) -> Any:
        """Silence the workload's idle nudges for a week; until when."""
        ...

    async def pressed(
        self,
        workload_id: str,
        *,
        name: str,
        user: str,
        channel: str | None,
        action: str,
        summary: str,
        note: bool = True,
    ) -> None:
        """Audit a press and note it in the threads."""
        ...

    async def digest_at(self, channel: str, at_time: str, zone: str, user: str) -> Any:
        """Turn the channel's daily digest on."""
        ...

    async def digest_off(self, channel: str, user: str) -> bool:
        """Turn the channel's daily digest off; False when it was not on."""
        ...

    async def digest_now(self, channel: str, zone: str) -> bool:
        """Post the channel's digest now; False when digests are not set up."""
        ...


@dataclass
class Deps:
    """Everything a handler may use; built once by `app.build_app`."""

    runai: RunaiCalls
    slack: AsyncWebClient
    watcher: WatcherLike
    tasks: Background
    orgs: OrgsLike
    # `/inference model`: Run:ai, the Hugging Face Hub, or both (MODEL_INFO_SOURCE).
    model_info: ModelInfoSource
    submit_budget: float = 1.5
    list_page_size: int = 20
    submitting: set[str] = field(default_factory=set)  # view ids with a submission running
    access: AccessLike | None = None
    answers: OwnAnswers | None = None  # policy and audit; None without access control
    schedules: SchedulesLike | None = None  # None: no database (schedules unavailable)
    care: CareLike | None = None  # the idle nudge's buttons; None without the watch room
    alerts: AlertsLike | None = None  # None: no database (alerts unavailable)

    def bound(self, context: Mapping[str, Any]) -> Deps:
        """The parts for one request: bound to the asker in Bolt's `context`, if any."""
        asker = context.get("asker")
        if self.access is None or asker is None:
            return self
        return self.access.bind(self, asker)

    async def record(self, workload_id: str, action: Action, user: str, summary: str) -> None:
        """Tell the threads what a user did; a failure there never fails the command."""
        try:
            await self.watcher.record(workload_id, action=action, user=user, summary=summary)
        except Exception:
            logger.exception("watcher.record failed", extra={"workload_id": workload_id})
