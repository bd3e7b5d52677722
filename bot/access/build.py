"""Build access control (policy, audit, repeats) for the Slack app, before the app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from slack_sdk.web.async_client import AsyncWebClient

from bot.access.admit import Middleware, make_admit
from bot.access.alerts import AlertDesk, start_alerts
from bot.access.answers import Answers
from bot.access.asker import Asker
from bot.access.gate import Gate, Notes
from bot.access.idempotency import Idempotency
from bot.access.policed import PolicedRunai
from bot.access.redact import redact_library_payloads
from bot.access.scoped import AuditingWatcher, ScopedOrgs
from bot.audit import AuditLog
from bot.config import Settings
from bot.policy import GroupResolver, Policy, load_policy
from bot.runai import RunaiCalls
from bot.slack.deps import Deps, OrgCache, WatcherLike
from bot.slack.reply import Replier
from bot.utc import utcnow
from bot.watch.alert_loop import AlertReads, Clock, Sleep
from bot.watch.runtime import WatchRuntime
from bot.watch.store import Store

logger = logging.getLogger(__name__)


class StoreNotes:
    """Denials in a workload's threads, through the watch store's outbox (no attribution)."""

    def __init__(self, store: Store, wake: Callable[[], None]) -> None:
        self._store = store
        self._wake = wake

    async def note(self, workload_id: str, *, action: str, user: str, summary: str) -> None:
        """Queue one line in every thread following the workload."""
        if await self._store.record_action(workload_id, action, user, summary, attribute=False):
            self._wake()


@dataclass
class Access:
    """Access control of one app: the gate, the repeats, and the parts that stand in front
    of the Run:ai client, the org cache and the watcher. Built before the app and passed
    to `build_app` (`AccessLike`); each request binds them to its asker."""

    gate: Gate
    idempotency: Idempotency
    runai: PolicedRunai
    orgs: ScopedOrgs
    watcher: AuditingWatcher
    alerts: AlertDesk | None = None

    def middleware(self, deps: Deps) -> Middleware:
        """The Bolt middleware (`admit`): repeats, the asker into `context`, early
        refusals; its replies and audit writes are the app's tracked tasks."""
        return make_admit(self.gate, self.idempotency, deps.tasks, Replier(deps.slack))

    def bind(self, deps: Deps, asker: Asker) -> Deps:
        """`deps` for one request: the parts answer to `asker`."""
        runai = self.runai.for_asker(asker)
        return replace(
            deps,
            runai=runai,
            orgs=self.orgs.for_asker(asker),
            watcher=self.watcher.for_asker(asker),
            answers=Answers(self.gate, runai, asker),
            alerts=self.alerts.for_asker(asker) if self.alerts else deps.alerts,
        )


def build_access(
    runai: RunaiCalls,
    slack: AsyncWebClient,
    watcher: WatcherLike,
    policy: Policy,
    audit: AuditLog | None,
    *,
    notes: Notes | None = None,
    group_ttl: float = 60.0,
) -> Access:
    """Policy, audit and repeats in front of `runai` and `watcher`, for `build_app`."""
    redact_library_payloads()
    gate = Gate(policy, GroupResolver(slack, ttl=group_ttl), audit, notes)
    idempotency = Idempotency()
    logger.info(
        "access control built",
        extra={"open_policy": policy.open, "audit": audit is not None},
    )
    return Access(
        gate=gate,
        idempotency=idempotency,
        runai=PolicedRunai(runai, gate, idempotency),
        orgs=ScopedOrgs(OrgCache(runai), gate),
        watcher=AuditingWatcher(watcher, gate),
    )


async def access_for_service(
    settings: Settings,
    runtime: WatchRuntime,
    runai: RunaiCalls,
    slack: AsyncWebClient,
    **alert_clock: Any,
) -> Access:
    """`inference-bot run`: the policy from POLICY_FILE (open, loudly, without one), the
    audit trail in the watch room's database, denials noted in the threads."""
    policy = load_policy(settings.policy_file)
    audit = AuditLog(runtime.store.engine)
    try:
        await audit.create_schema()
    except Exception as exc:
        # The database may come back later; the first entry written creates the table.
        logger.warning("audit table not created yet", extra={"error": type(exc).__name__})
    if settings.audit_retention_days:
        schedule_audit_purge(runtime, audit, timedelta(days=settings.audit_retention_days))
    notes = StoreNotes(runtime.store, runtime.notifier.wake)
    access = build_access(runai, slack, runtime.watcher, policy, audit, notes=notes)
    access.alerts = run_alerts(settings, runtime, access, runai, slack, **alert_clock)
    return access


def run_alerts(
    settings: Settings,
    runtime: WatchRuntime,
    access: Access,
    runai: RunaiCalls,
    slack: AsyncWebClient,
    *,
    clock: Clock | None = None,
    sleep: Sleep | None = None,
) -> AlertDesk:
    """Start the alert evaluation (and stuck check) as one of the watch room's tasks (it
    acts on the lease holder only); the desk the alert commands use."""
    alerting = start_alerts(
        runtime.store,
        runtime.leadership,
        cast(AlertReads, runai),  # the service's RunaiClient: metrics and events
        access.runai,
        access.gate,
        slack,
        interval=settings.alert_interval_seconds,
        stuck_after=settings.stuck_after,
        posted=runtime.notifier.wake,
        clock=clock or utcnow,
        sleep=sleep,
    )
    runtime._tasks.append(asyncio.create_task(alerting.loop.run(), name="alerts"))
    return alerting.desk


AUDIT_PURGE_JOB = "audit-purge"


def schedule_audit_purge(runtime: WatchRuntime, audit: AuditLog, keep: timedelta) -> None:
    """Once a day (and once at start), the leader deletes audit entries older than `keep`."""

    async def purge() -> None:
        if not runtime.leadership.is_leader():
            return
        try:
            gone = await audit.purge(datetime.now(UTC) - keep)
        except Exception as exc:
            logger.warning("audit purge failed", extra={"error": type(exc).__name__})
            return
        if gone:
            logger.info("audit entries purged", extra={"deleted": gone, "days": keep.days})

    runtime.scheduler.add_job(
        purge,
        "interval",
        days=1,
        id=AUDIT_PURGE_JOB,
        # First run a minute after start, once the lease has settled.
        next_run_time=datetime.now(UTC) + timedelta(minutes=1),
    )
