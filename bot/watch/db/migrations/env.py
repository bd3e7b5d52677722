"""Alembic environment: run the migrations on the connection `bot.watch.db.migrate` hands over.

Run from the `alembic` command line (to write a new revision) it connects to DATABASE_URL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from bot.watch.db.schema import metadata


def run(connection: Connection, schema: str | None) -> None:
    """Configure the context on `connection` and run the pending migrations."""
    if schema is not None:
        connection = connection.execution_options(schema_translate_map={None: schema})
    context.configure(
        connection=connection,
        target_metadata=metadata,  # for `alembic revision --autogenerate`
        version_table_schema=schema,
        # One transaction for the whole upgrade (PostgreSQL has transactional DDL).
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Entry point Alembic calls when it loads this file."""
    given = context.config.attributes.get("connection")
    schema = context.config.attributes.get("schema")
    if given is not None:
        run(given, schema)
        return
    from bot.config import Settings
    from bot.watch.db.engine import database_url

    # The alembic CLI is synchronous: use the sync driver of the same database.
    url = database_url(Settings().database_url).replace("+aiosqlite", "")
    with create_engine(url).begin() as connection:
        run(connection, schema)


main()
