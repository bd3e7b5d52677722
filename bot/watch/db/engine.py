"""One async engine per database URL: the driver we ship, SQLite pragmas, a PostgreSQL schema."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url

from bot.watch.db.aio import AsyncEngine


def database_url(url: str) -> str:
    """Upgrade plain `sqlite://` and `postgresql://` URLs to the async drivers we ship."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.drivername != "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend in ("postgresql", "postgres") and parsed.drivername != "postgresql+psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the poller read while the notifier writes; writers wait instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, schema: str | None = None, echo: bool = False) -> AsyncEngine:
    """An engine on `url`; with `schema` (PostgreSQL) every table lives in that schema."""
    parsed = make_url(database_url(url))
    if parsed.drivername == "postgresql+psycopg":
        # psycopg's async dialect, under the name SQLAlchemy registers it by.
        parsed = parsed.set(drivername="postgresql+psycopg_async")
    sync_engine = create_engine(parsed, echo=echo, pool_pre_ping=True)
    if sync_engine.dialect.name == "sqlite":
        event.listen(sync_engine, "connect", _sqlite_pragmas)
    if schema is not None:
        sync_engine = sync_engine.execution_options(schema_translate_map={None: schema})
    return AsyncEngine(sync_engine)


def schema_of(engine: AsyncEngine) -> str | None:
    """The PostgreSQL schema an engine from `make_engine` puts its tables in (None: default)."""
    translate = engine.get_execution_options().get("schema_translate_map") or {}
    schema = translate.get(None)
    return str(schema) if schema is not None else None
