"""`bot.watch.db.aio`, the bot's async front to SQLAlchemy Core, on SQLite and on the real
PostgreSQL: transactions commit or roll back as a block ends, a cancelled task still gives
its connection back, results outlive their connection."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, inspect, select

from bot.watch.db import make_engine, schema_of
from bot.watch.db.aio import AsyncEngine
from tests.watch.conftest import PG_URL, pg_available

metadata = MetaData()
notes = Table(
    "aio_notes", metadata, Column("id", Integer, primary_key=True), Column("text", String)
)


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    schema = None
    if request.param == "sqlite":
        made = make_engine(f"sqlite:///{tmp_path / 'aio.db'}")
    else:
        if not pg_available():
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (the tests need it)")
        schema = f"aio_test_{uuid.uuid4().hex[:12]}"
        made = make_engine(PG_URL, schema=schema)
        async with made.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    async with made.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield made
    finally:
        async with made.begin() as conn:
            if schema is not None:
                await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            else:
                await conn.run_sync(metadata.drop_all)
        await made.dispose()


async def texts(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(notes.c.text).order_by(notes.c.id))).scalars())


def checked_out(engine: AsyncEngine) -> int:
    return engine.sync_engine.pool.checkedout()  # type: ignore[attr-defined,no-any-return]


async def test_begin_commits_a_clean_block_and_rolls_back_a_failed_one(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(notes.insert().values(text="kept"))
    with pytest.raises(ZeroDivisionError):
        async with engine.begin() as conn:
            await conn.execute(notes.insert().values(text="lost"))
            1 / 0  # noqa: B018
    assert await texts(engine) == ["kept"]
    assert checked_out(engine) == 0


async def test_a_failed_savepoint_keeps_the_rest_of_its_transaction(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(notes.insert().values(id=1, text="first"))
        with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
            async with conn.begin_nested():
                await conn.execute(notes.insert().values(id=1, text="same key"))
        await conn.execute(notes.insert().values(id=2, text="second"))
    assert await texts(engine) == ["first", "second"]


async def test_connect_without_a_transaction_commits_only_when_asked(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(notes.insert().values(text="uncommitted"))
    async with engine.connect() as conn:
        await conn.execute(notes.insert().values(text="committed"))
        await conn.commit()
    assert await texts(engine) == ["committed"]


async def test_a_cancelled_task_gives_its_connection_back(engine: AsyncEngine) -> None:
    inside = asyncio.Event()

    async def hold() -> None:
        async with engine.begin() as conn:
            await conn.execute(notes.insert().values(text="never committed"))
            inside.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(hold())
    await inside.wait()
    assert checked_out(engine) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert checked_out(engine) == 0
    assert await texts(engine) == []


async def test_results_are_read_after_their_connection_is_back(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(notes.insert(), [{"text": "a"}, {"text": "b"}, {"text": "c"}])
        result = await conn.execute(select(notes.c.id, notes.c.text).order_by(notes.c.id))
    assert checked_out(engine) == 0
    assert [text for _, text in result.all()] == ["a", "b", "c"]


async def test_run_sync_hands_over_the_synchronous_connection(engine: AsyncEngine) -> None:
    def tables(connection: Connection) -> list[str]:
        return inspect(connection).get_table_names(schema=schema_of(engine))

    async with engine.connect() as conn:
        assert await conn.run_sync(tables) == ["aio_notes"]


async def test_a_connection_used_outside_its_block_says_so(engine: AsyncEngine) -> None:
    conn = engine.connect()
    with pytest.raises(RuntimeError, match=r"inside `async with engine.connect\(\)`"):
        await conn.execute(select(notes.c.id))
    async with conn:
        pass
    with pytest.raises(RuntimeError, match="inside"):
        await conn.execute(select(notes.c.id))
