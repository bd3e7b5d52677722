"""The care tables' part of the `Store`: schedules and their fires, idle episodes, daily
digests. Each "once" is a key in the database (bot/watch/claims.py): a fire is keyed by
(schedule, scheduled time), a digest by (channel, local day), an idle episode's nudge and
automatic action by compare-and-set on the episode row. The posts that tell the thread go
into the outbox in the same transaction as the claim.

Times are stored in UTC; a caller's aware datetime in another zone is converted first
(SQLite keeps a datetime's wall time only).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, exists, func, insert, select, update

from bot.utc import as_utc
from bot.watch.claims import (
    ThreadPost,
    at_or_now,
    claim_row,
    enqueue_many,
    enqueue_posts,
    insert_new_row,
    insert_once,
    insert_or_skip,
    update_once,
)
from bot.watch.db.aio import AsyncEngine
from bot.watch.db.schema import (
    audit_events,
    digest_posts,
    digests,
    idle_episodes,
    schedule_fires,
    schedules,
    watches,
)
from bot.watch.rows import Record, every, first, where_given


class FireOutcome(StrEnum):
    """How a claimed schedule fire ended."""

    APPLIED = "applied"
    SKIPPED_MISFIRE = "skipped-misfire"
    DENIED = "denied"
    FAILED = "failed"
    ENDED = "ended"  # the schedule ended at this fire (workload deleted)


class ActionOutcome(StrEnum):
    """How an idle episode's automatic action ended."""

    DONE = "done"  # the workload is at min 0
    FAILED = "failed"  # Run:ai refused
    CANCELLED = "cancelled"  # kept, or no longer idle, before the PATCH
    GONE = "gone"  # the workload was deleted


@dataclass(frozen=True)
class NudgeClaim:
    """One episode's nudge for `claim_idle_nudges`."""

    episode_id: int
    auto_action: str | None = None
    auto_action_due_at: datetime | None = None
    posts: Sequence[ThreadPost] = ()


@dataclass(frozen=True)
class Schedule(Record):
    """A scale rule on a cron: at each fire, set the workload's replicas to min..max."""

    id: str
    workload_id: str
    workload_name: str | None
    channel: str
    author: str
    cron: str
    tz: str
    min_replicas: int
    max_replicas: int | None
    created_at: datetime
    ended_at: datetime | None
    ended_reason: str | None
    ended_by: str | None

    @property
    def active(self) -> bool:
        """Still firing."""
        return self.ended_at is None


@dataclass(frozen=True)
class ScheduleFire(Record):
    """One claimed fire of a schedule; `outcome` None while it is being applied."""

    schedule_id: str
    fire_at: datetime
    claimed_by: str
    claimed_at: datetime
    outcome: FireOutcome | None
    detail: str | None
    finished_at: datetime | None


@dataclass(frozen=True)
class IdleEpisode(Record):
    """One idle spell of a workload, from idle until it serves traffic again."""

    id: int
    workload_id: str
    workload_name: str | None
    idle_since: datetime
    opened_at: datetime
    nudged_at: datetime | None
    kept_until: datetime | None
    kept_by: str | None
    auto_action: str | None
    auto_action_due_at: datetime | None
    auto_action_done_at: datetime | None
    ended_at: datetime | None
    ended_reason: str | None
    auto_action_started_at: datetime | None = None
    """Set when a leader started the automatic action (before its PATCH)."""
    auto_action_outcome: str | None = None
    """How the automatic action ended (`ActionOutcome`); None before 0006."""

    @property
    def action_unfinished(self) -> bool:
        """An automatic action started and not done (its leader may have died)."""
        return self.auto_action_started_at is not None and self.auto_action_done_at is None


@dataclass(frozen=True)
class Digest(Record):
    """A channel's daily digest setting."""

    channel: str
    at_time: str
    tz: str
    author: str
    enabled: bool
    updated_at: datetime


def fire_key(fire_at: datetime) -> datetime:
    """A fire time as stored and compared: UTC, whole seconds (a cron time has none, and a
    stray microsecond must not make a second fire)."""
    return as_utc(fire_at).replace(microsecond=0)


@dataclass(frozen=True)
class FireRecord:
    """How a claimed fire ended, for `finish_fires`."""

    schedule_id: str
    fire_at: datetime
    outcome: FireOutcome
    detail: str | None = None
    posts: Sequence[ThreadPost] = ()
    end_reason: str | None = None
    """The schedule ends with this fire (its workload was deleted)."""
    at: datetime | None = None


class Schedules:
    """`schedules` and `schedule_fires`."""

    engine: AsyncEngine

    async def add_schedule(
        self,
        *,
        workload_id: str,
        workload_name: str | None,
        channel: str,
        author: str,
        cron: str,
        tz: str,
        min_replicas: int,
        max_replicas: int | None,
        at: datetime | None = None,
    ) -> Schedule:
        """Store a new schedule under a fresh short id (`s…`)."""
        values = {
            "workload_id": workload_id,
            "workload_name": workload_name,
            "channel": channel,
            "author": author,
            "cron": cron,
            "tz": tz,
            "min_replicas": min_replicas,
            "max_replicas": max_replicas,
            "created_at": at_or_now(at),
        }
        async with self.engine.begin() as conn:
            row = await insert_new_row(conn, schedules, "s", values)
        return Schedule.from_row(row)

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        """One schedule, active or ended."""
        query = select(schedules).where(schedules.c.id == schedule_id)
        return await first(self.engine, query, Schedule.from_row)

    async def list_schedules(
        self,
        *,
        channel: str | None = None,
        workload_id: str | None = None,
        author: str | None = None,
        include_ended: bool = False,
    ) -> list[Schedule]:
        """Schedules, oldest first: all, or a channel's, a workload's, an author's (the
        Home); active only by default."""
        query = select(schedules).order_by(schedules.c.created_at, schedules.c.id)
        query = where_given(
            query,
            (schedules.c.channel, channel),
            (schedules.c.author, author),
            (schedules.c.workload_id, workload_id),
        )
        if not include_ended:
            query = query.where(schedules.c.ended_at.is_(None))
        return await every(self.engine, query, Schedule.from_row)

    async def end_schedule(
        self,
        schedule_id: str,
        reason: str,
        *,
        by: str | None = None,
        at: datetime | None = None,
        posts: Sequence[ThreadPost] = (),
    ) -> bool:
        """End a schedule (removed, workload deleted…); True for the one call that ended it,
        whose `posts` are queued with it."""
        return await update_once(
            self.engine,
            update(schedules)
            .where(schedules.c.id == schedule_id, schedules.c.ended_at.is_(None))
            .values(ended_at=at_or_now(at), ended_reason=reason, ended_by=by),
            posts,
        )

    async def claim_fire(
        self, schedule_id: str, fire_at: datetime, holder: str, *, at: datetime | None = None
    ) -> bool:
        """Take the fire of `schedule_id` at `fire_at` (to the second); True exactly once per
        pair, ever."""
        return await claim_row(
            self.engine,
            schedule_fires,
            {
                "schedule_id": schedule_id,
                "fire_at": fire_key(fire_at),
                "claimed_by": holder,
                "claimed_at": at_or_now(at),
            },
        )

    async def claim_fires(
        self,
        fires: Sequence[tuple[str, datetime]],
        holder: str,
        *,
        at: datetime | None = None,
    ) -> set[tuple[str, datetime]]:
        """`claim_fire` for many (schedule, fire time) pairs in one statement (a hundred
        schedules due on the same second); the pairs this call won, fire times as keyed."""
        if not fires:
            return set()
        claimed_at = at_or_now(at)
        rows = [
            {
                "schedule_id": schedule_id,
                "fire_at": fire_key(fire_at),
                "claimed_by": holder,
                "claimed_at": claimed_at,
            }
            # In key order: two replicas claiming overlapping sets wait, never deadlock.
            for schedule_id, fire_at in sorted(
                dict.fromkeys((sid, fire_key(when)) for sid, when in fires)
            )
        ]
        won: set[tuple[str, datetime]] = set()
        async with self.engine.begin() as conn:
            for chunk in _chunks(rows):
                # The rows that came back went in: only their keys are won.
                result = await conn.execute(
                    insert_or_skip(conn, schedule_fires)
                    .values(chunk)
                    .returning(schedule_fires.c.schedule_id, schedule_fires.c.fire_at)
                )
                won.update((sid, fire_key(when)) for sid, when in result)
        return won

    async def finish_fires(self, records: Sequence[FireRecord]) -> set[tuple[str, datetime]]:
        """`finish_fire` (and, for a fire that ended its schedule, `end_schedule`) for many
        fires in one transaction; the (schedule, fire time) pairs this call recorded, whose
        posts are queued with them."""
        done: set[tuple[str, datetime]] = set()
        posts: list[ThreadPost] = []
        if not records:
            return done
        async with self.engine.begin() as conn:
            for r in records:
                key = fire_key(r.fire_at)
                result = await conn.execute(
                    update(schedule_fires)
                    .where(
                        schedule_fires.c.schedule_id == r.schedule_id,
                        schedule_fires.c.fire_at == key,
                        schedule_fires.c.outcome.is_(None),
                    )
                    .values(outcome=str(r.outcome), detail=r.detail, finished_at=at_or_now(r.at))
                )
                if result.rowcount != 1:
                    continue
                done.add((r.schedule_id, key))
                if r.end_reason is not None:
                    ended = await conn.execute(
                        update(schedules)
                        .where(schedules.c.id == r.schedule_id, schedules.c.ended_at.is_(None))
                        .values(ended_at=at_or_now(r.at), ended_reason=r.end_reason)
                    )
                    if ended.rowcount != 1:
                        continue
                posts.extend(r.posts)
            await enqueue_many(conn, posts)
        return done

    async def schedule_threads(self, schedule_ids: Iterable[str]) -> dict[str, str]:
        """The thread (parent ts) of each schedule's workload in its channel, where the
        channel has one (watch active or not): one query for the fires of a second."""
        found: dict[str, str] = {}
        ids = list(dict.fromkeys(schedule_ids))
        async with self.engine.connect() as conn:
            for chunk in _chunks(ids):
                result = await conn.execute(
                    select(schedules.c.id, watches.c.parent_ts)
                    .join(
                        watches,
                        and_(
                            watches.c.workload_id == schedules.c.workload_id,
                            watches.c.channel == schedules.c.channel,
                        ),
                    )
                    .where(schedules.c.id.in_(chunk))
                )
                found.update((sid, ts) for sid, ts in result if ts)
        return found

    async def finish_fire(
        self,
        schedule_id: str,
        fire_at: datetime,
        outcome: FireOutcome,
        *,
        detail: str | None = None,
        at: datetime | None = None,
        posts: Sequence[ThreadPost] = (),
    ) -> bool:
        """Record how a claimed fire ended (once), queueing its thread `posts` with it."""
        return await update_once(
            self.engine,
            update(schedule_fires)
            .where(
                schedule_fires.c.schedule_id == schedule_id,
                schedule_fires.c.fire_at == fire_key(fire_at),
                schedule_fires.c.outcome.is_(None),
            )
            .values(outcome=str(outcome), detail=detail, finished_at=at_or_now(at)),
            posts,
        )

    async def schedule_fires_of(self, schedule_id: str) -> list[ScheduleFire]:
        """Every claimed fire of a schedule, oldest first."""
        query = (
            select(schedule_fires)
            .where(schedule_fires.c.schedule_id == schedule_id)
            .order_by(schedule_fires.c.fire_at)
        )
        return await every(self.engine, query, ScheduleFire.from_row)

    async def last_fires(self, schedule_ids: Iterable[str] | None = None) -> dict[str, datetime]:
        """The latest claimed fire time of each schedule that has one (misfires on takeover
        are the fire times after it)."""
        query = select(schedule_fires.c.schedule_id, func.max(schedule_fires.c.fire_at)).group_by(
            schedule_fires.c.schedule_id
        )
        if schedule_ids is not None:
            query = query.where(schedule_fires.c.schedule_id.in_(list(schedule_ids)))
        async with self.engine.connect() as conn:
            return {row[0]: as_utc(row[1]) for row in await conn.execute(query)}


class IdleEpisodes:
    """`idle_episodes`: at most one open per workload; one nudge and one automatic action
    per episode; "keep" silences the workload until a time."""

    engine: AsyncEngine

    async def open_idle_episode(
        self,
        workload_id: str,
        idle_since: datetime,
        *,
        workload_name: str | None = None,
        at: datetime | None = None,
    ) -> IdleEpisode:
        """The workload's open episode, opened now (from `idle_since`) if it had none."""
        async with self.engine.begin() as conn:
            await insert_once(
                conn,
                idle_episodes,
                {
                    "workload_id": workload_id,
                    "workload_name": workload_name,
                    "idle_since": as_utc(idle_since),
                    "opened_at": at_or_now(at),
                },
            )
            row = (await conn.execute(_open_episode(workload_id))).one()
        return IdleEpisode.from_row(row)

    async def idle_episode(self, workload_id: str) -> IdleEpisode | None:
        """The workload's open episode, if any."""
        return await first(self.engine, _open_episode(workload_id), IdleEpisode.from_row)

    async def get_idle_episode(self, episode_id: int) -> IdleEpisode | None:
        """One episode by id, open or ended (a button carries the id)."""
        query = select(idle_episodes).where(idle_episodes.c.id == episode_id)
        return await first(self.engine, query, IdleEpisode.from_row)

    async def open_idle_episodes(self) -> list[IdleEpisode]:
        """Every open episode, oldest first."""
        query = (
            select(idle_episodes)
            .where(idle_episodes.c.ended_at.is_(None))
            .order_by(idle_episodes.c.id)
        )
        return await every(self.engine, query, IdleEpisode.from_row)

    async def claim_idle_nudge(
        self,
        episode_id: int,
        *,
        at: datetime | None = None,
        auto_action: str | None = None,
        auto_action_due_at: datetime | None = None,
        posts: Sequence[ThreadPost] = (),
    ) -> bool:
        """Mark the episode nudged (with the automatic action it announces) and queue the
        nudge `posts`; True once per episode, and never while the workload is kept."""
        now = at_or_now(at)
        return await update_once(
            self.engine,
            update(idle_episodes)
            .where(
                idle_episodes.c.id == episode_id,
                idle_episodes.c.nudged_at.is_(None),
                idle_episodes.c.ended_at.is_(None),
                _not_kept(now),
            )
            .values(
                nudged_at=now,
                auto_action=auto_action,
                auto_action_due_at=as_utc(auto_action_due_at),
            ),
            posts,
        )

    async def keep_idle(
        self,
        workload_id: str,
        until: datetime,
        by: str,
        *,
        posts: Sequence[ThreadPost] = (),
    ) -> bool:
        """No nudge nor automatic action for the workload until `until` (set on its latest
        episode); False when it never was idle."""
        async with self.engine.begin() as conn:
            latest = (
                await conn.execute(
                    select(func.max(idle_episodes.c.id)).where(
                        idle_episodes.c.workload_id == workload_id
                    )
                )
            ).scalar_one()
            if latest is None:
                return False
            await conn.execute(
                update(idle_episodes)
                .where(idle_episodes.c.id == latest)
                .values(kept_until=as_utc(until), kept_by=by)
            )
            await enqueue_posts(conn, posts)
        return True

    async def idle_kept_until(self, workload_id: str) -> datetime | None:
        """Until when a Keep silences the workload (None: never kept)."""
        async with self.engine.connect() as conn:
            value: datetime | None = (
                await conn.execute(
                    select(func.max(idle_episodes.c.kept_until)).where(
                        idle_episodes.c.workload_id == workload_id
                    )
                )
            ).scalar_one()
        return as_utc(value)

    async def due_idle_actions(self, now: datetime) -> list[IdleEpisode]:
        """Open episodes whose announced automatic action is due and not done: those not
        started yet unless kept, and every one started and not finished (a leader died
        between its start and its record; the next one finds out how far it got)."""
        now = as_utc(now)
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(idle_episodes)
                .where(
                    idle_episodes.c.ended_at.is_(None),
                    idle_episodes.c.auto_action_due_at <= now,
                    idle_episodes.c.auto_action_done_at.is_(None),
                )
                .order_by(idle_episodes.c.id)
            )
            episodes = [IdleEpisode.from_row(row) for row in result]
        kept = {e.workload_id for e in episodes if e.kept_until is not None and e.kept_until > now}
        return [e for e in episodes if e.action_unfinished or e.workload_id not in kept]

    async def start_idle_action(self, episode_id: int, *, at: datetime | None = None) -> bool:
        """Record the intent of the episode's automatic action before acting: True while it
        is due, not done, not kept and the episode open (a second leader may start it again:
        its PATCH is idempotent, and only one `finish_idle_action` wins)."""
        now = at_or_now(at)
        return await update_once(
            self.engine,
            update(idle_episodes)
            .where(
                idle_episodes.c.id == episode_id,
                idle_episodes.c.ended_at.is_(None),
                idle_episodes.c.auto_action_due_at <= now,
                idle_episodes.c.auto_action_done_at.is_(None),
                _not_kept(now),
            )
            .values(
                auto_action_started_at=func.coalesce(idle_episodes.c.auto_action_started_at, now)
            ),
        )

    async def finish_idle_action(
        self,
        episode_id: int,
        outcome: ActionOutcome,
        *,
        at: datetime | None = None,
        posts: Sequence[ThreadPost] = (),
        audit: Mapping[str, Any] | None = None,
    ) -> bool:
        """Record how the started automatic action ended, and queue its thread `posts` and
        write its `audit` row in the same transaction; True once per episode."""
        return await update_once(
            self.engine,
            update(idle_episodes)
            .where(
                idle_episodes.c.id == episode_id,
                idle_episodes.c.auto_action_started_at.is_not(None),
                idle_episodes.c.auto_action_done_at.is_(None),
            )
            .values(auto_action_done_at=at_or_now(at), auto_action_outcome=str(outcome)),
            posts,
            also=[insert(audit_events).values(**audit)] if audit is not None else (),
        )

    async def open_idle_episodes_for(
        self,
        opening: Mapping[str, tuple[str | None, datetime]],
        *,
        at: datetime | None = None,
    ) -> dict[str, IdleEpisode]:
        """`open_idle_episode` for many workloads (id → name, idle since) in one
        transaction: each one's open episode, opened now if it had none."""
        if not opening:
            return {}
        now = at_or_now(at)
        found: dict[str, IdleEpisode] = {}
        async with self.engine.begin() as conn:
            # The unique index of open episodes lets in only a workload that has none.
            await conn.execute(
                insert_or_skip(conn, idle_episodes),
                [
                    {
                        "workload_id": workload_id,
                        "workload_name": name,
                        "idle_since": as_utc(since),
                        "opened_at": now,
                    }
                    for workload_id, (name, since) in opening.items()
                ],
            )
            for chunk in _chunks(list(opening)):
                result = await conn.execute(
                    select(idle_episodes).where(
                        idle_episodes.c.workload_id.in_(chunk), idle_episodes.c.ended_at.is_(None)
                    )
                )
                found.update((e.workload_id, e) for e in map(IdleEpisode.from_row, result))
        return found

    async def end_idle_episodes(
        self, workload_ids: Iterable[str], *, reason: str, at: datetime | None = None
    ) -> list[str]:
        """End the open episodes of many workloads in one transaction; the workloads whose
        episode this call ended."""
        ended: list[str] = []
        ids = list(workload_ids)
        if not ids:
            return ended
        async with self.engine.begin() as conn:
            for chunk in _chunks(ids):
                result = await conn.execute(
                    update(idle_episodes)
                    .where(
                        idle_episodes.c.workload_id.in_(chunk), idle_episodes.c.ended_at.is_(None)
                    )
                    .values(ended_at=at_or_now(at), ended_reason=reason)
                    .returning(idle_episodes.c.workload_id)
                )
                ended.extend(row[0] for row in result)
        return ended

    async def claim_idle_nudges(
        self, claims: Sequence[NudgeClaim], *, at: datetime | None = None
    ) -> set[int]:
        """`claim_idle_nudge` for many episodes in one transaction (the nudges of a check):
        the episodes this call nudged, whose posts are queued with them."""
        if not claims:
            return set()
        now = at_or_now(at)
        won: set[int] = set()
        groups: dict[tuple[str | None, datetime | None], list[int]] = {}
        for c in claims:
            groups.setdefault((c.auto_action, as_utc(c.auto_action_due_at)), []).append(
                c.episode_id
            )
        async with self.engine.begin() as conn:
            for (action, due_at), ids in groups.items():
                for chunk in _chunks(ids):
                    result = await conn.execute(
                        update(idle_episodes)
                        .where(
                            idle_episodes.c.id.in_(chunk),
                            idle_episodes.c.nudged_at.is_(None),
                            idle_episodes.c.ended_at.is_(None),
                            _not_kept(now),
                        )
                        .values(nudged_at=now, auto_action=action, auto_action_due_at=due_at)
                        .returning(idle_episodes.c.id)
                    )
                    won.update(row[0] for row in result)
            await enqueue_many(conn, [p for c in claims if c.episode_id in won for p in c.posts])
        return won

    async def set_idle_since(self, moves: Mapping[int, datetime]) -> None:
        """Move the start of episodes not nudged yet (episode id → idle since), in one
        statement run over all of them."""
        if not moves:
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                update(idle_episodes)
                .where(
                    idle_episodes.c.id == bindparam("episode"),
                    idle_episodes.c.nudged_at.is_(None),
                    idle_episodes.c.ended_at.is_(None),
                )
                .values(idle_since=bindparam("since")),
                [{"episode": k, "since": as_utc(v)} for k, v in moves.items()],
            )

    async def end_idle_episode(
        self,
        workload_id: str,
        *,
        reason: str = "traffic",
        at: datetime | None = None,
        posts: Sequence[ThreadPost] = (),
    ) -> IdleEpisode | None:
        """End the workload's open episode (it served traffic again, or went away); the
        episode this call ended, or None."""
        async with self.engine.begin() as conn:
            row = (await conn.execute(_open_episode(workload_id))).first()
            if row is None:
                return None
            episode = IdleEpisode.from_row(row)
            result = await conn.execute(
                update(idle_episodes)
                .where(idle_episodes.c.id == episode.id, idle_episodes.c.ended_at.is_(None))
                .values(ended_at=at_or_now(at), ended_reason=reason)
            )
            if result.rowcount != 1:
                return None
            await enqueue_posts(conn, posts)
            row = (
                await conn.execute(select(idle_episodes).where(idle_episodes.c.id == episode.id))
            ).one()
        return IdleEpisode.from_row(row)


def _not_kept(now: datetime) -> ColumnElement[bool]:
    """No episode of the same workload is kept past `now` (a Keep silences the workload,
    whichever of its episodes it was set on)."""
    kept = idle_episodes.alias("kept")
    return ~exists(
        select(kept.c.id).where(
            kept.c.workload_id == idle_episodes.c.workload_id, kept.c.kept_until > now
        )
    )


def _chunks(items: Sequence[Any], size: int = 500) -> list[list[Any]]:
    """`items` in lists of at most `size` (an IN list stays within any driver's limits)."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _open_episode(workload_id: str) -> Any:
    return select(idle_episodes).where(
        and_(idle_episodes.c.workload_id == workload_id, idle_episodes.c.ended_at.is_(None))
    )


class Digests:
    """`digests` (one setting per channel) and `digest_posts` (one post per channel-day)."""

    engine: AsyncEngine

    async def set_digest(
        self, channel: str, at_time: str, tz: str, author: str, *, at: datetime | None = None
    ) -> Digest:
        """Turn the channel's daily digest on at `at_time` (HH:MM) in `tz`."""
        values = {
            "at_time": at_time,
            "tz": tz,
            "author": author,
            "enabled": True,
            "updated_at": at_or_now(at),
        }
        async with self.engine.begin() as conn:
            if not await insert_once(conn, digests, {"channel": channel, **values}):
                await conn.execute(
                    update(digests).where(digests.c.channel == channel).values(values)
                )
            row = (await conn.execute(select(digests).where(digests.c.channel == channel))).one()
        return Digest.from_row(row)

    async def disable_digest(self, channel: str, *, at: datetime | None = None) -> bool:
        """Turn the channel's digest off; False when it was not on."""
        return await update_once(
            self.engine,
            update(digests)
            .where(digests.c.channel == channel, digests.c.enabled.is_(True))
            .values(enabled=False, updated_at=at_or_now(at)),
        )

    async def get_digest(self, channel: str) -> Digest | None:
        """The channel's digest setting, on or off."""
        query = select(digests).where(digests.c.channel == channel)
        return await first(self.engine, query, Digest.from_row)

    async def enabled_digests(self) -> list[Digest]:
        """Every channel's digest that is on."""
        query = select(digests).where(digests.c.enabled.is_(True)).order_by(digests.c.channel)
        return await every(self.engine, query, Digest.from_row)

    async def claim_digest_post(
        self,
        channel: str,
        day: date,
        holder: str,
        *,
        at: datetime | None = None,
        posts: Sequence[ThreadPost] = (),
    ) -> bool:
        """Take the channel's daily digest of `day` (its local date) and queue its message
        (`posts`) in the same transaction; True once per pair. The outbox then delivers it
        exactly once, whichever leader is alive. (`digest now` posts outside this: it is
        not the daily one.)"""
        return await claim_row(
            self.engine,
            digest_posts,
            {"channel": channel, "day": day, "claimed_by": holder, "claimed_at": at_or_now(at)},
            posts,
        )

    async def digest_claimed(self, channel: str, day: date) -> bool:
        """Whether the channel's daily digest of `day` was taken already."""
        query = select(digest_posts.c.channel).where(
            digest_posts.c.channel == channel, digest_posts.c.day == day
        )
        return await first(self.engine, query, lambda row: True) is not None
