"""Alert rules under the policy: stored for those who may read the workload, snoozed by
those who may read it in the rule's channel, removed by those who may.

`AlertDesk` is what `/inference alert`, `alerts`, `unalert`, the Remove button and the
Snooze buttons work with, bound to the request's asker like the policed Run:ai client
(the workload lookups through it check the asker's read right). `start_alerts` starts the
evaluation loop (`bot.watch.alert_loop`) on every replica; it acts on the lease holder.

Who may remove a rule: its author (from anywhere); anyone the policy lets scale the
workload in the rule's channel, from that channel (whoever could change the endpoint may
also stop being told about it); an admin, from anywhere. A rule whose workload is gone
may be removed by anyone in its channel. Each removal and snooze is audited and told in
the workload's thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.access.asker import Asker
from bot.access.gate import Gate
from bot.access.policed import PolicedRunai
from bot.access.removal import Owned, may_remove
from bot.policy import ProjectRef
from bot.runai import errors as runai_errors
from bot.runai import models
from bot.slack.alert_cards import WORDS
from bot.slack.charts import render_chart
from bot.slack.errors import UserFacingError
from bot.utc import utcnow
from bot.watch.alert_loop import AlertLoop, AlertReads, Clock, Lease, Sleep, rule_of
from bot.watch.alert_store import AlertRule, AlertState
from bot.watch.alerts.rules import Rule
from bot.watch.claims import ThreadPost
from bot.watch.store import Store

logger = logging.getLogger(__name__)


def no_such_alert(alert_id: str) -> UserFacingError:
    """The refusal for an unknown or removed rule."""
    return UserFacingError(
        f"There is no alert {alert_id} (any more): `/inference alerts` lists this channel's."
    )


@dataclass
class AlertDesk:
    """The alert commands' part of access control, for one asker (`for_asker`)."""

    store: Store
    gate: Gate
    runai: PolicedRunai
    wake: Callable[[], None] = lambda: None
    clock: Clock = utcnow
    asker: Asker | None = None

    def for_asker(self, asker: Asker | None) -> AlertDesk:
        """The same desk, answering to `asker`."""
        return AlertDesk(
            self.store, self.gate, self.runai.for_asker(asker), self.wake, self.clock, asker
        )

    def now(self) -> datetime:
        """The desk's clock (injected by tests)."""
        return self.clock()

    async def add(
        self, workload: models.Workload, *, channel: str, user: str, rule: Rule
    ) -> AlertRule:
        """Store a rule on a workload the asker could read (the lookup checked it); audited."""
        stored = await self.store.add_alert_rule(
            workload_id=workload.id,
            workload_name=workload.name,
            channel=channel,
            author=user,
            metric=str(rule.metric),
            op=str(rule.op),
            value=rule.threshold,
            for_seconds=int(rule.for_.total_seconds()),
            at=self.now(),
        )
        await self.gate.record(
            self.asker,
            "alert",
            workload_id=workload.id,
            name=workload.name,
            project=ProjectRef(workload.project_id, workload.project_name),
            summary=f"alert {stored.id}: {rule.words()}",
            outcome="ok",
        )
        return stored

    async def listed(
        self, channel: str, workload_id: str | None = None
    ) -> list[tuple[AlertRule, AlertState]]:
        """The active rules of a channel (of one workload), with their state."""
        return await self.store.list_alert_rules(channel=channel, workload_id=workload_id)

    async def _active(self, alert_id: str) -> AlertRule:
        stored = await self.store.get_alert_rule(alert_id)
        if stored is None or stored.removed_at is not None:
            raise no_such_alert(alert_id)
        return stored

    async def remove(self, alert_id: str, *, user: str, channel: str | None) -> AlertRule:
        """Remove a rule for `user` (who may: see the module docstring); told in its
        thread and audited. `UserFacingError` for an unknown id or a refusal."""
        stored = await self._active(alert_id)
        project = await self._may_remove(stored, user, channel)
        words = rule_of(stored).words()
        posts = await self._note(
            stored, f"removed:{user}", f"Alert {stored.id} removed: {words}.", ":wastebasket:", user
        )
        if not await self.store.remove_alert_rule(stored.id, user, at=self.now(), posts=posts):
            raise UserFacingError(f"Alert {alert_id} was removed meanwhile.")
        await self.gate.record(
            self.asker,
            "unalert",
            workload_id=stored.workload_id,
            name=stored.workload_name,
            project=project,
            summary=f"unalert {stored.id}: {words}",
            outcome="ok",
        )
        self.wake()
        return stored

    async def snooze(
        self, alert_id: str, *, user: str, channel: str | None, for_: timedelta
    ) -> tuple[AlertRule, datetime]:
        """Hold the rule's fires back for `for_`, for someone who may read the workload in
        this channel (the lookup checks it); told in the thread and audited."""
        stored = await self._active(alert_id)
        if channel != stored.channel:
            raise UserFacingError(
                f"Alert {stored.id} belongs to <#{stored.channel}>: snooze it there."
            )
        project: ProjectRef | None = None
        try:
            workload = await self.runai.get_workload(stored.workload_id)
            project = ProjectRef(workload.project_id, workload.project_name)
        except runai_errors.NotFoundError:
            pass  # the workload is gone: nothing to read, the snooze harms no one
        until = self.now() + for_
        words = rule_of(stored).words()
        text = f"Alert {stored.id} ({words}) snoozed until {until:%Y-%m-%d %H:%M} UTC."
        posts = await self._note(stored, f"snooze:{until.isoformat()}", text, ":zzz:", user)
        if not await self.store.snooze_alert(stored.id, until, user, posts=posts):
            raise no_such_alert(alert_id)
        await self.gate.record(
            self.asker,
            "snooze",
            workload_id=stored.workload_id,
            name=stored.workload_name,
            project=project,
            summary=f"snooze {stored.id} until {until.isoformat()}: {words}",
            outcome="ok",
        )
        self.wake()
        return stored, until

    async def _may_remove(
        self, stored: AlertRule, user: str, channel: str | None
    ) -> ProjectRef | None:
        owned = Owned(
            "alert",
            "unalert",
            stored.id,
            stored.author,
            stored.channel,
            stored.workload_id,
            stored.workload_name,
        )
        return await may_remove(self.gate, self.runai.inner, self.asker, owned, user, channel)

    async def _note(
        self, stored: AlertRule, what: str, text: str, emoji: str, user: str
    ) -> tuple[ThreadPost, ...]:
        watch = await self.store.get_watch(stored.workload_id, stored.channel)
        if watch is None or not watch.active or not watch.parent_ts:
            return ()
        return (
            ThreadPost(
                stored.workload_id,
                stored.channel,
                watch.parent_ts,
                "alert",
                f"alert:{stored.id}:{what}",
                {
                    "template": "notice",
                    "context": {"emoji": emoji, "text": text, "user": user, "detail": None},
                },
            ),
        )


@dataclass
class Alerting:
    """The running alerts of one process: the evaluation loop and the desk."""

    loop: AlertLoop
    desk: AlertDesk


def start_alerts(
    store: Store,
    leadership: Lease,
    reads: AlertReads,
    runai: PolicedRunai,
    gate: Gate,
    slack: AsyncWebClient,
    *,
    interval: float,
    stuck_after: timedelta,
    posted: Callable[[], None],
    clock: Clock = utcnow,
    sleep: Sleep | None = None,
) -> Alerting:
    """The evaluation loop (not started: the caller runs `loop.run()` as a task, on every
    replica: it acts on the lease holder) over the bot's own Run:ai reads, and the desk the
    commands use (over the policed client)."""

    async def upload(png: bytes, filename: str, title: str) -> str | None:
        # Shared nowhere: the fire's reply shows it by id (`slack_file`), posted once.
        answer = await slack.files_upload_v2(file=png, filename=filename, title=title)
        found = answer.get("file") or next(iter(answer.get("files") or []), None) or {}
        file_id = found.get("id") if isinstance(found, dict) else None
        return str(file_id) if file_id else None

    loop = AlertLoop(
        store,
        reads,
        leadership,
        words=WORDS,
        interval=interval,
        stuck_after=stuck_after,
        chart=render_chart,
        upload=upload,
        posted=posted,
        clock=clock,
        sleep=sleep or asyncio.sleep,
    )
    desk = AlertDesk(store, gate, runai, posted, clock)
    return Alerting(loop, desk)
