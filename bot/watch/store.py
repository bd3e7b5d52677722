"""The watch store: watches, the outbox of notifications, and the leader lease.

SQLAlchemy 2 async Core on SQLite (aiosqlite) or PostgreSQL (psycopg). Every write that
creates a notification also writes the watch state it follows from, in one transaction,
so a crash neither loses nor doubles a transition. Watch rows carry a `version` used as a
compare-and-set guard: two pollers (an old leader that does not know it lost the lease,
and the new one) cannot both turn the same change into a notification.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    case,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot import telemetry
from bot.watch.diff import Observation, WatchState, WatchUpdate, parent_message

logger = logging.getLogger(__name__)

metadata = MetaData()

watches = Table(
    "watches",
    metadata,
    Column("workload_id", String(64), primary_key=True),
    Column("channel", String(64), primary_key=True),
    Column("parent_ts", String(32), nullable=False),
    Column("name", Text),
    Column("project", Text),
    Column("image", Text),
    Column("replicas", Text),
    Column("url", Text),
    Column("last_phase", String(32), index=True),
    Column("phase_message", Text),
    Column("phase_updated_at", DateTime(timezone=True)),
    Column("reason", String(16), nullable=False),
    Column("created_by", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("workload_created_at", DateTime(timezone=True)),
    Column("ready_announced", Boolean, nullable=False, default=False),
    Column("pending_action", String(16)),
    Column("pending_user", String(64)),
    Column("active", Boolean, nullable=False, default=True, index=True),
    # Compare-and-set guard; every write stamps a fresh random value (not a counter), so
    # a batched UPDATE can find afterwards which rows it won.
    Column("version", BigInteger, nullable=False, default=0, index=True),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workload_id", String(64), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("thread_ts", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # pending → sending (claimed, a post may be in flight) → posted (reply accepted by
    # Slack, parent edit left) → delivered; or failed (Slack refused for good).
    Column("state", String(16), nullable=False, default="pending", index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False, default=0.0),
    Column("claimed_by", String(128)),
    Column("reply_ts", String(32)),
    Column("delivered_at", DateTime(timezone=True)),
    Column("last_error", Text),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False, default=""),
    Column("expires_at", Float, nullable=False, default=0.0),
    Column("epoch", Integer, nullable=False, default=0),
)

OPEN_STATES = ("pending", "sending", "posted")


def database_url(url: str) -> str:
    """Upgrade plain `sqlite://` and `postgresql://` URLs to the async drivers we ship."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.drivername != "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend in ("postgresql", "postgres") and parsed.drivername != "postgresql+psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything in here is UTC.
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Watch:
    """One workload followed in one channel."""

    workload_id: str
    channel: str
    parent_ts: str
    name: str | None
    project: str | None
    image: str | None
    replicas: str | None
    url: str | None
    last_phase: str | None
    phase_message: str | None
    phase_updated_at: datetime | None
    reason: str
    created_by: str | None
    created_at: datetime
    workload_created_at: datetime | None
    ready_announced: bool
    pending_action: str | None
    pending_user: str | None
    active: bool
    version: int

    @classmethod
    def from_row(cls, row: Any) -> Watch:
        """Build from a result row of `watches`."""
        m = row._mapping
        return cls(
            workload_id=m["workload_id"],
            channel=m["channel"],
            parent_ts=m["parent_ts"],
            name=m["name"],
            project=m["project"],
            image=m["image"],
            replicas=m["replicas"],
            url=m["url"],
            last_phase=m["last_phase"],
            phase_message=m["phase_message"],
            phase_updated_at=_utc(m["phase_updated_at"]),
            reason=m["reason"],
            created_by=m["created_by"],
            created_at=_utc(m["created_at"]) or utcnow(),
            workload_created_at=_utc(m["workload_created_at"]),
            ready_announced=bool(m["ready_announced"]),
            pending_action=m["pending_action"],
            pending_user=m["pending_user"],
            active=bool(m["active"]),
            version=m["version"],
        )

    def state(self) -> WatchState:
        """The part of the watch the pure diff needs."""
        return WatchState(
            workload_id=self.workload_id,
            channel=self.channel,
            last_phase=self.last_phase,
            phase_updated_at=self.phase_updated_at,
            reason=self.reason,
            created_at=self.created_at,
            workload_created_at=self.workload_created_at,
            ready_announced=self.ready_announced,
            pending_action=self.pending_action,
            pending_user=self.pending_user,
        )

    def parent(self, ended: str | None = None) -> dict[str, Any]:
        """What the parent message shows (JSON for the outbox)."""
        return parent_message(
            workload_id=self.workload_id,
            name=self.name,
            project=self.project,
            image=self.image,
            replicas=self.replicas,
            url=self.url,
            phase=self.last_phase,
            phase_message=self.phase_message,
            ended=ended,
        )


@dataclass(frozen=True)
class OutboxItem:
    """One notification waiting for (or done with) Slack."""

    id: int
    workload_id: str
    channel: str
    thread_ts: str
    kind: str
    payload: dict[str, Any]
    state: str
    attempts: int
    next_attempt_at: float
    claimed_by: str | None
    reply_ts: str | None
    created_at: datetime | None = None

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
            state=m["state"],
            attempts=m["attempts"],
            next_attempt_at=m["next_attempt_at"],
            claimed_by=m["claimed_by"],
            reply_ts=m["reply_ts"],
            created_at=_utc(m["created_at"]),
        )


@dataclass(frozen=True)
class Change:
    """A diff result to persist: the watch it was computed from and what to write."""

    watch: Watch
    update: WatchUpdate
    observation: Observation | None = None
    end_watch: bool = False


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Store:
    """Repository over the watch tables; one per process, passed in where needed."""

    def __init__(self, url: str, *, schema: str | None = None, echo: bool = False) -> None:
        self.url = database_url(url)
        self.schema = schema
        engine = create_async_engine(self.url, echo=echo, pool_pre_ping=True)
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        if schema is not None:
            engine = engine.execution_options(schema_translate_map={None: schema})
        self.engine: AsyncEngine = engine

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    async def create_schema(self) -> None:
        """Create the tables (and the PostgreSQL schema, when one was given)."""
        async with self.engine.begin() as conn:
            if self.schema is not None and self.dialect == "postgresql":
                await conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            await conn.run_sync(metadata.create_all)

    async def drop_schema(self) -> None:
        """Drop everything this store created (tests and benchmarks clean up with it)."""
        async with self.engine.begin() as conn:
            if self.schema is not None and self.dialect == "postgresql":
                await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            else:
                await conn.run_sync(metadata.drop_all)

    async def close(self) -> None:
        """Close the connection pool."""
        await self.engine.dispose()

    async def ping(self) -> None:
        """Raise unless the database answers (readiness probe)."""
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def count_open(self) -> int:
        """How many notifications wait in the outbox."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(func.count()).select_from(outbox).where(outbox.c.state.in_(OPEN_STATES))
            )
            return int(result.scalar_one())

    # --- watches -----------------------------------------------------------------------

    async def get_watch(self, workload_id: str, channel: str) -> Watch | None:
        """One watch, active or not."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(watches).where(
                        watches.c.workload_id == workload_id, watches.c.channel == channel
                    )
                )
            ).first()
        return Watch.from_row(row) if row is not None else None

    async def add_watch(
        self,
        obs: Observation,
        *,
        channel: str,
        parent_ts: str,
        reason: str,
        user: str | None,
        workload_created_at: datetime | None,
    ) -> Watch:
        """Start (or restart) following a workload in a channel."""
        now = utcnow()
        values: dict[str, Any] = {
            "parent_ts": parent_ts,
            "name": obs.name,
            "project": obs.project,
            "image": obs.image,
            "replicas": obs.replicas,
            "url": obs.urls[0] if obs.urls else None,
            "last_phase": obs.phase,
            "phase_message": obs.phase_message,
            "phase_updated_at": obs.phase_updated_at or workload_created_at or now,
            "reason": reason,
            "created_by": user,
            "created_at": now,
            "workload_created_at": workload_created_at,
            "ready_announced": False,
            "pending_action": "create" if reason == "create" else None,
            "pending_user": user if reason == "create" else None,
            "active": True,
        }
        key = and_(watches.c.workload_id == obs.workload_id, watches.c.channel == channel)
        async with self.engine.begin() as conn:
            found = (await conn.execute(select(watches.c.version).where(key))).first()
            if found is None:
                await conn.execute(
                    insert(watches).values(
                        workload_id=obs.workload_id,
                        channel=channel,
                        version=new_version(),
                        **values,
                    )
                )
            else:
                await conn.execute(
                    update(watches).where(key).values(version=new_version(), **values)
                )
            row = (await conn.execute(select(watches).where(key))).one()
        return Watch.from_row(row)

    async def active_watches(self, workload_ids: Iterable[str] | None = None) -> list[Watch]:
        """Active watches, all of them or only those of the given workloads."""
        query = select(watches).where(watches.c.active.is_(True))
        rows: list[Any] = []
        async with self.engine.connect() as conn:
            if workload_ids is None:
                rows.extend((await conn.execute(query)).all())
            else:
                ids = list(dict.fromkeys(workload_ids))
                for start in range(0, len(ids), 500):
                    chunk = ids[start : start + 500]
                    rows.extend(
                        (await conn.execute(query.where(watches.c.workload_id.in_(chunk)))).all()
                    )
        return [Watch.from_row(row) for row in rows]

    async def watched_ids(self) -> set[str]:
        """Ids of every workload some channel follows."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(watches.c.workload_id).where(watches.c.active.is_(True)).distinct()
            )
            return {row[0] for row in result}

    async def watch_stamps(self) -> dict[str, set[tuple[str | None, datetime | None]]]:
        """(last phase, phaseUpdatedAt) of every active watch, by workload id.

        The reconcile compares these with the full list and loads whole watches only for
        the workloads that differ: three columns are much cheaper than 10,000 rows.
        """
        out: dict[str, set[tuple[str | None, datetime | None]]] = {}
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(
                    watches.c.workload_id, watches.c.last_phase, watches.c.phase_updated_at
                ).where(watches.c.active.is_(True))
            )
            for workload_id, phase, stamp in result:
                out.setdefault(workload_id, set()).add((phase, _utc(stamp)))
        return out

    async def watched_in(self, channel: str) -> set[str]:
        """Ids of the workloads a channel follows."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(watches.c.workload_id).where(
                    watches.c.active.is_(True), watches.c.channel == channel
                )
            )
            return {row[0] for row in result}

    async def transitional_ids(self, phases: Iterable[str]) -> set[str]:
        """Watched workloads currently in one of `phases`."""
        return set(await self.phases_of(phases))

    async def phases_of(self, phases: Iterable[str]) -> dict[str, str]:
        """Watched workloads currently in one of `phases`, with their phase."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(watches.c.workload_id, watches.c.last_phase)
                .where(watches.c.active.is_(True), watches.c.last_phase.in_(list(phases)))
                .distinct()
            )
            return {row[0]: row[1] for row in result}

    async def apply(self, changes: Sequence[Change], lost: set[str] | None = None) -> int:
        """Write watch updates and their notifications in one transaction.

        A change whose watch moved on since it was read (version differs) is skipped:
        someone else already told it (its workload id is added to `lost`). Returns the
        number of notifications written.
        Three statements whatever the number of changes: one batched compare-and-set
        UPDATE stamping a fresh version, one SELECT of the rows carrying that stamp (the
        ones this call won), one batched INSERT into the outbox.
        """
        if not changes:
            return 0
        stamp = new_version()
        rows: list[dict[str, Any]] = []
        parents: dict[tuple[str, str], dict[str, Any]] = {}
        for change in changes:
            w, u, obs = change.watch, change.update, change.observation
            shown: dict[str, Any] = {
                "name": w.name,
                "project": w.project,
                "image": w.image,
                "replicas": w.replicas,
                "url": w.url,
                "phase_message": w.phase_message,
            }
            if obs is not None:
                shown["phase_message"] = obs.phase_message
                for name in ("name", "project", "image", "replicas"):
                    if getattr(obs, name) is not None:
                        shown[name] = getattr(obs, name)
                if obs.urls:
                    shown["url"] = obs.urls[0]
            elif u.transition is not None:
                shown["phase_message"] = u.transition.phase_message
            rows.append(
                {
                    "b_workload_id": w.workload_id,
                    "b_channel": w.channel,
                    "b_old_version": w.version,
                    "b_version": stamp,
                    "b_last_phase": u.last_phase,
                    "b_phase_updated_at": u.phase_updated_at,
                    "b_ready_announced": u.ready_announced,
                    "b_pending_action": u.pending_action,
                    "b_pending_user": u.pending_user,
                    "b_active": not change.end_watch,
                    **{f"b_{k}": v for k, v in shown.items()},
                }
            )
            parent = {**w.parent(), **shown, "phase": u.last_phase}
            if change.end_watch:
                parent["ended"] = "deleted"
            parents[(w.workload_id, w.channel)] = parent
        async with self.engine.begin() as conn:
            await conn.execute(_CAS_UPDATE, rows)
            won = {
                (row[0], row[1])
                for row in await conn.execute(
                    select(watches.c.workload_id, watches.c.channel).where(
                        watches.c.version == stamp
                    )
                )
            }
            now = utcnow()
            items = [
                {
                    "workload_id": c.watch.workload_id,
                    "channel": c.watch.channel,
                    "thread_ts": c.watch.parent_ts,
                    "kind": "transition",
                    "payload": {
                        "transition": c.update.transition.to_json(),
                        "parent": parents[(c.watch.workload_id, c.watch.channel)],
                    },
                    "created_at": now,
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": 0.0,
                }
                for c in changes
                if c.update.transition is not None and (c.watch.workload_id, c.watch.channel) in won
            ]
            if items:
                await conn.execute(insert(outbox), items)
        if lost is not None:
            lost.update(
                c.watch.workload_id
                for c in changes
                if (c.watch.workload_id, c.watch.channel) not in won
            )
        return len(items)

    async def end_watch(self, workload_id: str, channel: str, user: str) -> bool:
        """Stop a watch and queue the "no longer watching" reply; False if none was active."""
        key = and_(watches.c.workload_id == workload_id, watches.c.channel == channel)
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(select(watches).where(key, watches.c.active.is_(True)))
            ).first()
            if row is None:
                return False
            w = Watch.from_row(row)
            result = await conn.execute(
                update(watches)
                .where(key, watches.c.version == w.version)
                .values(active=False, version=new_version())
            )
            if result.rowcount != 1:
                return False
            await conn.execute(
                insert(outbox).values(
                    workload_id=workload_id,
                    channel=channel,
                    thread_ts=w.parent_ts,
                    kind="unwatch",
                    payload={"user": user, "parent": w.parent(ended="unwatched")},
                    created_at=utcnow(),
                    state="pending",
                    attempts=0,
                    next_attempt_at=0.0,
                )
            )
        return True

    async def record_action(
        self, workload_id: str, action: str, user: str, summary: str, *, attribute: bool = True
    ) -> int:
        """Note an action done from Slack in every thread following the workload.

        The next transitions are attributed to `user` until the workload settles (unless
        `attribute` is False: a note such as a policy denial changes nothing).
        """
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(watches).where(
                        watches.c.workload_id == workload_id, watches.c.active.is_(True)
                    )
                )
            ).all()
            for row in rows:
                w = Watch.from_row(row)
                if attribute:
                    await conn.execute(
                        update(watches)
                        .where(
                            watches.c.workload_id == workload_id,
                            watches.c.channel == w.channel,
                        )
                        .values(pending_action=action, pending_user=user, version=new_version())
                    )
                await conn.execute(
                    insert(outbox).values(
                        workload_id=workload_id,
                        channel=w.channel,
                        thread_ts=w.parent_ts,
                        kind="record",
                        payload={"action": action, "user": user, "summary": summary},
                        created_at=utcnow(),
                        state="pending",
                        attempts=0,
                        next_attempt_at=0.0,
                    )
                )
        return len(rows)

    # --- outbox ------------------------------------------------------------------------

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
                .values(state="sending", claimed_by=holder, attempts=outbox.c.attempts + 1)
            )
            return result.rowcount == len(ids)

    async def set_reply_ts(self, ids: Sequence[int], reply_ts: str) -> None:
        """Slack accepted the reply: remember its ts so it is never posted again."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(ids)))
                .values(state="posted", reply_ts=reply_ts)
            )

    async def mark_delivered(self, ids: Sequence[int]) -> None:
        """Everything of these items reached Slack."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(ids)))
                .values(state="delivered", delivered_at=utcnow(), last_error=None)
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
        state = "posted" if posted else "sending" if keep_sending else "pending"
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
                .values(state="failed", last_error=error[:500])
            )
        telemetry.NOTIFICATIONS.labels("failed").inc(len(ids))

    async def purge_delivered(self, older_than: datetime) -> int:
        """Forget delivered notifications older than a date."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(outbox).where(
                    outbox.c.state.in_(("delivered", "failed")),
                    outbox.c.delivered_at < older_than,
                )
            )
            return result.rowcount

    # --- leader lease --------------------------------------------------------------------

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


def new_version() -> int:
    """A fresh compare-and-set stamp for a watch row."""
    return secrets.randbits(62)


_CAS_UPDATE = (
    update(watches)
    .where(
        watches.c.workload_id == bindparam("b_workload_id"),
        watches.c.channel == bindparam("b_channel"),
        watches.c.version == bindparam("b_old_version"),
        watches.c.active.is_(True),
    )
    .values(
        version=bindparam("b_version"),
        last_phase=bindparam("b_last_phase"),
        phase_updated_at=bindparam("b_phase_updated_at"),
        ready_announced=bindparam("b_ready_announced"),
        pending_action=bindparam("b_pending_action"),
        pending_user=bindparam("b_pending_user"),
        active=bindparam("b_active"),
        name=bindparam("b_name"),
        project=bindparam("b_project"),
        image=bindparam("b_image"),
        replicas=bindparam("b_replicas"),
        url=bindparam("b_url"),
        phase_message=bindparam("b_phase_message"),
    )
)
