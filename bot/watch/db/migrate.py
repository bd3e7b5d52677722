"""Bring a database to the newest schema with the migrations shipped in the package.

Alembic runs here programmatically (no alembic.ini): at start by every replica, and by
`inference-bot migrate` for operators who migrate before rolling out. On PostgreSQL the
upgrade runs in one transaction holding an advisory lock keyed by the schema, so two
replicas starting at once against an empty database do not both migrate: the second waits,
then finds the database at head and does nothing.

An empty database is not walked through every migration: its tables are created from
the code's own (`schema.metadata`, which a test holds equal to what the migrations build)
and stamped at head, as Alembic's cookbook advises ("building an up to date database from
scratch"). That also spares a first start from loading Alembic at all.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    insert,
    inspect,
    select,
)

from bot.watch.db.aio import AsyncEngine
from bot.watch.db.engine import make_engine, schema_of
from bot.watch.db.schema import metadata

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"

HEAD = "0007"
"""The newest revision in `migrations/versions/` (a test holds the two equal). A database
already there is recognised without loading Alembic, which keeps start-up quick."""


def config(connection: Connection | None = None, schema: str | None = None) -> Config:
    """An Alembic config over the packaged migrations (env.py reads the connection from it)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    cfg.attributes["schema"] = schema
    return cfg


def head() -> str | None:
    """The newest revision of the migration scripts, as Alembic reads them."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config()).get_current_head()


def lock_key(schema: str | None) -> int:
    """The advisory-lock key of a schema's migrations (a signed 64-bit int)."""
    digest = hashlib.sha256(f"inference-bot migrate {schema or 'public'}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _version_table(schema: str | None) -> Table:
    """Alembic's version table, as Alembic itself creates it."""
    return Table(
        VERSION_TABLE,
        MetaData(schema=schema),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
    )


def current(connection: Connection, schema: str | None) -> str | None:
    """The revision a database is at (None: never migrated)."""
    if not inspect(connection).has_table(VERSION_TABLE, schema=schema):
        return None
    table = _version_table(schema)
    versions = connection.execute(select(table.c.version_num)).scalars().all()
    return versions[0] if len(versions) == 1 else None


def is_empty(connection: Connection, schema: str | None) -> bool:
    """Whether the database holds none of the bot's tables (nor a version table)."""
    names = set(inspect(connection).get_table_names(schema=schema))
    return not names & ({VERSION_TABLE} | set(metadata.tables))


def create_at_head(connection: Connection, schema: str | None) -> None:
    """Create the code's tables in an empty database and stamp it at head."""
    translated = connection.execution_options(schema_translate_map={None: schema})
    metadata.create_all(translated)
    version = _version_table(schema)
    version.create(connection)
    connection.execute(insert(version).values(version_num=HEAD))


def _upgrade(connection: Connection, schema: str | None) -> str | None:
    """Upgrade on one connection, inside the caller's transaction; the revision before."""
    before = current(connection, schema)
    if before == HEAD:
        return before  # migrations only move forward: no lock needed to see we are done
    if connection.dialect.name == "postgresql":
        # Held until the transaction ends: the schema, the version table and every table
        # of the upgrade are created by one replica only; the others wait here.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (lock_key(schema),))
        if schema is not None:
            connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        before = current(connection, schema)
        if before == HEAD:
            return before
    if before is None and is_empty(connection, schema):
        create_at_head(connection, schema)
        logger.info("database created", extra={"at": HEAD})
        return None
    alembic_upgrade(connection, schema)
    logger.info("database migrated", extra={"from": before or "empty", "to": HEAD})
    return before


def alembic_upgrade(connection: Connection, schema: str | None) -> None:
    """Run every pending migration script (also on an empty database: the tests that hold
    the scripts equal to the code's tables start here)."""
    from alembic import command

    # Alembic logs every step at INFO; the one line below says what happened.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    command.upgrade(config(connection, schema), "head")


async def upgrade(engine: AsyncEngine) -> str | None:
    """Migrate the engine's database (and schema) to head; returns the revision before."""
    schema = schema_of(engine)
    async with engine.begin() as conn:
        return await conn.run_sync(_upgrade, schema)


async def revision(engine: AsyncEngine) -> str | None:
    """The revision the engine's database is at (None: never migrated)."""
    schema = schema_of(engine)
    async with engine.connect() as conn:
        return await conn.run_sync(current, schema)


async def migrate(url: str, *, schema: str | None = None) -> tuple[str | None, str | None]:
    """Migrate the database at `url` to head; (revision before, revision after)."""
    engine = make_engine(url, schema=schema)
    try:
        before = await upgrade(engine)
        return before, await revision(engine)
    finally:
        await engine.dispose()


def _downgrade(connection: Connection, schema: str | None) -> None:
    from alembic import command

    logging.getLogger("alembic").setLevel(logging.WARNING)
    command.downgrade(config(connection, schema), "base")
    _version_table(schema).drop(connection, checkfirst=True)


async def downgrade(engine: AsyncEngine) -> None:
    """Undo every migration: the database holds none of the bot's tables afterwards."""
    schema = schema_of(engine)
    async with engine.begin() as conn:
        await conn.run_sync(_downgrade, schema)
