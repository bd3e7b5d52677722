"""The outbox: notifications waiting for Slack, and their way through delivery.

An item goes pending → sending (claimed: a post may be in flight) → posted (Slack took
the reply; the parent edit is left) → delivered; or failed (Slack refused for good).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, delete, exists, func, select, update

from bot import telemetry
from bot.utc import as_utc, utcnow
from bot.watch.db.aio import AsyncEngine
from bot.watch.db.schema import leases, outbox, watches


class OutboxState(StrEnum):
    """Where an outbox item is on its way to Slack."""

    PENDING = "pending"
    SENDING = "sending"
    POSTED = "posted"
    DELIVERED = "delivered"
    FAILED = "failed"


FLAPPING = "flapping"
"""Kind of a flapping summary (`payload["spell"]` names its spell; its row keeps the
message's ts for the edits)."""

FLAP_EDIT = "flap_edit"
"""Kind of an edit of a flapping summary already posted (`payload["spell"]` names the
spell; `bot/watch/quiet.py` queues it, `bot/watch/notifier.py` edits the message)."""

OPEN_STATES = (OutboxState.PENDING, OutboxState.SENDING, OutboxState.POSTED)
"""States of items not done with yet."""

DONE_STATES = (OutboxState.DELIVERED, OutboxState.FAILED)


@dataclass(frozen=True)
class OutboxItem:
    """One notification waiting for (or done with) Slack."""

    id: int
    workload_id: str
    channel: str
    thread_ts: str
    kind: str
    payload: dict[str, Any]
    state: OutboxState
    attempts: int
    next_attempt_at: float
    claimed_by: str | None
    reply_ts: str | None
    created_at: datetime | None = None
    broadcast: bool = False
    dedupe_key: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> OutboxItem:
        """Build from a result row of `outbox`."""
        m = row._mapping
        return cls(
            id=m["id"],
            workload_id=m["workload_id"],
            channel=m["channel"],
            thread_ts=m["thread_ts"],
            kind=m["kind"],
            payload=dict(m["payload"]),
            state=OutboxState(m["state"]),
            attempts=m["attempts"],
            next_attempt_at=m["next_attempt_at"],
            claimed_by=m["claimed_by"],
            reply_ts=m["reply_ts"],
            created_at=as_utc(m["created_at"]),
            broadcast=bool(m["broadcast"]),
            dedupe_key=m["dedupe_key"],
        )


def queued(
    workload_id: str, channel: str, thread_ts: str, kind: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """The `outbox` row of a new notification, due now."""
    return {
        "workload_id": workload_id,
        "channel": channel,
        "thread_ts": thread_ts,
        "kind": kind,
        "payload": payload,
        "created_at": utcnow(),
        "state": OutboxState.PENDING,
        "attempts": 0,
        "next_attempt_at": 0.0,
    }


class Outbox:
    """The outbox table's part of the `Store`."""

    engine: AsyncEngine

    async def count_open(self) -> int:
        """How many notifications wait in the outbox."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(func.count()).select_from(outbox).where(outbox.c.state.in_(OPEN_STATES))
            )
            return int(result.scalar_one())

    async def open_items(self, limit: int = 1000) -> list[OutboxItem]:
        """Undelivered notifications, oldest first."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(outbox)
                .where(outbox.c.state.in_(OPEN_STATES))
                .order_by(outbox.c.id)
                .limit(limit)
            )
            return [OutboxItem.from_row(row) for row in result]

    async def all_items(self) -> list[OutboxItem]:
        """Every notification ever queued (tests and diagnostics)."""
        async with self.engine.connect() as conn:
            result = await conn.execute(select(outbox).order_by(outbox.c.id))
            return [OutboxItem.from_row(row) for row in result]

    async def flap_summary_ts(self, workload_id: str, channel: str, spell: str) -> str | None:
        """The ts of the flapping summary of `spell` in this thread, once Slack took it
        (None: not posted, refused, or purged)."""
        query = (
            select(outbox.c.payload, outbox.c.reply_ts)
            .where(
                outbox.c.workload_id == workload_id,
                outbox.c.channel == channel,
                outbox.c.kind == FLAPPING,
                outbox.c.reply_ts.is_not(None),
            )
            .order_by(outbox.c.id.desc())
            .limit(50)
        )
        async with self.engine.connect() as conn:
            for payload, reply_ts in await conn.execute(query):
                if dict(payload).get("spell") == spell:
                    return str(reply_ts)
        return None

    async def claim(
        self, ids: Sequence[int], holder: str, lease_name: str, now: float, margin: float
    ) -> bool:
        """Mark items as being sent by `holder`, only while it holds the lease with
        at least `margin` seconds left (fencing: a deposed leader cannot start a post)."""
        async with self.engine.begin() as conn:
            lease = (
                await conn.execute(
                    select(leases.c.holder, leases.c.expires_at)
                    .where(leases.c.name == lease_name)
                    .with_for_update()
                )
            ).first()
            if lease is None or lease[0] != holder or lease[1] < now + margin:
                return False
            result = await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(ids)), outbox.c.state.in_(OPEN_STATES))
                .values(
                    state=OutboxState.SENDING,
                    claimed_by=holder,
                    attempts=outbox.c.attempts + 1,
                )
            )
            return result.rowcount == len(ids)

    async def set_reply_ts(self, ids: Sequence[int], reply_ts: str) -> None:
        """Slack accepted the reply: remember its ts so it is never posted again."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(ids)))
                .values(state=OutboxState.POSTED, reply_ts=reply_ts)
            )

    async def mark_delivered(self, ids: Sequence[int]) -> None:
        """Everything of these items reached Slack."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(ids)))
                .values(state=OutboxState.DELIVERED, delivered_at=utcnow(), last_error=None)
            )
        telemetry.NOTIFICATIONS.labels("delivered").inc(len(ids))

    async def retry_later(
        self,
        ids: Sequence[int],
        next_attempt_at: float,
        error: str,
        *,
        posted: bool,
        keep_sending: bool = False,
    ) -> None:
        """Slack refused for now (429, 5xx, timeout): try again at `next_attempt_at`.

        `keep_sending` leaves the items `sending`: the outcome of the post is unknown
        (timeout), so the next attempt looks for it in the thread first.
        """
        state = (
            OutboxState.POSTED
            if posted
            else OutboxState.SENDING
            if keep_sending
            else OutboxState.PENDING
        )
        async with self.engine.begin() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(ids)))
                .values(
                    state=state,
                    next_attempt_at=next_attempt_at,
                    last_error=error[:500],
                )
            )
        telemetry.NOTIFICATIONS.labels("retried").inc(len(ids))

    async def mark_failed(self, ids: Sequence[int], error: str) -> None:
        """Slack refused for good (channel gone, bot removed): stop trying."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(ids)))
                .values(state=OutboxState.FAILED, last_error=error[:500])
            )
        telemetry.NOTIFICATIONS.labels("failed").inc(len(ids))

    async def purge_delivered(self, older_than: datetime) -> int:
        """Forget delivered notifications older than a date, but a flapping summary while
        its thread is still in a spell: later edits find its message through its row."""
        spell_goes_on = exists().where(
            watches.c.workload_id == outbox.c.workload_id,
            watches.c.channel == outbox.c.channel,
            watches.c.active.is_(True),
            watches.c.flapping_since.is_not(None),
        )
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(outbox).where(
                    outbox.c.state.in_(DONE_STATES),
                    outbox.c.delivered_at < older_than,
                    ~and_(outbox.c.kind == FLAPPING, spell_goes_on),
                )
            )
            return result.rowcount
