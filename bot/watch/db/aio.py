"""SQLAlchemy Core from asyncio, without `sqlalchemy.ext.asyncio`.

`sqlalchemy.ext.asyncio` is SQLAlchemy's own asyncio front end, but importing it imports
its ORM session and with it the whole ORM: about 6 MB of resident memory for the life of
the process, which the bot (Core only) never uses and its idle goal of 90 MB cannot
afford. This module is the part of that front end the bot uses, over the same bridge:
`sqlalchemy.util.greenlet_spawn` runs a synchronous Core call in a greenlet, and the async
drivers we ship (aiosqlite, psycopg's async connection) await inside it.

What it offers behaves as ext.asyncio's does:

- `engine.connect()` and `engine.begin()` are async context managers; the connection
  goes back to the pool when the block ends, even when the task is cancelled meanwhile
  (the close runs to its end and the cancellation is raised after it);
- `conn.execute()` returns SQLAlchemy's own `CursorResult`, already buffered by the
  driver adapter, so `.all()`, `.scalar()`, `.rowcount` need no await;
- `conn.begin()` and `conn.begin_nested()` commit on a clean exit and roll back on an
  exception; `conn.run_sync(fn)` hands `fn` the synchronous `Connection` (Alembic runs
  there).

It offers no streaming results (server-side cursors); nothing here reads a result too big
to buffer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar, TypeVarTuple, overload

from sqlalchemy import (
    URL,
    Connection,
    CursorResult,
    Dialect,
    Engine,
    Executable,
    NestedTransaction,
    RootTransaction,
)
from sqlalchemy.sql.selectable import TypedReturnsRows
from sqlalchemy.util import greenlet_spawn

T = TypeVar("T")
P = ParamSpec("P")
Ts = TypeVarTuple("Ts")
# One row of bound parameters, or many (an executemany).
Params = Mapping[str, Any] | Sequence[Mapping[str, Any]]


async def _run_to_end(cleanup: Coroutine[Any, Any, None]) -> None:
    """Await `cleanup` to its end even if our task is cancelled while it runs; the
    cancellation is raised once it is done. Half a close would leave a connection checked
    out (or returned to a pool already disposed)."""
    task = asyncio.create_task(cleanup)
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            await asyncio.shield(task)
            break
        except asyncio.CancelledError as exc:
            if task.done():  # the cleanup itself was cancelled: nothing left to wait for
                raise
            cancelled = exc  # ours: wait on, raise it after
    if cancelled is not None:
        raise cancelled


class AsyncEngine:
    """A Core `Engine` on an async driver, used from coroutines."""

    __slots__ = ("sync_engine",)

    def __init__(self, sync_engine: Engine) -> None:
        self.sync_engine = sync_engine

    @property
    def dialect(self) -> Dialect:
        return self.sync_engine.dialect

    @property
    def url(self) -> URL:
        return self.sync_engine.url

    def connect(self) -> AsyncConnection:
        """A connection from the pool, checked out when its `async with` block starts."""
        return AsyncConnection(self)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction: committed when the block ends, rolled back if it
        raises."""
        async with self.connect() as conn, conn.begin():
            yield conn

    def execution_options(self, **options: Any) -> AsyncEngine:
        """This engine's pool, with `options` on every connection (as `Engine`'s)."""
        return AsyncEngine(self.sync_engine.execution_options(**options))

    def get_execution_options(self) -> Mapping[str, Any]:
        return self.sync_engine.get_execution_options()

    async def dispose(self) -> None:
        """Close the pool's idle connections and drop the pool."""
        await greenlet_spawn(self.sync_engine.dispose)


class AsyncConnection:
    """One pooled connection of an `AsyncEngine`, used in `async with`."""

    __slots__ = ("_sync", "engine")

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sync: Connection | None = None

    async def __aenter__(self) -> AsyncConnection:
        self._sync = await greenlet_spawn(self.engine.sync_engine.connect)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await _run_to_end(self.close())

    async def close(self) -> None:
        """Give the connection back to the pool (rolling back what was not committed)."""
        if self._sync is not None:
            sync, self._sync = self._sync, None
            await greenlet_spawn(sync.close)

    @property
    def sync_connection(self) -> Connection:
        if self._sync is None:
            raise RuntimeError("use the connection inside `async with engine.connect()`")
        return self._sync

    @property
    def dialect(self) -> Dialect:
        return self.engine.dialect

    @overload
    async def execute(
        self,
        statement: TypedReturnsRows[*Ts],
        parameters: Params | None = None,
        *,
        execution_options: Mapping[str, Any] | None = None,
    ) -> CursorResult[*Ts]: ...

    @overload
    async def execute(
        self,
        statement: Executable,
        parameters: Params | None = None,
        *,
        execution_options: Mapping[str, Any] | None = None,
    ) -> CursorResult[*tuple[Any, ...]]: ...

    async def execute(
        self,
        statement: Executable,
        parameters: Params | None = None,
        *,
        execution_options: Mapping[str, Any] | None = None,
    ) -> CursorResult[*tuple[Any, ...]]:
        """`Connection.execute`: a statement with one row of parameters or many (typed by
        what the statement returns, as `Connection.execute` is)."""
        return await greenlet_spawn(
            self.sync_connection.execute,
            statement,
            parameters,
            execution_options=execution_options,
        )

    async def exec_driver_sql(
        self, statement: str, parameters: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> CursorResult[*tuple[Any, ...]]:
        """`Connection.exec_driver_sql`: SQL text in the driver's own paramstyle."""
        return await greenlet_spawn(self.sync_connection.exec_driver_sql, statement, parameters)

    async def run_sync(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Call `fn(connection, ...)` with the synchronous connection (Alembic, reflection)."""
        return await greenlet_spawn(partial(fn, self.sync_connection, *args, **kwargs))

    def begin(self) -> AsyncTransaction:
        """The connection's transaction, for `async with`."""
        return AsyncTransaction(self, nested=False)

    def begin_nested(self) -> AsyncTransaction:
        """A SAVEPOINT inside the current transaction, for `async with`."""
        return AsyncTransaction(self, nested=True)

    async def commit(self) -> None:
        await greenlet_spawn(self.sync_connection.commit)

    async def rollback(self) -> None:
        await greenlet_spawn(self.sync_connection.rollback)


class AsyncTransaction:
    """A transaction or savepoint: committed on a clean exit, rolled back on an exception."""

    __slots__ = ("_conn", "_nested", "_sync")

    def __init__(self, conn: AsyncConnection, *, nested: bool) -> None:
        self._conn = conn
        self._nested = nested
        self._sync: RootTransaction | NestedTransaction | None = None

    async def __aenter__(self) -> AsyncTransaction:
        connection = self._conn.sync_connection
        begin = connection.begin_nested if self._nested else connection.begin
        self._sync = await greenlet_spawn(begin)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._sync is not None
        await greenlet_spawn(self._sync.__exit__, exc_type, exc, traceback)
