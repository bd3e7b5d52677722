"""The leader lease row: who holds it, until when, in which epoch (`leader.py` uses it)."""

from __future__ import annotations

import logging

from sqlalchemy import case, insert, or_, select, update

from bot.watch.db.aio import AsyncEngine
from bot.watch.db.schema import leases

logger = logging.getLogger(__name__)


class Leases:
    """The lease table's part of the `Store`."""

    engine: AsyncEngine

    async def ensure_lease(self, name: str) -> None:
        """Create the lease row if it is missing (nobody holds it)."""
        async with self.engine.begin() as conn:
            found = (await conn.execute(select(leases.c.name).where(leases.c.name == name))).first()
            if found is None:
                try:
                    async with conn.begin_nested():
                        await conn.execute(
                            insert(leases).values(name=name, holder="", expires_at=0.0, epoch=0)
                        )
                except Exception:  # another process created it first
                    logger.debug("lease row already created", extra={"lease": name})

    async def acquire_lease(self, name: str, holder: str, ttl: float, now: float) -> int | None:
        """Take or renew the lease; returns its epoch when `holder` holds it, else None.

        One conditional UPDATE: it succeeds when we already hold the lease or when it
        has expired. PostgreSQL re-checks the condition after the row lock and SQLite
        serialises writers, so two contenders can never both win.
        """
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(leases)
                .where(
                    leases.c.name == name,
                    or_(leases.c.holder == holder, leases.c.expires_at < now),
                )
                .values(
                    holder=holder,
                    expires_at=now + ttl,
                    # a new holder starts a new epoch; a renewal keeps it
                    epoch=case(
                        (leases.c.holder == holder, leases.c.epoch), else_=leases.c.epoch + 1
                    ),
                )
            )
            if result.rowcount != 1:
                return None
            epoch = (
                await conn.execute(select(leases.c.epoch).where(leases.c.name == name))
            ).scalar_one()
            return int(epoch)

    async def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up now (clean shutdown) so another replica takes over at once."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(leases)
                .where(leases.c.name == name, leases.c.holder == holder)
                .values(expires_at=0.0)
            )

    async def lease(self, name: str) -> tuple[str, float, int] | None:
        """(holder, expires_at, epoch) of a lease."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(leases.c.holder, leases.c.expires_at, leases.c.epoch).where(
                        leases.c.name == name
                    )
                )
            ).first()
        return (row[0], row[1], row[2]) if row is not None else None
