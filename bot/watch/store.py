"""The watch store: watches, the outbox of notifications, the leader lease, and the tables
of the care, alerts and approvals features.

SQLAlchemy 2 async Core on SQLite (aiosqlite) or PostgreSQL (psycopg). Each table family
has its own room (`watches`, `outbox`, `lease`, `claims` for idempotent thread posts,
`care_store`, `alert_store`, `approval_store`); `Store` is them over one engine, one per
process, passed in where needed. The shape of the tables is owned by the migrations (`db/`).
"""

from __future__ import annotations

from bot.watch.alert_store import Alerts, QuietWatches, StuckEpisodes
from bot.watch.approval_store import Approvals, HomeUsers
from bot.watch.care_store import Digests, IdleEpisodes, Schedules
from bot.watch.claims import ThreadPosts
from bot.watch.db import database_url, downgrade, make_engine, upgrade
from bot.watch.lease import Leases
from bot.watch.outbox import Outbox
from bot.watch.watches import Watches


class Store(
    Watches,
    Outbox,
    Leases,
    ThreadPosts,
    Schedules,
    IdleEpisodes,
    Digests,
    Alerts,
    StuckEpisodes,
    QuietWatches,
    Approvals,
    HomeUsers,
):
    """Repository over the bot's tables; one per process, passed in where needed."""

    def __init__(self, url: str, *, schema: str | None = None, echo: bool = False) -> None:
        self.schema = schema
        self.engine = make_engine(url, schema=schema, echo=echo)
        self.url = database_url(url)

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    async def create_schema(self) -> None:
        """Migrate the database (and the PostgreSQL schema, when one was given) to head."""
        await upgrade(self.engine)

    async def drop_schema(self) -> None:
        """Drop every table the migrations made (tests and benchmarks clean up with it)."""
        if self.schema is None or self.dialect != "postgresql":
            await downgrade(self.engine)
            return
        async with self.engine.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    async def close(self) -> None:
        """Close the connection pool."""
        await self.engine.dispose()

    async def ping(self) -> None:
        """Raise unless the database answers (readiness probe)."""
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
