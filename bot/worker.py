"""A process that runs only the watch room (poller + notifier + lease), no Slack app.

Used by the multi-replica tests and handy to run a dedicated watcher next to HTTP
replicas. It assembles a process, as `service.py` does, so it stands beside it, above
both the watch room and the Slack presentation it hands in. Settings come from the
environment like the bot's (`DATABASE_URL`, `RUNAI_URL`, `RUNAI_CLIENT_ID`,
`RUNAI_CLIENT_SECRET`, `SLACK_API_URL`, `SLACK_BOT_TOKEN`, `POLL_INTERVAL_SECONDS`,
`RECONCILE_INTERVAL_SECONDS`).

    python -m bot.worker [--db-schema S] [--lease-ttl 15] [--renew-every 3] [--digest-tick 30]
                         [--care-clock-speed 4 --care-clock-anchor EPOCH]

`--care-clock-speed` is for stories that need cron minutes to pass in seconds: the
schedule and alert loops read a clock that runs that many times faster than real time
from `--care-clock-anchor` (epoch seconds; give every replica the same one), and sleep to
match. The lease, the poller and the notifier keep real time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot import aio
from bot.access import access_for_service
from bot.audit import AuditLog
from bot.care import schedule_care
from bot.config import Settings
from bot.logs import configure_logging
from bot.policy import load_policy
from bot.runai import RunaiClient
from bot.slack.threads import thread_message
from bot.watch.care.digest_job import TICK_SECONDS as DIGEST_TICK_SECONDS
from bot.watch.runtime import start_watch
from bot.watch.tuning import DEFAULTS, WatchTuning


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.worker")
    parser.add_argument("--db-schema", default=None, help="PostgreSQL schema of the tables")
    parser.add_argument("--lease-ttl", type=float, default=DEFAULTS.lease_ttl)
    parser.add_argument("--renew-every", type=float, default=DEFAULTS.lease_renew_every)
    parser.add_argument("--lease-safety", type=float, default=DEFAULTS.lease_safety)
    parser.add_argument("--channel-interval", type=float, default=DEFAULTS.channel_interval)
    parser.add_argument("--fast-interval", type=float, default=DEFAULTS.fast_interval)
    parser.add_argument("--overlap", type=float, default=DEFAULTS.overlap)
    parser.add_argument("--send-timeout", type=float, default=DEFAULTS.send_timeout)
    parser.add_argument("--digest-tick", type=float, default=DIGEST_TICK_SECONDS)
    parser.add_argument("--care-clock-speed", type=float, default=1.0)
    parser.add_argument("--care-clock-anchor", type=float, default=None)
    return parser


def fast_clock(
    anchor: float, speed: float
) -> tuple[Callable[[], datetime], Callable[[float], Awaitable[None]]]:
    """A clock that runs `speed` times real time from `anchor` (epoch seconds), and the
    sleep that matches it."""

    def now() -> datetime:
        return datetime.fromtimestamp(anchor + (time.time() - anchor) * speed, UTC)

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(seconds / speed)

    return now, sleep


async def run(argv: Sequence[str] | None = None) -> int:
    """Run the watch room until SIGTERM or SIGINT."""
    args = _parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    if not settings.runai_url:
        print("RUNAI_URL must be set", file=sys.stderr)
        return 2
    client_id, client_secret = settings.runai_credentials()
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    tuning = WatchTuning(
        lease_ttl=args.lease_ttl,
        lease_renew_every=args.renew_every,
        lease_safety=args.lease_safety,
        channel_interval=args.channel_interval,
        fast_interval=args.fast_interval,
        overlap=args.overlap,
        send_timeout=args.send_timeout,
        schema=args.db_schema,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with RunaiClient(
        settings.runai_url, client_id, client_secret, timeout=settings.runai_timeout_seconds
    ) as runai:
        slack = AsyncWebClient(token=token, base_url=settings.slack_api_url)
        runtime = await start_watch(settings, runai, slack, tuning, render=thread_message)
        # The idle check and the digests run here too: whichever process holds the lease.
        schedule_care(
            settings,
            runtime,
            runai,
            slack,
            policy=load_policy(settings.policy_file),
            audit=AuditLog(runtime.store.engine),
            digest_tick=args.digest_tick,
        )
        # The schedule and alert loops too (started with access control: fires are decided
        # as their author).
        clocks: dict[str, Any] = {}
        if args.care_clock_speed != 1.0:
            anchor = time.time() if args.care_clock_anchor is None else args.care_clock_anchor
            clocks["clock"], clocks["sleep"] = fast_clock(anchor, args.care_clock_speed)
        await access_for_service(settings, runtime, runai, slack, **clocks)
        print(f"watch worker ready holder={runtime.leadership.holder}", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await stop.wait()
        await runtime.stop()
    return 0


def main() -> int:
    """Entry point of `python -m bot.worker`."""
    return aio.run(run())


if __name__ == "__main__":
    sys.exit(main())
