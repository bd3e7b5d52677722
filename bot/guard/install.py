"""Put the guard rails around a built Slack app: policy, audit, repeats."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from slack_bolt.async_app import AsyncApp

from bot.audit import AuditLog
from bot.config import Settings
from bot.guard.gate import Gate, Notes
from bot.guard.idempotency import Idempotency
from bot.guard.middleware import make_middleware
from bot.guard.redact import redact_library_payloads
from bot.guard.runai import GuardedRunai
from bot.guard.wrappers import AuditingWatcher, ScopedOrgCache
from bot.policy import GroupResolver, Policy, load_policy
from bot.slack.deps import Deps
from bot.slack.reply import Replier
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
class Guard:
    """The installed guard rails of one app."""

    gate: Gate
    idempotency: Idempotency
    runai: GuardedRunai


def install_guard(
    app: AsyncApp,
    policy: Policy,
    audit: AuditLog | None,
    *,
    notes: Notes | None = None,
    group_ttl: float = 60.0,
) -> Guard:
    """Wrap the app's Run:ai client, org cache and watcher, and add the middleware."""
    deps: Deps = app.deps  # type: ignore[attr-defined]
    redact_library_payloads()
    gate = Gate(policy, GroupResolver(deps.slack, ttl=group_ttl), audit, notes)
    idempotency = Idempotency()
    inner = deps.runai.inner if isinstance(deps.runai, GuardedRunai) else deps.runai
    guarded = GuardedRunai(inner, gate, idempotency)
    deps.runai = guarded
    deps.orgs = ScopedOrgCache(inner, gate)
    deps.watcher = AuditingWatcher(deps.watcher, gate)
    app.use(make_middleware(gate, idempotency, guarded, deps, Replier(deps.slack)))
    guard = Guard(gate=gate, idempotency=idempotency, runai=guarded)
    app.guard = guard  # type: ignore[attr-defined]
    logger.info(
        "guard rails installed",
        extra={"open_policy": policy.open, "audit": audit is not None},
    )
    return guard


async def guard_service(app: AsyncApp, settings: Settings, runtime: WatchRuntime) -> Guard:
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
    return install_guard(app, policy, audit, notes=notes)


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
