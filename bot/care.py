"""Start the care loops of a bot process: the idle check and the daily digest on the
lease holder, and the desk the idle nudge's buttons and `digest` work with. It assembles
a process, as `service.py` does, so it stands beside it, above both the watch room and
the Slack presentation it hands in."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.access.build import Access
from bot.audit import AuditLog, auto_scaled_row
from bot.config import Settings
from bot.policy import Policy
from bot.runai import RunaiClient
from bot.slack.care_desk import CareDesk
from bot.slack.threads import thread_message
from bot.watch.care.digest_job import TICK_SECONDS as DIGEST_TICK_SECONDS
from bot.watch.care.digest_job import DigestJob, schedule_digests
from bot.watch.care.idle_check import idle_check_for, schedule_idle_check
from bot.watch.runtime import WatchRuntime


def start_care(
    settings: Settings,
    runtime: WatchRuntime,
    runai: RunaiClient,
    slack: AsyncWebClient,
    access: Access,
) -> CareDesk:
    """Schedule the idle check and the digests on `runtime` (leader only); the buttons' desk."""
    digests = schedule_care(
        settings, runtime, runai, slack, policy=access.gate.policy, audit=access.gate.audit
    )
    return CareDesk(runtime.store, access.gate.audit, wake=runtime.notifier.wake, digests=digests)


def schedule_care(
    settings: Settings,
    runtime: WatchRuntime,
    runai: RunaiClient,
    slack: AsyncWebClient,
    *,
    policy: Policy | None,
    audit: AuditLog | None,
    digest_tick: float = DIGEST_TICK_SECONDS,
) -> DigestJob:
    """The idle check and the daily digests, scheduled on `runtime`: whichever process holds
    the lease runs them (`run` and the bare watch worker alike). The digest job, which
    `digest now` uses too."""
    check = idle_check_for(
        settings,
        runtime.store,
        runai,
        policy=policy,
        audit_row=auto_scaled_row if audit is not None else None,
        wake=runtime.notifier.wake,
    )
    schedule_idle_check(runtime, check, settings.idle_check_interval_seconds)
    # Queued on the lease holder, sent by its notifier.
    digests = DigestJob(
        runtime.store,
        runai,
        slack,
        render=thread_message,
        holder=runtime.leadership.holder,
        price=settings.gpu_hour_cost,
        currency=settings.cost_currency,
        wake=runtime.notifier.wake,
    )
    schedule_digests(runtime, digests, digest_tick)
    return digests
