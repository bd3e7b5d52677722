"""The real app with access control, against the emulator and the fake Slack.

`guarded_bot(emu, fake_slack, tmp_path, policy_yaml)` wraps the e2e harness: access
control (the policy, the audit trail in SQLite in tmp_path or the watch room's database)
is built first and the app over it, as `service.assemble` does, then served exactly as
the e2e tests do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select

from bot.access import Access, StoreNotes, build_access
from bot.access.gate import Notes
from bot.audit import AuditEntry, AuditLog, audit_events
from bot.config import Settings
from bot.fakeslack import MessageRecord, RunningFakeSlack, ViewRecord
from bot.fakeslack.payloads import state_values
from bot.policy import OPEN_POLICY, Policy, parse_policy
from bot.runai import RunaiCalls, RunaiClient
from bot.slack.app import make_slack_client
from bot.slack.deps import WatcherLike
from bot.slack.threads import thread_message
from bot.watch.db import make_engine
from bot.watch.runtime import WatchRuntime, WatchTuning, start_watch
from tests.conftest import RunningEmulator
from tests.e2e.slack_harness import CHANNEL, USER, Bot, running_bot

__all__ = ["CHANNEL", "FORM_TYPE", "USER", "GuardedBot", "guarded_bot", "mutations", "submission"]

CLUSTER = "71f69d83-ba66-4822-adf5-55ce55efd210"
FORM = {
    "f_name": "qwen-guarded",
    "f_project": "1",
    "f_image": "vllm/vllm-openai:v0.6.3",
    "f_args": "--model Qwen/Qwen2.5-0.5B-Instruct",
    "f_port": "8000",
    "f_gpu_devices": "1",
    "f_min_replicas": "1",
    "f_max_replicas": "2",
    "f_metric": "concurrency",
    "f_threshold": "4",
}


@dataclass
class GuardedBot:
    """A running guarded bot and what tests look at."""

    bot: Bot
    access: Access
    audit: AuditLog
    runtime: WatchRuntime | None

    @property
    def fake(self) -> Any:
        return self.bot.fake

    async def entries(self) -> list[AuditEntry]:
        """Every audit row, oldest first."""
        async with self.audit.engine.connect() as conn:
            rows = (await conn.execute(select(audit_events).order_by(audit_events.c.id))).all()
        return [AuditEntry.from_row(r) for r in rows]

    async def wait_entry(self, outcome: str, action: str, wait: float = 10.0) -> AuditEntry:
        """The first audit entry with this outcome and action (polled)."""
        found: list[AuditEntry] = []

        async def check() -> bool:
            found[:] = [
                e for e in await self.entries() if (e.outcome, e.action) == (outcome, action)
            ]
            return bool(found)

        deadline = time.monotonic() + wait
        while not await check():
            if time.monotonic() > deadline:
                raise AssertionError(f"no {outcome} {action} entry in {await self.entries()}")
            await asyncio.sleep(0.05)
        return found[0]


def mutations(emu: RunningEmulator) -> int:
    """Create/PATCH/DELETE calls the emulator has seen."""
    return sum(
        n
        for key, n in emu.state.stats.calls.items()
        if key.split(" ")[0] in ("PATCH", "DELETE")
        or (key.startswith("POST ") and "token" not in key)
    )


def submission(
    view: ViewRecord, values: dict[str, str], *, user: str, private_metadata: str | None = None
) -> bytes:
    """A view submission body as Slack sends it, by `user`, of `view` as it stands now
    (`private_metadata` replaced when given): what another user, or a tampered modal,
    sends. Post it with `driver.post(body, FORM_TYPE)`."""
    view_json = view.to_slack(state_values(view.blocks, values))
    if private_metadata is not None:
        view_json["private_metadata"] = private_metadata
    payload = {
        "type": "view_submission",
        "team": {"id": "T0001", "domain": "fake"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "view": view_json,
        "is_enterprise_install": False,
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


FORM_TYPE = "application/x-www-form-urlencoded"


def error_text(m: MessageRecord) -> str:
    """A reply's text and blocks, as one string."""
    return f"{m.text} {m.blocks}"


@contextlib.asynccontextmanager
async def guarded_bot(
    emu: RunningEmulator,
    fake_slack: RunningFakeSlack,
    tmp_path: Path,
    policy: str | Policy | None = None,
    *,
    real_watch: bool = False,
    submit_budget: float = 1.5,
    database: str | None = None,
    schema: str | None = None,
    send_timeout: float = 8.0,
    lease_ttl: float = 15.0,
    runai_timeout: float | None = None,
) -> AsyncIterator[GuardedBot]:
    """Serve the guarded bot for the block (`database`/`schema`: the watch room's
    database instead of SQLite in tmp_path; `runai_timeout`: the app's Run:ai client)."""
    chosen = (
        OPEN_POLICY
        if policy is None
        else parse_policy(policy)
        if isinstance(policy, str)
        else policy
    )
    database = database or f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    async with contextlib.AsyncExitStack() as stack:
        runtime: WatchRuntime | None = None
        watcher = None
        if real_watch:
            settings = Settings(
                slack_bot_token="xoxb-e2e",
                slack_api_url=fake_slack.api_url,
                database_url=database,
                poll_interval_seconds=0.3,
            )
            runai = await stack.enter_async_context(
                RunaiClient(emu.url, emu.client_id, emu.client_secret)
            )
            runtime = await start_watch(
                settings,
                runai,
                make_slack_client(settings),
                WatchTuning(
                    lease_renew_every=0.5,
                    channel_interval=0.1,
                    fast_interval=0.3,
                    schema=schema,
                    send_timeout=send_timeout,
                    lease_ttl=lease_ttl,
                ),
                render=thread_message,
            )
            stack.push_async_callback(runtime.stop)
            watcher = runtime.watcher
            audit = AuditLog(runtime.store.engine)
            notes: Notes | None = StoreNotes(runtime.store, runtime.notifier.wake)
        else:
            engine = make_engine(database)
            stack.push_async_callback(engine.dispose)
            audit = AuditLog(engine)
            notes = None
        with contextlib.suppress(Exception):  # the database may be away at start
            await audit.create_schema()
        app_runai = None
        if runai_timeout is not None:
            app_runai = RunaiClient(
                emu.url, emu.client_id, emu.client_secret, timeout=runai_timeout, max_retries=1
            )
            await stack.enter_async_context(app_runai)
        built: list[Access] = []

        def access(runai: RunaiCalls, slack: Any, watcher: WatcherLike) -> Access:
            built.append(build_access(runai, slack, watcher, chosen, audit, notes=notes))
            return built[0]

        bot = await stack.enter_async_context(
            running_bot(
                emu,
                fake_slack,
                watcher=watcher,
                submit_budget=submit_budget,
                app_runai=app_runai,
                access=access,
            )
        )
        yield GuardedBot(bot=bot, access=built[0], audit=audit, runtime=runtime)
