"""Audit retention: entries older than AUDIT_RETENTION_DAYS are deleted, by the leader only,
on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.access.build import AUDIT_PURGE_JOB, schedule_audit_purge
from bot.audit import AuditEntry, AuditLog
from bot.config import Settings
from bot.watch.runtime import WatchRuntime
from bot.watch.store import Store
from tests.watch.conftest import pg_available, pg_store


@contextlib.asynccontextmanager
async def store_on(db: str, tmp_path: Path) -> AsyncIterator[Store]:
    if db == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'audit.db'}")
        await store.create_schema()
        try:
            yield store
        finally:
            await store.close()
        return
    if not pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (the tests need it)")
    async with pg_store() as store:
        yield store


def entry(action: str, age: timedelta) -> AuditEntry:
    return AuditEntry(
        user_id="U1",
        channel_id="C1",
        action=action,
        workload_id="w1",
        workload_name="llama",
        project="team-a",
        summary=f"{action} llama",
        outcome="ok",
        at=datetime.now(UTC) - age,
    )


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
async def test_old_entries_are_purged_by_the_leader_only(db: str, tmp_path: Path) -> None:
    async with store_on(db, tmp_path) as store:
        audit = AuditLog(store.engine)
        await audit.create_schema()
        await audit.add(entry("create", timedelta(days=400)))
        await audit.add(entry("scale", timedelta(days=364)))
        leader = [False]
        scheduler = AsyncIOScheduler()
        runtime = SimpleNamespace(
            scheduler=scheduler, leadership=SimpleNamespace(is_leader=lambda: leader[0])
        )
        schedule_audit_purge(cast(WatchRuntime, runtime), audit, timedelta(days=365))
        job = scheduler.get_job(AUDIT_PURGE_JOB)
        assert job is not None and job.trigger.interval == timedelta(days=1)

        await job.func()  # a follower leaves the table to the leader
        assert [e.action for e in await audit.trail(workload_id="w1")] == ["scale", "create"]
        leader[0] = True
        await job.func()
        assert [e.action for e in await audit.trail(workload_id="w1")] == ["scale"]
        assert await audit.purge(datetime.now(UTC) - timedelta(days=365)) == 0


def test_retention_takes_zero_and_refuses_a_negative(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().audit_retention_days == 365
    monkeypatch.setenv("AUDIT_RETENTION_DAYS", "0")
    assert Settings().audit_retention_days == 0
    monkeypatch.setenv("AUDIT_RETENTION_DAYS", "-1")
    with pytest.raises(ValueError, match="audit_retention_days"):
        Settings()
