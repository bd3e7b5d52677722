"""Start the watch room: store, leader election, poller (APScheduler) and notifier.

Every replica runs the lease job; only the replica holding the lease polls Run:ai and
drains the outbox. The APScheduler job store is the default in-memory one, private to
this process (APScheduler 3.x job stores must never be shared); the lease, not the
scheduler, decides who acts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.runai import RunaiClient
from bot.watch.leader import Leadership
from bot.watch.notifier import CLAIM_SLACK, Notifier, Renderer
from bot.watch.poller import Poller
from bot.watch.store import Store
from bot.watch.tuning import DEFAULTS, WatchTuning
from bot.watch.watcher import Watcher

__all__ = ["WatchRuntime", "WatchTuning", "delivery_client", "start_watch"]

logger = logging.getLogger(__name__)

OUTBOX_RETENTION = timedelta(days=7)
"""Delivered notifications are kept this long (diagnostics), then purged."""


class JobsInFlight:
    """How many scheduler jobs are running now, to let them finish before shutdown."""

    def __init__(self, scheduler: AsyncIOScheduler) -> None:
        self.running = 0
        self._idle = asyncio.Event()
        self._idle.set()
        scheduler.add_listener(self._submitted, EVENT_JOB_SUBMITTED)
        scheduler.add_listener(self._done, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)

    def _submitted(self, _: JobEvent) -> None:
        self.running += 1
        self._idle.clear()

    def _done(self, event: JobEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            return  # a missed run never started
        self.running = max(0, self.running - 1)
        if self.running == 0:
            self._idle.set()

    async def idle(self) -> None:
        """Wait until no job is running."""
        await self._idle.wait()


@dataclass
class WatchRuntime:
    """The running watch room of this process."""

    store: Store
    leadership: Leadership
    poller: Poller
    notifier: Notifier
    watcher: Watcher
    scheduler: AsyncIOScheduler
    jobs: JobsInFlight
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stopped: bool = False

    async def stop(self) -> None:
        """Stop jobs, give the lease up and close the database (once; later calls return)."""
        if self._stopped:
            return
        self._stopped = True
        # Pause first: no new run starts, and the jobs in flight (a poll, an idle check, a
        # republish…) finish their transactions. Shutting the scheduler down at once would
        # cancel them mid-way (APScheduler's asyncio executor cancels running jobs on
        # shutdown) and log each as a failed job.
        self.scheduler.pause()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.jobs.idle(), timeout=10)
        self.scheduler.shutdown(wait=False)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.leadership.release()
        await self.store.close()


def delivery_client(slack: AsyncWebClient) -> AsyncWebClient:
    """The app's Web API client without its retry handlers.

    The notifier decides itself when to retry (pacing per channel, Retry-After, backoff
    stored in the outbox) and must know when a post's outcome is uncertain; a retry hidden
    inside the client could post a reply twice or sleep past the lease.
    """
    return AsyncWebClient(
        token=slack.token,
        base_url=slack.base_url,
        timeout=slack.timeout,
        ssl=slack.ssl,
        proxy=slack.proxy,
        session=slack.session,
        headers=dict(slack.headers),
        retry_handlers=[],
    )


async def start_watch(
    settings: Settings,
    runai: RunaiClient,
    slack: AsyncWebClient,
    tuning: WatchTuning = DEFAULTS,
    *,
    render: Renderer,
) -> WatchRuntime:
    """Start store, leader election, poller and notifier; returns the running room.

    `render` turns a thread message into Slack's payload (the watch room knows what
    happened, not how Slack shows it).
    """
    tuning = replace(
        tuning,
        poll_interval=settings.poll_interval_seconds or tuning.poll_interval,
        reconcile_interval=settings.reconcile_interval_seconds or tuning.reconcile_interval,
    )
    if tuning.lease_ttl - tuning.lease_renew_every <= tuning.send_timeout + CLAIM_SLACK:
        raise ValueError("lease_ttl - lease_renew_every must exceed send_timeout + 0.5 s")
    # One line per job run at INFO drowns everything else; keep APScheduler's warnings.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    store = Store(settings.database_url, schema=tuning.schema)
    leadership = Leadership(
        store,
        holder=tuning.holder,
        ttl=tuning.lease_ttl,
        renew_every=tuning.lease_renew_every,
        safety=tuning.lease_safety,
    )

    async def prepare() -> bool:
        # The database may be unreachable at start: the bot still serves what needs no
        # database, and the lease job prepares it (tables, lease row) once it answers.
        try:
            if tuning.create_schema:
                await store.create_schema()
            await leadership.start()
        except Exception as exc:
            logger.warning(
                "database unreachable; watching starts when it answers",
                extra={"error": type(exc).__name__},
            )
            return False
        return True

    prepared = await prepare()
    notifier = Notifier(
        store,
        delivery_client(slack),
        leadership,
        render=render,
        channel_interval=tuning.channel_interval,
        send_timeout=tuning.send_timeout,
        retry_backoff=tuning.retry_backoff,
        retry_backoff_max=tuning.retry_backoff_max,
    )
    poller = Poller(
        store,
        runai,
        interval=tuning.poll_interval,
        fast_interval=tuning.fast_interval,
        reconcile_interval=tuning.reconcile_interval,
        overlap=tuning.overlap,
        on_notify=notifier.wake,
    )

    def leadership_changed(leading: bool) -> None:
        # A new leader knows nothing of what happened meanwhile: start with a reconcile.
        poller.reset()
        if leading:
            notifier.wake()

    leadership.on_change(leadership_changed)

    async def lease_job() -> None:
        nonlocal prepared
        if not prepared:
            prepared = await prepare()
            if not prepared:
                return
            logger.info("database reachable again: watching starts")
        await leadership.tick()

    async def poll_job() -> None:
        # A poll still running is not a misfire worth a warning: just skip this tick.
        if not leadership.is_leader() or poller.busy:
            return
        try:
            await poller.tick()
        except Exception:
            logger.exception("poll failed")

    scheduler = AsyncIOScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 5}
    )
    jobs = JobsInFlight(scheduler)
    now = datetime.now(scheduler.timezone)
    scheduler.add_job(
        lease_job,
        "interval",
        seconds=tuning.lease_renew_every,
        id="watch-lease",
        next_run_time=now,
    )
    scheduler.add_job(
        poll_job,
        "interval",
        max_instances=2,
        # The job only decides whether a poll is due (cheap); ticking at a tenth of the
        # interval keeps polls within 10% of their schedule.
        seconds=max(0.05, min(poller.fast_interval, poller.interval) / 10),
        id="watch-poll",
        next_run_time=now,
    )

    async def purge_job() -> None:
        if not leadership.is_leader():
            return
        try:
            await store.purge_delivered(datetime.now(UTC) - OUTBOX_RETENTION)
        except Exception:
            logger.exception("outbox purge failed")

    scheduler.add_job(purge_job, "interval", hours=1, id="watch-outbox-purge")
    if prepared:
        await leadership.tick()
    scheduler.start()
    runtime = WatchRuntime(
        store=store,
        leadership=leadership,
        poller=poller,
        notifier=notifier,
        watcher=Watcher(store, notifier, runai=runai),
        scheduler=scheduler,
        jobs=jobs,
    )
    runtime._tasks.append(asyncio.create_task(notifier.run(), name="watch-notifier"))
    logger.info(
        "watch runtime started",
        extra={"holder": leadership.holder, "leader": leadership.is_leader()},
    )
    return runtime
