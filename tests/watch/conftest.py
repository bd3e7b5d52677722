"""Fixtures of the watch tests: stores on SQLite and on the real PostgreSQL, a harness
that runs the watch room against the emulator and the fake Slack over HTTP."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.watch.store import Store

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_available() -> bool:
    """Whether the test PostgreSQL answers on its port."""
    import socket

    from sqlalchemy.engine import make_url

    url = make_url(PG_URL)
    with (
        contextlib.suppress(OSError),
        socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=1),
    ):
        return True
    return False


@contextlib.asynccontextmanager
async def pg_store() -> AsyncIterator[Store]:
    """A store in a fresh PostgreSQL schema, dropped afterwards."""
    store = Store(PG_URL, schema=f"watch_test_{uuid.uuid4().hex[:12]}")
    await store.create_schema()
    try:
        yield store
    finally:
        await store.drop_schema()
        await store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """The watch store on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'watch.db'}")
        await s.create_schema()
        yield s
        await s.close()
    else:
        if not pg_available():
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (the tests need it)")
        async with pg_store() as s:
            yield s
