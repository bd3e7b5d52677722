"""Alembic owns the schema: a database made by the release before migrations (9e7d0ad)
keeps every row through the upgrade, a database at head is left alone, the migrations
equal the tables the code queries, and two replicas starting at once against an empty
PostgreSQL schema migrate it exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData, Table, inspect, select

from bot.audit import AuditLog
from bot.utc import as_utc
from bot.watch.db import migrate
from bot.watch.db.aio import AsyncEngine
from bot.watch.db.schema import metadata
from bot.watch.store import Store
from tests.watch.conftest import PG_URL, pg_available

RELEASE = Path(__file__).parent / "release_9e7d0ad"
ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 30, 12, 0, 0, 123000, tzinfo=UTC)

# Rows in every table, as the previous release wrote them.
OLD_ROWS: dict[str, list[dict[str, Any]]] = {
    "watches": [
        {
            "workload_id": "w-active", "channel": "C1", "parent_ts": "1700000000.000100",
            "name": "llama", "project": "team-a", "image": "vllm/vllm-openai:latest",
            "replicas": "1/2", "url": "https://llama.example", "last_phase": "Running",
            "phase_message": None, "phase_updated_at": T0, "reason": "create",
            "created_by": "U1", "created_at": T0 - timedelta(minutes=5),
            "workload_created_at": T0 - timedelta(minutes=6), "ready_announced": True,
            "pending_action": "scale", "pending_user": "U2", "active": True,
            "version": 4611686018427387000,
        },
        {
            "workload_id": "w-ended", "channel": "C2", "parent_ts": "1700000001.000200",
            "name": "old", "project": None, "image": None, "replicas": None, "url": None,
            "last_phase": "Deleted", "phase_message": "gone", "phase_updated_at": None,
            "reason": "watch", "created_by": None, "created_at": T0, "workload_created_at": None,
            "ready_announced": False, "pending_action": None, "pending_user": None,
            "active": False, "version": 12,
        },
    ],
    "outbox": [
        {
            "id": 1, "workload_id": "w-active", "channel": "C1", "thread_ts": "1700000000.000100",
            "kind": "transition",
            "payload": {"transition": {"old_phase": "Initializing", "new_phase": "Running"}},
            "created_at": T0, "state": "delivered", "attempts": 1, "next_attempt_at": 0.0,
            "claimed_by": "host:1:abc", "reply_ts": "1700000002.000300",
            "delivered_at": T0 + timedelta(seconds=1), "last_error": None,
        },
        {
            "id": 2, "workload_id": "w-active", "channel": "C1", "thread_ts": "1700000000.000100",
            "kind": "record", "payload": {"action": "scale", "user": "U2", "summary": "1 → 2"},
            "created_at": T0, "state": "pending", "attempts": 2, "next_attempt_at": 1764504000.5,
            "claimed_by": None, "reply_ts": None, "delivered_at": None,
            "last_error": "ratelimited",
        },
        {
            "id": 3, "workload_id": "w-ended", "channel": "C2", "thread_ts": "1700000001.000200",
            "kind": "unwatch", "payload": {"user": "U1", "parent": {"name": "old"}},
            "created_at": T0, "state": "failed", "attempts": 5, "next_attempt_at": 0.0,
            "claimed_by": "host:2:def", "reply_ts": None, "delivered_at": None,
            "last_error": "channel_not_found",
        },
    ],
    "leases": [
        {"name": "watch-leader", "holder": "host:1:abc", "expires_at": 1764504015.25, "epoch": 7},
    ],
    "audit_events": [
        {
            "id": 1, "at": T0, "user_id": "U1", "channel_id": "C1", "action": "create",
            "workload_id": "w-active", "workload_name": "llama", "project": "team-a",
            "project_id": "1", "summary": "create llama", "outcome": "ok", "rule": None,
        },
        {
            "id": 2, "at": T0 + timedelta(hours=1), "user_id": "U3", "channel_id": None,
            "action": "delete", "workload_id": None, "workload_name": "llama",
            "project": "team-a", "project_id": None, "summary": "delete llama",
            "outcome": "denied", "rule": "channels.C1.delete",
        },
    ],
}  # fmt: skip


def _table_of(statement: str) -> str:
    """The table of a `CREATE TABLE t (` or a `CREATE INDEX i ON t (` statement."""
    return statement.split("(")[0].split()[-1]


@dataclass
class Database:
    """A database to migrate: a store on it and how to create the old release's tables."""

    store: Store
    dialect: str

    @property
    def engine(self) -> AsyncEngine:
        return self.store.engine

    async def create_previous_release(self, tables: set[str] | None = None) -> None:
        """Run release 9e7d0ad's DDL (only for `tables`, when given) and insert its rows."""
        ddl = (RELEASE / f"{self.dialect}.sql").read_text()
        body = "\n".join(line for line in ddl.splitlines() if not line.startswith("--"))
        statements = [s.strip() for s in body.split(";") if s.strip()]
        async with self.engine.begin() as conn:
            if self.store.schema is not None:
                await conn.exec_driver_sql(f'CREATE SCHEMA "{self.store.schema}"')
                await conn.exec_driver_sql(f'SET LOCAL search_path TO "{self.store.schema}"')
            for statement in statements:
                if tables is None or _table_of(statement) in tables:
                    await conn.exec_driver_sql(statement)
        found = await self.reflect()
        async with self.engine.begin() as conn:
            for name, rows in OLD_ROWS.items():
                if name in found:
                    await conn.execute(found[name].insert(), rows)
            if self.dialect == "postgresql":
                # As rows written by the old release would have left the id sequences.
                for name in ("outbox", "audit_events"):
                    if name in found:
                        await conn.exec_driver_sql(
                            f"SELECT setval(pg_get_serial_sequence('{self.qualified(name)}', 'id'),"
                            f" {len(OLD_ROWS[name])})"
                        )

    async def run_migration_scripts(self) -> None:
        """Walk an empty database through every migration script (`upgrade` would create
        it from the code's tables instead)."""
        async with self.engine.begin() as conn:
            if self.store.schema is not None:
                await conn.exec_driver_sql(f'CREATE SCHEMA "{self.store.schema}"')
            await conn.run_sync(migrate.alembic_upgrade, self.store.schema)

    async def described(self) -> dict[str, Any]:
        """Everything the database says of its tables: columns (type, nullability, default),
        primary key, foreign keys, indexes, unique and check constraints."""

        def unschemed(text: object) -> str:
            # A serial column's default names its sequence with the test's own schema.
            schema = self.store.schema
            return str(text).replace(f"{schema}.", "") if schema else str(text)

        def describe(conn: Connection) -> dict[str, Any]:
            look = inspect(conn)
            schema = self.store.schema
            tables: dict[str, Any] = {}
            for name in sorted(look.get_table_names(schema=schema)):
                tables[name] = {
                    # In any order: a migration adds its columns at the end of a table,
                    # the code declares them where they read best; queries name them.
                    "columns": sorted(
                        (c["name"], str(c["type"]), c["nullable"], unschemed(c.get("default")))
                        for c in look.get_columns(name, schema=schema)
                    ),
                    "pk": look.get_pk_constraint(name, schema=schema)["constrained_columns"],
                    "fks": sorted(
                        (
                            tuple(f["constrained_columns"]),
                            f["referred_table"],
                            tuple(f["referred_columns"]),
                            str(f.get("options")),
                        )
                        for f in look.get_foreign_keys(name, schema=schema)
                    ),
                    "indexes": sorted(
                        (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                        for i in look.get_indexes(name, schema=schema)
                    ),
                    "unique": sorted(
                        tuple(u["column_names"])
                        for u in look.get_unique_constraints(name, schema=schema)
                    ),
                    "checks": sorted(
                        " ".join(c["sqltext"].split())
                        for c in look.get_check_constraints(name, schema=schema)
                    ),
                }
            return tables

        async with self.engine.connect() as conn:
            return await conn.run_sync(describe)

    def qualified(self, table: str) -> str:
        return f'"{self.store.schema}".{table}' if self.store.schema else table

    async def reflect(self) -> dict[str, Table]:
        """The tables in the database, by name."""
        found = MetaData(schema=self.store.schema)
        async with self.engine.connect() as conn:
            await conn.run_sync(found.reflect)
        return {t.name: t for t in found.tables.values()}

    async def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of a table, datetimes in UTC, ordered by the primary key."""
        t = (await self.reflect())[table]
        async with self.engine.connect() as conn:
            result = await conn.execute(select(t).order_by(*t.primary_key.columns))
            return [
                {k: as_utc(v) if isinstance(v, datetime) else v for k, v in r._mapping.items()}
                for r in result
            ]


@contextlib.asynccontextmanager
async def database(dialect: str, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty database (SQLite file, or a fresh PostgreSQL schema dropped afterwards)."""
    if dialect == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'old.db'}")
        try:
            yield Database(store, dialect)
        finally:
            await store.close()
        return
    if not pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (the tests need it)")
    store = Store(PG_URL, schema=f"migrate_test_{uuid.uuid4().hex[:12]}")
    try:
        yield Database(store, dialect)
    finally:
        await store.drop_schema()
        await store.close()


DIALECTS = ["sqlite", "postgresql"]


# Columns later revisions add to the old tables, with what an old row gets.
NEW_COLUMN_DEFAULTS: dict[str, dict[str, Any]] = {
    "watches": {
        "only_phases": None,
        "muted_until": None,
        "recent_changes": None,
        "flapping_since": None,
        "flap_summary_at": None,
        "home_phase": None,
    },
    "outbox": {"dedupe_key": None, "broadcast": False},
}

KEYS = {
    "watches": ("workload_id", "channel"),
    "leases": ("name",),
    "schedule_fires": ("schedule_id", "fire_at"),
    "digests": ("channel",),
    "digest_posts": ("channel", "day"),
    "alert_state": ("rule_id",),
    "stuck_episodes": ("workload_id", "phase", "phase_since"),
    "home_users": ("user_id",),
}


def expected(table: str) -> list[dict[str, Any]]:
    key = KEYS.get(table, ("id",))
    rows = [{**r, **NEW_COLUMN_DEFAULTS.get(table, {})} for r in OLD_ROWS[table]]
    return sorted(rows, key=lambda r: tuple(r[k] for k in key))


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_upgrade_keeps_every_row_of_the_previous_release(
    dialect: str, tmp_path: Path
) -> None:
    async with database(dialect, tmp_path) as db:
        await db.create_previous_release()
        assert await migrate.revision(db.engine) is None

        await db.store.create_schema()  # what every replica does at start

        assert await migrate.revision(db.engine) == migrate.HEAD
        for table in OLD_ROWS:
            assert await db.rows(table) == expected(table), table
        # The new code reads the old rows and goes on writing after them.
        active = await db.store.get_watch("w-active", "C1")
        assert (
            active is not None
            and active.pending_user == "U2"
            and active.created_at == (T0 - timedelta(minutes=5))
        )
        assert [i.state for i in await db.store.open_items()] == ["pending"]
        assert await db.store.lease("watch-leader") == ("host:1:abc", 1764504015.25, 7)
        trail = await AuditLog(db.engine).trail(name="llama")
        assert [(e.action, e.outcome, e.at) for e in trail] == [
            ("delete", "denied", T0 + timedelta(hours=1)),
            ("create", "ok", T0),
        ]
        assert await db.store.record_action("w-active", "update", "U4", "image") == 1
        assert [i.id for i in await db.store.all_items()] == [1, 2, 3, 4]


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_release_that_never_wrote_an_audit_entry_gets_the_audit_table(
    dialect: str, tmp_path: Path
) -> None:
    """The previous release created the audit table only on its first entry."""
    async with database(dialect, tmp_path) as db:
        await db.create_previous_release(tables={"watches", "outbox", "leases"})
        await db.store.create_schema()
        for table in ("watches", "outbox", "leases"):
            assert await db.rows(table) == expected(table), table
        assert await db.rows("audit_events") == []
        assert await migrate.revision(db.engine) == migrate.HEAD


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_database_at_head_is_left_alone(
    dialect: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with database(dialect, tmp_path) as db:
        await db.create_previous_release()
        assert await migrate.upgrade(db.engine) is None
        statements: list[str] = []

        def record(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        from alembic import command
        from sqlalchemy import event

        def refuse(*args: Any, **kwargs: Any) -> None:
            raise AssertionError("Alembic ran on a database at head")

        monkeypatch.setattr(command, "upgrade", refuse)
        event.listen(db.engine.sync_engine, "before_cursor_execute", record)
        assert await migrate.upgrade(db.engine) == migrate.HEAD
        await AuditLog(db.engine).create_schema()
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
        assert statements and not any(
            s.lstrip().upper().startswith(("CREATE", "ALTER", "DROP", "INSERT", "UPDATE"))
            for s in statements
        )
        for table in OLD_ROWS:
            assert await db.rows(table) == expected(table), table


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_the_migrations_build_the_tables_the_code_queries(
    dialect: str, tmp_path: Path
) -> None:
    assert migrate.head() == migrate.HEAD
    async with database(dialect, tmp_path) as db:
        await db.run_migration_scripts()

        def differences(conn: Connection) -> list[Any]:
            context = MigrationContext.configure(
                conn,
                opts={
                    "include_schemas": False,
                    "version_table_schema": db.store.schema,
                    "include_name": lambda name, kind, parent: name != migrate.VERSION_TABLE,
                },
            )
            return list(compare_metadata(context, metadata))

        async with db.engine.connect() as conn:
            if db.store.schema is not None:
                await conn.exec_driver_sql(f'SET search_path TO "{db.store.schema}"')
            assert await conn.run_sync(differences) == []


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_an_empty_database_is_created_as_the_migration_scripts_would_build_it(
    dialect: str, tmp_path: Path
) -> None:
    # A first start creates the tables from the code and stamps them at head (no Alembic):
    # the database must be the one the scripts build, to the index and the constraint,
    # or a later migration written against the scripts' result would fail on it.
    (tmp_path / "scripts").mkdir()
    (tmp_path / "created").mkdir()
    async with database(dialect, tmp_path / "scripts") as scripted:
        await scripted.run_migration_scripts()
        by_scripts = await scripted.described()
    async with database(dialect, tmp_path / "created") as created:
        assert await migrate.upgrade(created.engine) is None
        assert await migrate.revision(created.engine) == migrate.HEAD
        by_code = await created.described()
        # and the scripts can take it back down and up again from there
        await migrate.downgrade(created.engine)
        assert set(await created.reflect()) == set()
    assert set(by_code) == set(metadata.tables) | {migrate.VERSION_TABLE}
    assert by_code == by_scripts


async def _waiting_for_lock(engine: AsyncEngine, key: int) -> int:
    """How many sessions wait for the advisory lock `key` (a bigint key is shown as two
    32-bit halves)."""
    unsigned = key % 2**64
    async with engine.connect() as conn:
        result = await conn.exec_driver_sql(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND classid::text::bigint = %s AND objid::text::bigint = %s AND objsubid = 1",
            (unsigned >> 32, unsigned & 0xFFFFFFFF),
        )
        return int(result.scalar_one())


async def _wait_for_waiters(engine: AsyncEngine, key: int, count: int) -> None:
    for _ in range(400):
        if await _waiting_for_lock(engine, key) >= count:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"{count} replicas never queued for the migration lock")


@contextlib.asynccontextmanager
async def holding_the_lock(engine: AsyncEngine, key: int) -> AsyncIterator[None]:
    """Hold the migration lock so that both replicas are inside `upgrade` at once."""
    async with engine.connect() as conn:
        await conn.exec_driver_sql("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            await conn.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (key,))
            await conn.commit()


async def test_two_replicas_starting_at_once_on_an_empty_postgresql_migrate_once(
    tmp_path: Path,
) -> None:
    async with database("postgresql", tmp_path) as db:
        schema = db.store.schema
        key = migrate.lock_key(schema)
        replicas = [Store(PG_URL, schema=schema), Store(PG_URL, schema=schema)]
        try:
            async with holding_the_lock(db.engine, key):
                starts = [asyncio.create_task(migrate.upgrade(r.engine)) for r in replicas]
                await _wait_for_waiters(db.engine, key, 2)
                assert not any(s.done() for s in starts)
            befores = await asyncio.gather(*starts)
            # One found the schema empty and migrated; the other waited and found it done.
            assert sorted(befores, key=str) == [migrate.HEAD, None]
            for n, replica in enumerate(replicas):
                await replica.ensure_lease("watch-leader")
                assert await replica.acquire_lease("watch-leader", f"r{n}", 15, 1000.0 * (n + 1))
            assert await migrate.revision(db.engine) == migrate.HEAD
            assert await db.rows("alembic_version") == [{"version_num": migrate.HEAD}]
        finally:
            for replica in replicas:
                await replica.close()


async def test_two_migrate_commands_at_once_on_an_empty_postgresql(tmp_path: Path) -> None:
    """`inference-bot migrate` run twice at once (two processes): one migrates."""
    async with database("postgresql", tmp_path) as db:
        schema = db.store.schema
        assert schema is not None
        key = migrate.lock_key(schema)
        env = {**os.environ, "DATABASE_URL": PG_URL, "LOG_LEVEL": "WARNING"}
        args = [sys.executable, "-m", "bot", "migrate", "--db-schema", schema]
        async with holding_the_lock(db.engine, key):
            procs = [
                await asyncio.create_subprocess_exec(
                    *args, env=env, cwd=str(ROOT), stdout=asyncio.subprocess.PIPE
                )
                for _ in range(2)
            ]
            await _wait_for_waiters(db.engine, key, 2)
        outputs = [(await p.communicate())[0].decode() for p in procs]
        assert [p.returncode for p in procs] == [0, 0]
        assert sorted(outputs) == [
            f"database at revision {migrate.HEAD} (was {migrate.HEAD})\n",
            f"database at revision {migrate.HEAD} (was not migrated)\n",
        ]
        found = await db.reflect()
        assert set(found) == {*metadata.tables, "alembic_version"}
        assert await db.rows("alembic_version") == [{"version_num": migrate.HEAD}]
