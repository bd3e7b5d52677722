"""Schedules under the policy: stored after the author's rights and caps are checked,
fired as their author, removed by those who may.

`ScheduleDesk` is what `/inference schedule`, `schedules`, `unschedule` and the Remove
button work with (bound to the request's asker, like the policed Run:ai client);
`PolicedFires` applies one fire for the schedule loop (`bot.watch.care.schedule_loop`),
as the schedule's author at fire time; `start_schedules` starts the loop on every replica
(it acts only on the lease holder).

Who may remove a schedule: its author (from any channel, the Home included); anyone the
policy lets scale the workload in the schedule's channel, from that channel (so a channel
member who could change the replicas by hand may also stop the rule that does); an admin,
from anywhere. A schedule whose workload is gone may be removed by anyone in its channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from slack_sdk.web.async_client import AsyncWebClient

from bot.access.asker import Asker
from bot.access.gate import Gate
from bot.access.policed import PolicedRunai
from bot.access.removal import Owned, may_remove
from bot.cron import CronRule, zone_or_utc
from bot.policy import Action, Denied, ProjectRef
from bot.runai import errors as runai_errors
from bot.runai import models
from bot.slack.errors import UserFacingError
from bot.slack.modals.scale import check_scale_command, command_scaling, scale_request
from bot.utc import utcnow
from bot.watch.care import schedule_rules as rules
from bot.watch.care.schedule_loop import Clock, FireResult, Leading, ScheduleLoop, Sleep
from bot.watch.care_store import FireOutcome, Schedule
from bot.watch.claims import ThreadPost
from bot.watch.store import Store

logger = logging.getLogger(__name__)

REMOVED = "removed"


def effective_max(low: int, high: int | None) -> int:
    """Max replicas as Run:ai defaults it: min, or 1 when min is 0."""
    return models.effective_max_replicas(low, high)


def summary_of(schedule: Schedule, now: datetime) -> rules.ScheduleSummary:
    """A stored schedule in words, with its next fire times."""
    return rules.summarize(
        schedule.id,
        schedule.workload_name or schedule.workload_id,
        CronRule(schedule.cron, schedule.tz),
        schedule.min_replicas,
        effective_max(schedule.min_replicas, schedule.max_replicas),
        now,
        author=schedule.author,
    )


class PolicedFires:
    """Applies a fire as its author: the policy decides at fire time, Run:ai is PATCHed
    like `/inference scale`, and the audit says the schedule did it."""

    def __init__(self, runai: PolicedRunai, gate: Gate) -> None:
        self.runai = runai
        self.gate = gate

    async def fire(self, schedule: Schedule) -> FireResult:
        """Decide and PATCH `spec.autoscaling`; the outcome and the thread's line."""
        wid = schedule.workload_id
        asker = Asker(
            schedule.author, schedule.channel, Action.SCALE, via=f"schedule {schedule.id}"
        )
        client = self.runai.for_asker(asker)
        try:
            inference = await self.runai.inner.get_inference(wid)
        except runai_errors.NotFoundError:
            return FireResult(
                FireOutcome.ENDED, rules.ended_note(schedule.id), "workload gone", ":ghost:"
            )
        name = inference.name or schedule.workload_name or wid
        asker.inferences[wid] = inference
        asker.names[wid] = name
        # Its project from the answer at hand: no second read of the workload.
        asker.projects[wid] = await self.runai.project_ref(inference.project_id)
        high = effective_max(schedule.min_replicas, schedule.max_replicas)
        auto = inference.spec.autoscaling if inference.spec else None
        scaling = command_scaling(auto, schedule.min_replicas, high)
        problem = check_scale_command(scaling, name)
        if problem:
            return FireResult(
                FireOutcome.FAILED, rules.refused_note(schedule.id, problem), problem, ":warning:"
            )
        request = scale_request(scaling)
        decision, project, summary = await client.update_decision(wid, request)
        if isinstance(decision, Denied):
            await self.gate.record(
                asker,
                Action.SCALE.value,
                workload_id=wid,
                name=name,
                project=project,
                summary=summary,
                outcome="denied",
                rule=decision.rule,
            )
            return FireResult(
                FireOutcome.DENIED,
                rules.refused_note(schedule.id, decision.sentence()),
                decision.rule,
                ":no_entry:",
            )
        try:
            await client.update_inference(wid, request)  # audited `ok` (or `failed`) there
        except UserFacingError as exc:
            # Over a binding's approval threshold (a request is posted, decided later), or
            # refused at the last moment: the thread hears why.
            return FireResult(
                FireOutcome.DENIED,
                rules.refused_note(schedule.id, str(exc)),
                type(exc).__name__,
                ":hourglass_flowing_sand:",
            )
        return FireResult(
            FireOutcome.APPLIED,
            rules.fired_note(schedule.min_replicas, high),
            by=schedule.author,
        )


@dataclass
class ScheduleDesk:
    """The schedule commands' part of access control, for one asker (`for_asker`)."""

    store: Store
    gate: Gate
    runai: PolicedRunai
    slack: AsyncWebClient
    wake: Callable[[], None] = lambda: None
    clock: Clock = utcnow
    asker: Asker | None = None
    _zones: dict[str, str] = field(default_factory=dict)

    def for_asker(self, asker: Asker | None) -> ScheduleDesk:
        """The same desk, answering to `asker`."""
        return ScheduleDesk(
            self.store,
            self.gate,
            self.runai.for_asker(asker),
            self.slack,
            self.wake,
            self.clock,
            asker,
            self._zones,
        )

    def now(self) -> datetime:
        """The desk's clock (injected by tests)."""
        return self.clock()

    async def zone_of(self, user: str) -> str:
        """The user's Slack time zone (`users.info` `tz`), else UTC."""
        if user not in self._zones:
            tz: str | None = None
            try:
                answer = await self.slack.users_info(user=user)
                tz = (answer.get("user") or {}).get("tz")
            except Exception as exc:
                logger.info("users.info failed", extra={"error": type(exc).__name__})
                return "UTC"
            self._zones[user] = zone_or_utc(tz)
        return self._zones[user]

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
        """Check the author may scale the workload here to these replicas (rights and
        caps, as a PATCH would be decided, without sending it), then store the schedule."""
        inference = await self.runai.get_inference(workload.id)
        auto = inference.spec.autoscaling if inference.spec else None
        scaling = command_scaling(auto, low, effective_max(low, high))
        problem = check_scale_command(scaling, workload.name)
        if problem:
            raise UserFacingError(f"{workload.name} can't be scheduled that way: {problem}")
        await self.runai.check_update(workload.id, scale_request(scaling))
        schedule = await self.store.add_schedule(
            workload_id=workload.id,
            workload_name=workload.name,
            channel=channel,
            author=user,
            cron=rule.expr,
            tz=rule.zone,
            min_replicas=low,
            max_replicas=high,
            at=self.now(),
        )
        project = await self.runai.project_ref(workload.project_id)
        await self.gate.record(
            self.asker,
            "schedule",
            workload_id=workload.id,
            name=workload.name,
            project=project,
            summary=f"schedule {schedule.id}: {summary_of(schedule, self.now()).sentence}",
            outcome="ok",
        )
        self.wake()
        return schedule

    async def listed(self, channel: str, workload_id: str | None = None) -> list[Schedule]:
        """The active schedules of a channel (of one workload)."""
        return await self.store.list_schedules(channel=channel, workload_id=workload_id)

    async def remove(self, schedule_id: str, *, user: str, channel: str | None) -> Schedule:
        """End a schedule for `user` (who may: see the module docstring); noted in its
        thread and audited. `UserFacingError` for an unknown id or a refusal."""
        schedule = await self.store.get_schedule(schedule_id)
        if schedule is None or not schedule.active:
            raise UserFacingError(
                f"There is no schedule {schedule_id} (any more): "
                "`/inference schedules` lists this channel's."
            )
        project = await self._may_remove(schedule, user, channel)
        words = summary_of(schedule, self.now()).sentence
        posts = await self._removed_posts(schedule, user, words)
        ended = await self.store.end_schedule(
            schedule.id, REMOVED, by=user, at=self.now(), posts=posts
        )
        if not ended:
            raise UserFacingError(f"Schedule {schedule_id} was removed meanwhile.")
        await self.gate.record(
            self.asker,
            "unschedule",
            workload_id=schedule.workload_id,
            name=schedule.workload_name,
            project=project,
            summary=f"unschedule {schedule.id}: {words}",
            outcome="ok",
        )
        self.wake()
        return schedule

    async def _may_remove(
        self, schedule: Schedule, user: str, channel: str | None
    ) -> ProjectRef | None:
        owned = Owned(
            "schedule",
            "unschedule",
            schedule.id,
            schedule.author,
            schedule.channel,
            schedule.workload_id,
            schedule.workload_name,
        )
        return await may_remove(self.gate, self.runai.inner, self.asker, owned, user, channel)

    async def _removed_posts(
        self, schedule: Schedule, user: str, words: str
    ) -> tuple[ThreadPost, ...]:
        watch = await self.store.get_watch(schedule.workload_id, schedule.channel)
        if watch is None or not watch.parent_ts:
            return ()
        text = f"Schedule {schedule.id} removed: {words}"
        return (
            ThreadPost(
                schedule.workload_id,
                schedule.channel,
                watch.parent_ts,
                "schedule",
                f"schedule:{schedule.id}:removed",
                {
                    "template": "notice",
                    "context": {
                        "emoji": ":wastebasket:",
                        "text": text,
                        "user": user,
                        "detail": None,
                    },
                },
            ),
        )


@dataclass
class Scheduling:
    """The running schedules of one process: the loop and the desk."""

    loop: ScheduleLoop
    desk: ScheduleDesk


def start_schedules(
    store: Store,
    leadership: Leading,
    runai: PolicedRunai,
    gate: Gate,
    slack: AsyncWebClient,
    *,
    grace: float,
    posted: Callable[[], None],
    clock: Clock = utcnow,
    sleep: Sleep | None = None,
    refresh: float = 1.0,
) -> Scheduling:
    """The schedule loop (not started: the caller runs `loop.run()` as a task) and the
    desk the commands use, sharing one wake-up."""
    loop = ScheduleLoop(
        store,
        leadership,
        PolicedFires(runai, gate),
        grace=grace,
        refresh=refresh,
        clock=clock,
        sleep=sleep or asyncio.sleep,
        posted=posted,
    )
    desk = ScheduleDesk(store, gate, runai, slack, loop.wake, clock)
    return Scheduling(loop, desk)
