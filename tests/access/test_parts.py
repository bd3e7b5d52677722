"""The guard's parts on their own: idempotency, the audit log, the group resolver."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.idempotency import Idempotency
from bot.audit import AuditEntry, AuditLog
from bot.fakeslack import RunningFakeSlack
from bot.policy import GroupResolver
from bot.watch.db import make_engine

pytest_plugins = ["tests.fakes.fixtures"]


async def test_once_runs_concurrent_repeats_once() -> None:
    calls = 0
    gate = asyncio.Event()

    async def work() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return 42

    idem = Idempotency()
    first = asyncio.create_task(idem.once("k", work))
    second = asyncio.create_task(idem.once("k", work))
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(first, second) == [42, 42]
    assert calls == 1
    assert await idem.once("k", work) == 42 and calls == 1  # later repeats too
    assert await idem.once("other", work) == 42 and calls == 2
    assert await idem.once(None, work) == 42 and calls == 3  # no key: always runs


async def test_once_forgets_a_failure() -> None:
    attempts = 0

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("503")
        return "ok"

    idem = Idempotency()
    with pytest.raises(RuntimeError):
        await idem.once("k", flaky)
    assert await idem.once("k", flaky) == "ok"


def test_first_time_and_expiry() -> None:
    idem = Idempotency(ttl=0.0)
    assert idem.first_time("a")
    idem2 = Idempotency()
    assert idem2.first_time("a") and not idem2.first_time("a") and idem2.first_time("b")


def _entry(**kw: str) -> AuditEntry:
    base = dict(
        user_id="U1",
        channel_id="C1",
        action="scale",
        workload_id="w1",
        workload_name="llama",
        project="team-a",
        summary="llama: replicas 1-2",
        outcome="ok",
    )
    base.update(kw)
    return AuditEntry(**base)  # type: ignore[arg-type]


async def test_audit_log_writes_reads_and_keeps_entries_while_the_database_is_away(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    log = AuditLog(engine)
    await log.create_schema()
    assert await log.add(_entry())
    assert await log.add(_entry(action="delete", outcome="denied", rule="projects.a.delete"))
    trail = await log.trail(workload_id="w1")
    assert [e.action for e in trail] == ["delete", "scale"]
    assert (await log.trail(name="llama"))[0].rule == "projects.a.delete"
    assert await log.trail() == []
    await engine.dispose()

    broken = AuditLog(make_engine(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/a.db"))
    assert not await broken.add(_entry())
    assert broken.pending == 1
    # The database is back (same log, working engine): the kept entry is written first.
    broken.engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
    assert await broken.add(_entry(action="delete"))
    assert broken.pending == 0
    assert [e.action for e in await broken.trail(workload_id="w1")] == ["delete", "scale"]
    await broken.engine.dispose()


async def test_groups_resolve_cache_and_survive_slack_errors(fake_slack: RunningFakeSlack) -> None:
    fake = fake_slack.fake
    fake.add_usergroup("SONE", ["U1", "U2"])
    fake.add_usergroup("STWO", ["U3"])
    now = [0.0]
    client = AsyncWebClient(token="xoxb-test", base_url=fake_slack.api_url)
    resolver = GroupResolver(client, ttl=60, clock=lambda: now[0])
    assert await resolver.groups_of("U1", {"SONE", "STWO"}) == {"SONE"}
    assert await resolver.groups_of("U3", {"SONE", "STWO"}) == {"STWO"}
    assert len(fake.calls_to("usergroups.users.list")) == 2  # cached
    now[0] = 120.0
    fake.fail_next("usergroups.users.list", error="ratelimited", status=429, count=2)
    # Slack refuses: the last known members are used
    assert await resolver.groups_of("U1", {"SONE", "STWO"}) == {"SONE"}
    fresh = GroupResolver(client, ttl=60, clock=lambda: now[0])
    fake.fail_next("usergroups.users.list", error="missing_scope", count=5)
    before = len(fake.calls_to("usergroups.users.list"))
    assert await fresh.groups_of("U1", {"SONE"}) == frozenset()  # never fetched: no rights
    assert await fresh.groups_of("U1", {"SONE"}) == frozenset()
    assert len(fake.calls_to("usergroups.users.list")) == before + 1  # failure remembered
    fake.clear_faults()
    now[0] += 11
    assert await fresh.groups_of("U1", {"SONE"}) == {"SONE"}  # asked again later


def test_library_debug_lines_lose_their_payloads() -> None:
    import logging

    from bot.access.redact import PayloadRedactor, cut_payload

    line = "Sending a request - url: https://x/api/views.update, params: {}, json: {'v': 'sk-1'}"
    assert (
        cut_payload(line)
        == "Sending a request - url: https://x/api/views.update, params: [redacted]"
    )
    assert cut_payload('Responding with status: 200 body: "{...}"').endswith("body: [redacted]")
    assert cut_payload("nothing to cut") == "nothing to cut"
    record = logging.makeLogRecord(
        {"levelno": logging.DEBUG, "msg": "Received - status: 200, body: %s", "args": ("sk-1",)}
    )
    assert PayloadRedactor().filter(record) and "sk-1" not in record.getMessage()
    info = logging.makeLogRecord({"levelno": logging.INFO, "msg": "kept body: %s", "args": ("x",)})
    assert PayloadRedactor().filter(info) and info.getMessage() == "kept body: x"
