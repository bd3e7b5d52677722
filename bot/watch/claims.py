"""What every "exactly once" of the store is made of: an INSERT that a unique key lets in
once, short ids people type, and thread posts queued in the same transaction as the claim
they follow from (a crash leaves both or neither).

A claim is a row keyed by what must happen once (a schedule's fire, a digest's day, a
stuck phase); the first INSERT wins and every later one, from this process, another
replica or a deposed leader, does nothing. PostgreSQL makes a concurrent second INSERT
wait for the first transaction and then skip (`ON CONFLICT DO NOTHING`); SQLite serialises
writers. State changes (an alert firing, an approval decided) are compare-and-set UPDATEs
on the state they leave, which the second writer finds gone. `claim_row` and
`update_once` are those two shapes, each queueing the winner's posts with its claim.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, Table, Update, select
from sqlalchemy.dialects import postgresql, sqlite

from bot.utc import as_utc, utcnow
from bot.watch.db.aio import AsyncConnection, AsyncEngine
from bot.watch.db.schema import outbox
from bot.watch.outbox import queued

# No 0/o, 1/l/i: ids are read in Slack and typed back.
ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"


def at_or_now(at: datetime | None) -> datetime:
    """The time a claim or change is stamped with: the caller's `at` (in UTC), else now."""
    return as_utc(at) if at is not None else utcnow()


def short_id(prefix: str, length: int = 5) -> str:
    """A short random id such as `s7k2q` (31^5 ≈ 28 million per prefix)."""
    return prefix + "".join(secrets.choice(ID_ALPHABET) for _ in range(length))


def insert_or_skip(conn: AsyncConnection, table: Table) -> Any:
    """An INSERT into `table` that skips every row whose key (primary or unique) exists, in
    the connection's dialect; give it one row with `.values()`, or many as executemany
    parameters (compiled once, whatever their number)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


async def insert_once(conn: AsyncConnection, table: Table, values: Mapping[str, Any]) -> bool:
    """INSERT a row unless one with the same key (primary or unique) exists; True if it did."""
    statement = (
        insert_or_skip(conn, table)
        .values(**values)
        # The row that came back says it went in (rowcount is not reliable here: drivers
        # report -1 for an INSERT that returns the generated key).
        .returning(*table.primary_key.columns)
    )
    result = await conn.execute(statement)
    return result.first() is not None


async def insert_with_short_id(
    conn: AsyncConnection, table: Table, prefix: str, values: Mapping[str, Any]
) -> str:
    """INSERT a row under a fresh short id (drawing again on the rare collision)."""
    for _ in range(20):
        new = short_id(prefix)
        if await insert_once(conn, table, {"id": new, **values}):
            return new
    raise RuntimeError(f"no free id for {table.name}")  # pragma: no cover - 28 M ids


async def insert_new_row(
    conn: AsyncConnection, table: Table, prefix: str, values: Mapping[str, Any]
) -> Any:
    """INSERT a row under a fresh short id and read it back (with its defaults)."""
    new = await insert_with_short_id(conn, table, prefix, values)
    return (await conn.execute(select(table).where(table.c.id == new))).one()


CHANNEL_MESSAGE = ""
"""The `thread_ts` of an outbox post that goes to the channel itself, not a thread."""


@dataclass(frozen=True)
class ThreadPost:
    """A reply to queue in a workload's thread, at most once per `dedupe_key`.

    `kind` and `payload` are what the notifier renders (a payload with `template` and
    `context` is rendered as that template); `broadcast` also shows it in the channel.
    A `thread_ts` of `CHANNEL_MESSAGE` posts in the channel itself (the daily digest).
    """

    workload_id: str
    channel: str
    thread_ts: str
    kind: str
    dedupe_key: str
    payload: dict[str, Any] = field(default_factory=dict)
    broadcast: bool = False

    def row(self) -> dict[str, Any]:
        """The `outbox` row of this post."""
        return {
            **queued(self.workload_id, self.channel, self.thread_ts, self.kind, self.payload),
            "dedupe_key": self.dedupe_key,
            "broadcast": self.broadcast,
        }


async def enqueue_posts(conn: AsyncConnection, posts: Sequence[ThreadPost]) -> int:
    """Queue `posts` in the caller's transaction, skipping keys already queued; how many."""
    return sum([await insert_once(conn, outbox, post.row()) for post in posts])


async def enqueue_many(conn: AsyncConnection, posts: Sequence[ThreadPost]) -> None:
    """`enqueue_posts` for many posts in one statement run over all their rows (a hundred
    nudges of one check), keys already queued skipped; no count (drivers differ)."""
    if not posts:
        return
    await conn.execute(insert_or_skip(conn, outbox), [post.row() for post in posts])


async def claim_row(
    engine: AsyncEngine,
    table: Table,
    values: Mapping[str, Any],
    posts: Sequence[ThreadPost] = (),
) -> bool:
    """INSERT a claim row once (`insert_once`) and, for the call that won, queue `posts` in
    the same transaction; True for that call."""
    async with engine.begin() as conn:
        won = await insert_once(conn, table, values)
        if won:
            await enqueue_posts(conn, posts)
    return won


async def update_once(
    engine: AsyncEngine,
    statement: Update,
    posts: Sequence[ThreadPost] = (),
    *,
    also: Sequence[Executable] = (),
) -> bool:
    """Run a compare-and-set UPDATE; True when it moved exactly one row (the state it
    leaves was still there), and then `posts` are queued and `also` run in the same
    transaction."""
    async with engine.begin() as conn:
        result = await conn.execute(statement)
        if result.rowcount != 1:
            return False
        await enqueue_posts(conn, posts)
        for more in also:
            await conn.execute(more)
    return True


class ThreadPosts:
    """Idempotent thread posts, the `Store`'s way for features to say "post this once"."""

    engine: AsyncEngine

    async def enqueue_thread_post(self, post: ThreadPost) -> bool:
        """Queue a thread reply unless its dedupe key was queued before; True if queued now."""
        async with self.engine.begin() as conn:
            return await enqueue_posts(conn, [post]) == 1

    async def enqueue_thread_posts(self, posts: Sequence[ThreadPost]) -> int:
        """Queue several replies in one transaction; how many were new."""
        async with self.engine.begin() as conn:
            return await enqueue_posts(conn, posts)
