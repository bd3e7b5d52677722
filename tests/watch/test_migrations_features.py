"""The feature migrations (0002 care, 0003 alerts and quiet threads, 0004 approvals and
Home, 0005 outbox dedupe, 0006 the idle action's intent, 0007 the phase the Homes show)
keep every row: a database
stopped at any earlier revision, with rows in every table it has, reaches head with those
rows intact and the new columns at their defaults; the new code then reads them. On
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, inspect

from bot.watch.alert_store import AlertStatus
from bot.watch.approval_store import ApprovalState
from bot.watch.care_store import FireOutcome
from bot.watch.claims import ThreadPost
from bot.watch.db import migrate
from bot.watch.db.schema import metadata
from tests.watch.test_migrations import (
    DIALECTS,
    KEYS,
    NEW_COLUMN_DEFAULTS,
    OLD_ROWS,
    T0,
    Database,
    database,
)

# A row in every table, in head's shape; a database at an older revision gets the part of
# each row its tables have.
QUIET = {
    "only_phases": "Failed,Running",
    "muted_until": T0 + timedelta(hours=1),
    "recent_changes": [T0.isoformat()],
    "flapping_since": T0,
    "flap_summary_at": T0 + timedelta(seconds=5),
}
ROWS: dict[str, list[dict[str, Any]]] = {
    "watches": [
        {**OLD_ROWS["watches"][0], **QUIET, "home_phase": "Running"},
        {**OLD_ROWS["watches"][1], **NEW_COLUMN_DEFAULTS["watches"]},
    ],
    "outbox": [
        {**OLD_ROWS["outbox"][0], "dedupe_key": None, "broadcast": False},
        {**OLD_ROWS["outbox"][1], "dedupe_key": None, "broadcast": False},
        {**OLD_ROWS["outbox"][2], "dedupe_key": "idle:1:C2", "broadcast": True},
    ],
    "leases": OLD_ROWS["leases"],
    "audit_events": OLD_ROWS["audit_events"],
    "schedules": [
        {
            "id": "s7k2q", "workload_id": "w-active", "workload_name": "llama",
            "channel": "C1", "author": "U1", "cron": "0 19 * * 1-5", "tz": "Europe/Berlin",
            "min_replicas": 0, "max_replicas": None, "created_at": T0, "ended_at": None,
            "ended_reason": None, "ended_by": None,
        },
        {
            "id": "s9abc", "workload_id": "w-ended", "workload_name": "old", "channel": "C2",
            "author": "U2", "cron": "0 7 * * *", "tz": "UTC", "min_replicas": 1,
            "max_replicas": 3, "created_at": T0, "ended_at": T0 + timedelta(days=1),
            "ended_reason": "workload-deleted", "ended_by": None,
        },
    ],
    "schedule_fires": [
        {
            "schedule_id": "s7k2q", "fire_at": T0.replace(microsecond=0), "claimed_by": "h:1",
            "claimed_at": T0, "outcome": "applied", "detail": None, "finished_at": T0,
        },
        {
            "schedule_id": "s7k2q", "fire_at": T0.replace(microsecond=0) + timedelta(days=1),
            "claimed_by": "h:2", "claimed_at": T0, "outcome": None, "detail": None,
            "finished_at": None,
        },
    ],
    "idle_episodes": [
        {
            "id": 1, "workload_id": "w-active", "workload_name": "llama", "idle_since": T0,
            "opened_at": T0, "nudged_at": T0, "kept_until": T0 + timedelta(days=7),
            "kept_by": "U3", "auto_action": "scale-to-zero",
            "auto_action_due_at": T0 + timedelta(hours=1), "auto_action_done_at": None,
            "ended_at": T0 + timedelta(days=2), "ended_reason": "traffic",
            "auto_action_started_at": None, "auto_action_outcome": None,
        },
        {
            "id": 2, "workload_id": "w-active", "workload_name": "llama",
            "idle_since": T0 + timedelta(days=3), "opened_at": T0 + timedelta(days=3),
            "nudged_at": None, "kept_until": None, "kept_by": None, "auto_action": None,
            "auto_action_due_at": None, "auto_action_done_at": None, "ended_at": None,
            "ended_reason": None, "auto_action_started_at": None, "auto_action_outcome": None,
        },
    ],
    "digests": [
        {
            "channel": "C1", "at_time": "09:00", "tz": "Europe/Paris", "author": "U1",
            "enabled": True, "updated_at": T0,
        },
    ],
    "digest_posts": [
        {"channel": "C1", "day": date(2026, 11, 30), "claimed_by": "h:1", "claimed_at": T0},
    ],
    "alert_rules": [
        {
            "id": "a4mn2", "workload_id": "w-active", "workload_name": "llama",
            "channel": "C1", "author": "U1", "metric": "latency", "op": ">", "value": 500.0,
            "for_seconds": 300, "created_at": T0, "removed_at": None, "removed_by": None,
        },
    ],
    "alert_state": [
        {
            "rule_id": "a4mn2", "state": "firing", "episode": 3, "since": T0,
            "fired_at": T0 + timedelta(minutes=5), "resolved_at": None,
            "snoozed_until": T0 + timedelta(hours=1), "snoozed_by": "U2",
            "last_value": 812.5, "evaluated_at": T0 + timedelta(minutes=6),
        },
    ],
    "stuck_episodes": [
        {
            "workload_id": "w-active", "phase": "Pending", "phase_since": T0,
            "claimed_by": "h:1", "claimed_at": T0 + timedelta(minutes=15),
        },
    ],
    "approvals": [
        {
            "id": "rq3x7", "channel": "C1", "requester": "U1", "action": "scale",
            "workload_id": "w-active", "workload_name": "llama", "project": "team-a",
            "request": {"minReplicas": 6, "maxReplicas": 8}, "summary": "8 replicas > 4",
            "state": "pending", "created_at": T0, "expires_at": T0 + timedelta(days=400),
            "decided_by": None, "decided_at": None, "reason": None, "message_channel": "C1",
            "message_ts": "1700000005.000100", "performed_at": None, "outcome": None,
        },
    ],
    "home_users": [
        {
            "user_id": "U1", "last_opened_at": T0, "last_published_at": T0,
            "wanted_at": None,
        },
    ],
}  # fmt: skip

SERIAL = ("outbox", "audit_events", "idle_episodes")
COLUMN_DEFAULTS = {
    **NEW_COLUMN_DEFAULTS,
    "idle_episodes": {"auto_action_started_at": None, "auto_action_outcome": None},
}


async def upgrade_to(db: Database, target: str) -> None:
    """Bring the database to one revision (not head), as an older release would have."""
    from alembic import command

    schema = db.store.schema

    def run(conn: Connection) -> None:
        if schema is not None:
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        command.upgrade(migrate.config(conn, schema), target)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)


async def insert_rows(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Insert the part of ROWS the database's tables hold; what each table should hold at
    head afterwards (new columns at their defaults)."""
    found = await db.reflect()
    want: dict[str, list[dict[str, Any]]] = {}
    async with db.engine.begin() as conn:
        for name, rows in ROWS.items():
            if name not in found:
                continue
            columns = set(found[name].columns.keys())
            given = [{k: v for k, v in r.items() if k in columns} for r in rows]
            await conn.execute(found[name].insert(), given)
            defaults = COLUMN_DEFAULTS.get(name, {})
            want[name] = [
                {**{k: defaults[k] for k in r if k not in columns}, **g}
                for r, g in zip(rows, given, strict=True)
            ]
            if db.dialect == "postgresql" and name in SERIAL:
                await conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{db.qualified(name)}', 'id'),"
                    f" {len(rows)})"
                )
    return want


def ordered(table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    key = KEYS.get(table, ("id",))
    return sorted(rows, key=lambda r: tuple(r[k] for k in key))


@pytest.mark.parametrize("start", ["0001", "0002", "0003", "0004", "0005", "0006"])
@pytest.mark.parametrize("dialect", DIALECTS)
async def test_upgrade_from_each_revision_keeps_every_row(
    dialect: str, start: str, tmp_path: Path
) -> None:
    async with database(dialect, tmp_path) as db:
        await upgrade_to(db, start)
        assert await migrate.revision(db.engine) == start
        want = await insert_rows(db)
        assert "watches" in want and "outbox" in want

        assert await db.store.create_schema() is None
        assert await migrate.revision(db.engine) == migrate.HEAD
        for table, rows in want.items():
            assert await db.rows(table) == ordered(table, rows), table
        tables = set((await db.reflect()).keys())
        assert tables == {*metadata.tables, migrate.VERSION_TABLE}

        # The new code reads the old rows and writes after them.
        s = db.store
        quiet = await s.watch_quiet("w-active", "C1")
        assert quiet is not None
        if start >= "0003":
            assert quiet.only_phases == {"Failed", "Running"} and quiet.recent_changes == (T0,)
        else:
            assert quiet.only_phases is None and quiet.muted_until is None
        assert [i.broadcast for i in await s.all_items()] == [False, False, start >= "0005"]
        post = ThreadPost("w-active", "C1", "1700000000.000100", "idle", "idle:2:C1")
        assert await s.enqueue_thread_post(post)
        assert not await s.enqueue_thread_post(post)
        if start >= "0002":
            found = await s.get_schedule("s7k2q")
            assert found is not None and found.tz == "Europe/Berlin" and found.active
            fire = ROWS["schedule_fires"][1]["fire_at"]
            assert not await s.claim_fire("s7k2q", fire, "h:3")
            assert await s.finish_fire("s7k2q", fire, FireOutcome.APPLIED)
            episode = await s.idle_episode("w-active")
            assert episode is not None and episode.id == 2
            assert episode.auto_action_started_at is None and not episode.action_unfinished
            assert (await s.end_idle_episode("w-active")) is not None
            assert (await s.open_idle_episode("w-active", T0 + timedelta(days=9))).id == 3
            assert not await s.claim_digest_post("C1", date(2026, 11, 30), "h:3")
        if start >= "0003":
            [(rule, state)] = await s.list_alert_rules(channel="C1")
            assert rule.value == 500.0 and state.status == AlertStatus.FIRING
            assert not await s.fire_alert("a4mn2", 3, value=900.0, since=T0)
            assert await s.resolve_alert("a4mn2", 3, at=T0 + timedelta(minutes=30))
            assert not await s.claim_stuck("w-active", "Pending", T0, "h:3")
        if start >= "0004":
            approval = await s.get_approval("rq3x7")
            assert approval is not None and approval.request == {"minReplicas": 6, "maxReplicas": 8}
            assert await s.decide_approval("rq3x7", ApprovalState.APPROVED, "U9")
            user = await s.get_home_user("U1")
            assert user is not None and user.last_published_at == T0


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_downgrade_to_the_baseline_drops_only_the_new_tables_and_columns(
    dialect: str, tmp_path: Path
) -> None:
    async with database(dialect, tmp_path) as db:
        await upgrade_to(db, "0001")
        await insert_rows(db)
        await db.store.create_schema()
        from alembic import command

        schema = db.store.schema

        def down(conn: Connection) -> dict[str, set[str]]:
            command.downgrade(migrate.config(conn, schema), "0001")
            found = inspect(conn)
            return {
                t: {c["name"] for c in found.get_columns(t, schema=schema)}
                for t in found.get_table_names(schema=schema)
            }

        async with db.engine.begin() as conn:
            columns = await conn.run_sync(down)
        assert set(columns) == {*OLD_ROWS, migrate.VERSION_TABLE}
        assert columns["watches"] == set(OLD_ROWS["watches"][0])
        assert columns["outbox"] == set(OLD_ROWS["outbox"][0])
        for table in OLD_ROWS:
            assert [
                {k: v for k, v in r.items() if k in OLD_ROWS[table][0]}
                for r in await db.rows(table)
            ] == ordered(table, OLD_ROWS[table]), table
