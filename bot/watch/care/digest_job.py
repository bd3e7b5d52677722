"""The daily digest: gather a channel's followed workloads, post one message, once a day.

Frugal with Run:ai: one list call set (`type==inference`, every page) gives phase,
replicas and the GPUs held; one metrics call per followed workload asks THROUGHPUT and
LATENCY together (requests over 24 h, p95 latency). GPU-hours over 24 h are the GPUs held
now for the part of the 24 h the workload existed: the inference metrics carry no GPU
series, and a second call per workload is what this avoids.

The daily post is exactly once: keyed by (channel, local day) in the database, and sent
through the outbox like the thread replies. The job (on the lease holder,
`schedule_digests`) builds the message, then claims the key and queues the message in one
transaction (`claim_digest_post`); the notifier delivers it with the outbox's fencing and
its check for a post already made (the outbox id rides in the message's metadata). A
leader killed before the claim leaves the day to the next leader's tick; killed after it,
the queued message to the next leader's notifier; killed between Slack's answer and its
record, the next notifier finds the message in the channel and does not post it again.
`digest now` posts at once, outside the key.
"""

from __future__ import annotations

import dataclasses
import logging
import zoneinfo
from collections.abc import Callable
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.runai import errors as runai_errors
from bot.runai import models
from bot.runai.calls import UsageReads
from bot.utc import as_utc, utcnow
from bot.watch.care.digest import DigestRow, build_digest, digest_date
from bot.watch.care.idle_check import allocated_gpus, idle_gpus
from bot.watch.care.usage import p95, requests_served, samples_of
from bot.watch.care_store import Digest
from bot.watch.claims import CHANNEL_MESSAGE, ThreadPost
from bot.watch.notifier import Renderer
from bot.watch.runtime import WatchRuntime
from bot.watch.store import Store

logger = logging.getLogger(__name__)

DAY = timedelta(hours=24)
SAMPLES = 96
"""Samples over 24 h (one per 15 minutes) for the request count and the p95."""
LATE_LIMIT = timedelta(hours=6)
"""A digest not posted within this of its time (no leader ran) waits for the next day."""
DIGEST_JOB = "care-digest"
TICK_SECONDS = 30.0
PAGE_SIZE = 500
DIGEST_TEMPLATE = "care_digest"
DIGEST_SENDER = ""
"""The outbox's workload id of a digest (it is the channel's, no workload's)."""


DigestReader = UsageReads
"""The Run:ai reads of this loop."""


def fire_time(digest: Digest, now: datetime) -> datetime:
    """Today's (in the digest's zone) time of the digest, in UTC."""
    zone = zoneinfo.ZoneInfo(digest.tz)
    hours, minutes = (int(part) for part in digest.at_time.split(":"))
    local = as_utc(now).astimezone(zone)
    at = datetime.combine(local.date(), time(hours, minutes), tzinfo=zone)
    return as_utc(at)


def due(digest: Digest, now: datetime) -> datetime | None:
    """The fire time of the digest to post now, if any: today's, once passed, unless it
    was set after it or is more than `LATE_LIMIT` late."""
    at = fire_time(digest, now)
    if at <= as_utc(now) < at + LATE_LIMIT and digest.updated_at <= at:
        return at
    return None


class DigestJob:
    """Builds and posts channels' digests."""

    def __init__(
        self,
        store: Store,
        runai: DigestReader,
        slack: AsyncWebClient,
        *,
        render: Renderer,
        holder: str,
        price: Decimal | None = None,
        currency: str = "USD",
        clock: Callable[[], datetime] = utcnow,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.runai = runai
        self.slack = slack
        self.render = render
        self.holder = holder
        self.price = price
        self.currency = currency
        self.clock = clock
        self.wake = wake  # tells the notifier a digest was queued

    async def _listed(self, wanted: set[str]) -> dict[str, models.Workload]:
        found: dict[str, models.Workload] = {}
        offset = 0
        while True:
            page = await self.runai.list_workloads(
                filter_by=["type==inference"], limit=PAGE_SIZE, offset=offset
            )
            found.update((w.id, w) for w in page.workloads if w.id in wanted)
            if not page.workloads or page.next is None or page.next <= offset:
                return found
            offset = page.next

    async def rows(self, channel: str, now: datetime) -> list[DigestRow]:
        """What the channel follows, as digest rows (a workload gone from Run:ai is left
        out; one whose metrics fail shows n/a)."""
        followed = await self.store.watched_in(channel)
        if not followed:
            return []
        listed = await self._listed(followed)
        rows = []
        for workload_id, w in listed.items():
            requests: float | None = None
            latency: float | None = None
            try:
                answer = await self.runai.inference_metrics(
                    workload_id,
                    now - DAY,
                    now,
                    metric_types=[models.MetricType.THROUGHPUT, models.MetricType.LATENCY],
                    number_of_samples=SAMPLES,
                )
                series = {m.type: samples_of(m) for m in answer.measurements}
                requests = requests_served(series.get(models.MetricType.THROUGHPUT, []), now)
                latency = p95(series.get(models.MetricType.LATENCY, []))
            except runai_errors.RunaiError as exc:
                logger.info(
                    "digest: metrics unavailable",
                    extra={"workload_id": workload_id, "error": type(exc).__name__},
                )
            gpus = allocated_gpus(w)
            since = max(as_utc(w.created_at), now - DAY) if w.created_at else now - DAY
            held = max((now - since).total_seconds(), 0.0) / 3600
            episode = await self.store.idle_episode(workload_id)
            nudged = episode is not None and episode.nudged_at is not None
            rows.append(
                DigestRow(
                    workload_id=workload_id,
                    name=w.name,
                    project=w.project_name or w.project_id or "?",
                    phase=str(w.phase or "?"),
                    running=w.running_pods or 0,
                    min_replicas=w.requested_pods.min if w.requested_pods else None,
                    max_replicas=w.requested_pods.max if w.requested_pods else None,
                    gpus=gpus,
                    gpu_hours_24h=gpus * held,
                    requests_24h=requests,
                    p95_latency_ms=latency,
                    idle=nudged or (idle_gpus(w) > 0 and requests == 0),
                )
            )
        return rows

    async def message(self, channel: str, zone: str, now: datetime) -> dict[str, Any]:
        """The channel's digest as a Slack message."""
        data = build_digest(await self.rows(channel, now), now, zone, self.price, self.currency)
        return self.render(DIGEST_TEMPLATE, d=data)

    async def post(self, channel: str, zone: str, now: datetime | None = None) -> str | None:
        """Post the channel's digest now; its ts."""
        payload = await self.message(channel, zone, now or as_utc(self.clock()))
        answer = await self.slack.chat_postMessage(channel=channel, **payload)
        ts = answer.get("ts")
        return str(ts) if ts else None

    async def tick(self) -> list[str]:
        """Queue every digest due now that no one queued today; the channels queued."""
        now = as_utc(self.clock())
        queued = []
        for digest in await self.store.enabled_digests():
            at = due(digest, now)
            if at is None:
                continue
            day = digest_date(at, digest.tz)
            if await self.store.digest_claimed(digest.channel, day):
                continue  # the usual case: queued by this or an earlier leader
            try:
                data = build_digest(
                    await self.rows(digest.channel, now), now, digest.tz, self.price, self.currency
                )
            except Exception:
                # Not claimed: the next tick tries again (within LATE_LIMIT).
                logger.exception("digest not built", extra={"channel": digest.channel})
                continue
            post = ThreadPost(
                workload_id=DIGEST_SENDER,
                channel=digest.channel,
                thread_ts=CHANNEL_MESSAGE,
                kind=DIGEST_TEMPLATE,
                dedupe_key=f"digest:{digest.channel}:{day.isoformat()}",
                payload={"template": DIGEST_TEMPLATE, "context": {"d": dataclasses.asdict(data)}},
            )
            if await self.store.claim_digest_post(
                digest.channel, day, self.holder, at=now, posts=[post]
            ):
                queued.append(digest.channel)
        if queued:
            self.wake()
        return queued


def schedule_digests(runtime: WatchRuntime, job: DigestJob, every: float = TICK_SECONDS) -> None:
    """Every `every` seconds, on the lease holder only, post the digests that are due."""

    async def tick() -> None:
        if not runtime.leadership.is_leader():
            return
        try:
            await job.tick()
        except Exception:
            logger.exception("digest tick failed")

    runtime.scheduler.add_job(tick, "interval", seconds=every, id=DIGEST_JOB)
