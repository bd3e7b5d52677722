"""The audit trail: one row per create, scale, update, delete, watch, unwatch or denial.

Same database as the watch room (DATABASE_URL is one database), own table; its shape is
owned by the migrations in `bot/watch/db/`. Writing an entry never fails a command: when
the database is away, entries wait in memory (bounded) and are written with the next one
that gets through.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select

from bot.utc import as_utc, utcnow
from bot.watch.care.idle_check import POLICY_USER, AutoScaled
from bot.watch.db import upgrade
from bot.watch.db.aio import AsyncEngine
from bot.watch.db.schema import audit_events

logger = logging.getLogger(__name__)

MAX_PENDING = 1000


@dataclass(frozen=True)
class AuditEntry:
    """One thing a Slack user did or was refused."""

    user_id: str
    channel_id: str | None
    action: str
    workload_id: str | None
    workload_name: str | None
    project: str | None
    summary: str
    outcome: str
    rule: str | None = None
    at: datetime | None = None
    project_id: str | None = None

    @classmethod
    def from_row(cls, r: Any) -> AuditEntry:
        """An entry from a row of `audit_events`."""
        return cls(
            user_id=r.user_id,
            channel_id=r.channel_id,
            action=r.action,
            workload_id=r.workload_id,
            workload_name=r.workload_name,
            project=r.project,
            summary=r.summary,
            outcome=r.outcome,
            rule=r.rule,
            at=as_utc(r.at),
            project_id=r.project_id,
        )


class AuditLog:
    """Writes and reads the audit table through an async engine (shared or own)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._pending: deque[dict[str, object]] = deque(maxlen=MAX_PENDING)
        self._lock = asyncio.Lock()
        self._schema_ready = False

    async def create_schema(self) -> None:
        """Migrate the database to head (the audit table is one of its tables)."""
        await upgrade(self.engine)
        self._schema_ready = True

    @property
    def pending(self) -> int:
        """Entries waiting in memory for the database."""
        return len(self._pending)

    async def add(self, entry: AuditEntry) -> bool:
        """Store an entry; False (kept in memory, logged) when the database is away."""
        row = entry_row(entry)
        async with self._lock:
            self._pending.append(row)
            return await self._flush()

    async def flush(self) -> bool:
        """Write the entries kept in memory; False when the database is still away."""
        async with self._lock:
            return await self._flush()

    async def _flush(self) -> bool:
        if not self._pending:
            return True
        rows = list(self._pending)
        try:
            if not self._schema_ready:
                await self.create_schema()
            async with self.engine.begin() as conn:
                await conn.execute(insert(audit_events), rows)
        except Exception as exc:
            logger.warning(
                "audit entries kept in memory: database unavailable",
                extra={"pending": len(rows), "error": type(exc).__name__},
            )
            return False
        for _ in rows:
            self._pending.popleft()
        return True

    async def purge(self, older_than: datetime) -> int:
        """Delete the entries written before `older_than`; how many went."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(audit_events).where(audit_events.c.at < as_utc(older_than))
            )
        return int(result.rowcount or 0)

    async def trail(
        self,
        *,
        workload_id: str | None = None,
        name: str | None = None,
        limit: int = 20,
    ) -> list[AuditEntry]:
        """The newest entries about a workload (by id, or by name), newest first."""
        await self.flush()
        conditions = []
        if workload_id:
            conditions.append(audit_events.c.workload_id == workload_id)
        if name:
            conditions.append(audit_events.c.workload_name == name)
        if not conditions:
            return []
        query = (
            select(audit_events)
            .where(or_(*conditions))
            .order_by(audit_events.c.at.desc(), audit_events.c.id.desc())
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [AuditEntry.from_row(r) for r in rows]


def entry_row(entry: AuditEntry) -> dict[str, Any]:
    """The `audit_events` row of an entry (stamped now when it has no time)."""
    row = asdict(entry)
    row["at"] = as_utc(entry.at or utcnow())
    row["summary"] = entry.summary[:2000]
    return row


def auto_scaled_row(done: AutoScaled) -> dict[str, Any]:
    """The row of a scale to zero that a binding's `idle:` rule made (user `policy`); the
    idle check writes it in the transaction that records the outcome."""
    return entry_row(
        AuditEntry(
            user_id=POLICY_USER,
            channel_id=None,
            action="scale",
            workload_id=done.workload_id,
            workload_name=done.workload_name,
            project=None,
            project_id=None,
            summary=done.summary,
            outcome=done.outcome,
            rule=done.rule,
        )
    )


# --- what the App Home reads (bot/slack/home.py) --------------------------------------------


async def created_by(log: AuditLog, user: str) -> dict[str, str]:
    """Workloads `user` created through the bot (id → name), newest first."""
    await log.flush()
    query = (
        select(audit_events.c.workload_id, audit_events.c.workload_name)
        .where(
            audit_events.c.user_id == user,
            audit_events.c.action == "create",
            audit_events.c.outcome == "ok",
            audit_events.c.workload_id.is_not(None),
        )
        .order_by(audit_events.c.at.desc())
        .limit(500)
    )
    async with log.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return {str(r[0]): str(r[1] or r[0]) for r in rows}


async def channels_of(log: AuditLog, user: str) -> list[str]:
    """The channels where `user` used the bot (any entry of theirs there)."""
    await log.flush()
    query = (
        select(audit_events.c.channel_id)
        .where(audit_events.c.user_id == user, audit_events.c.channel_id.is_not(None))
        .distinct()
    )
    async with log.engine.connect() as conn:
        return sorted(str(r[0]) for r in (await conn.execute(query)).all())


async def users_concerned(log: AuditLog, *, workload_ids: set[str], channels: set[str]) -> set[str]:
    """Users with an entry about one of `workload_ids` or in one of `channels`."""
    if not workload_ids and not channels:
        return set()
    await log.flush()
    conditions = []
    if workload_ids:
        conditions.append(audit_events.c.workload_id.in_(sorted(workload_ids)))
    if channels:
        conditions.append(audit_events.c.channel_id.in_(sorted(channels)))
    query = select(audit_events.c.user_id).where(or_(*conditions)).distinct()
    async with log.engine.connect() as conn:
        return {str(r[0]) for r in (await conn.execute(query)).all() if r[0] != "bot"}
