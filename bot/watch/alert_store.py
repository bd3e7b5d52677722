"""The alerts tables' part of the `Store`: metric alert rules and their state, stuck
episodes, and the quiet-thread columns of `watches` (phases followed, mute, flapping).

One fire and one resolve per episode: `alert_state.episode` counts the fires of a rule;
`fire_alert(rule, episode=n)` moves an `ok` rule at episode n-1 to `firing` at n, and
`resolve_alert(rule, episode=n)` moves it back; each is a compare-and-set UPDATE, so of two
evaluators (a deposed leader and the new one, or two replicas) one wins and the other
finds the state already moved. The thread posts go into the outbox in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, select, update

from bot.utc import as_utc
from bot.watch.alerts.flapping import Earlier, Flap
from bot.watch.claims import ThreadPost, at_or_now, claim_row, insert_new_row, update_once
from bot.watch.db.aio import AsyncEngine
from bot.watch.db.schema import alert_rules, alert_state, stuck_episodes, watches
from bot.watch.rows import Record, every, first, where_given

MUTED_FOREVER = datetime(9999, 12, 31, tzinfo=UTC)
"""`muted_until` of a mute without a duration (`mute <name>`)."""


class AlertStatus(StrEnum):
    """Where a rule is."""

    OK = "ok"
    FIRING = "firing"


@dataclass(frozen=True)
class AlertRule(Record):
    """`<metric> <op> <value> for <for_seconds>` on a workload, told in a channel."""

    id: str
    workload_id: str
    workload_name: str | None
    channel: str
    author: str
    metric: str
    op: str
    value: float
    for_seconds: int
    created_at: datetime
    removed_at: datetime | None
    removed_by: str | None


@dataclass(frozen=True)
class AlertState(Record):
    """A rule's state; `episode` is the number of its latest fire (0: never fired)."""

    rule_id: str
    status: AlertStatus
    episode: int
    since: datetime | None
    fired_at: datetime | None
    resolved_at: datetime | None
    snoozed_until: datetime | None
    snoozed_by: str | None
    last_value: float | None
    evaluated_at: datetime | None

    def snoozed(self, now: datetime) -> bool:
        """Whether a snooze holds at `now`."""
        return self.snoozed_until is not None and self.snoozed_until > as_utc(now)

    @classmethod
    def from_row(cls, row: Any, **given: Any) -> AlertState:
        """Build from a result row of `alert_state` (whose `state` column is `status`)."""
        return super().from_row(row, status=AlertStatus(row._mapping["state"]), **given)


@dataclass(frozen=True)
class WatchQuiet(Record):
    """How quiet a channel's thread of a workload is."""

    workload_id: str
    channel: str
    only_phases: frozenset[str] | None
    muted_until: datetime | None
    recent_changes: tuple[datetime, ...]
    flapping_since: datetime | None
    flap_summary_at: datetime | None
    # The phase of each recent change ("" when only its time was kept), same order.
    recent_phases: tuple[str, ...] = ()
    # While flapping: the spell's changes that left the window, counted by phase.
    earlier_changes: Earlier = ()

    def muted(self, now: datetime) -> bool:
        """Whether a mute holds at `now`."""
        return self.muted_until is not None and self.muted_until > as_utc(now)

    def flap(self) -> Flap:
        """The flapping state of the pure logic (`flapping.on_change`)."""
        phases = self.recent_phases or ("",) * len(self.recent_changes)
        return Flap(
            tuple(zip(self.recent_changes, phases, strict=False)),
            self.flapping_since is not None,
            self.earlier_changes,
        )

    def summary_posted(self) -> bool:
        """Whether the current flapping spell's summary was posted (a spell that began in
        a muted thread, or in phases not followed, has none to edit)."""
        return self.flapping_since is not None and self.flap_summary_at is not None

    @classmethod
    def from_row(cls, row: Any, **given: Any) -> WatchQuiet:
        """Build from a result row holding the quiet columns of `watches`."""
        m = row._mapping
        only = m["only_phases"]
        entries = [_recent_entry(e) for e in (m["recent_changes"] or [])]
        recent = [(at, phase) for at, phase, n in entries if n is None]
        return super().from_row(
            row,
            only_phases=frozenset(p for p in only.split(",") if p) if only is not None else None,
            recent_changes=tuple(at for at, _ in recent),
            recent_phases=tuple(phase for _, phase in recent),
            earlier_changes=tuple((at, phase, n) for at, phase, n in entries if n is not None),
            **given,
        )


def _recent_entry(entry: Any) -> tuple[datetime, str, int | None]:
    """A stored recent change: `"<iso>"` (time only) or `["<iso>", "<phase>"]`; or a
    flapping spell's earlier changes into one phase, `["<first iso>", "<phase>", count]`
    (a release that reads only two fields takes it for one change: harmless)."""
    if isinstance(entry, list | tuple):
        count = int(entry[2]) if len(entry) > 2 else None
        return as_utc(datetime.fromisoformat(str(entry[0]))), str(entry[1]), count
    return as_utc(datetime.fromisoformat(str(entry))), "", None


def recent_json(flap: Flap) -> list[list[Any]]:
    """How `recent_changes` stores a flap's changes: `[["<iso>", "<phase>"], ...]`, after
    the spell's earlier changes, `["<first iso>", "<phase>", count]`."""
    earlier: list[list[Any]] = [[as_utc(at).isoformat(), p, n] for at, p, n in flap.earlier]
    return earlier + [[as_utc(at).isoformat(), phase] for at, phase in flap.changes]


def _active_rule(rule_id: str) -> Select[Any]:
    """The rule's id while it is not removed (a subquery: a removed rule's state is frozen)."""
    return select(alert_rules.c.id).where(
        alert_rules.c.id == rule_id, alert_rules.c.removed_at.is_(None)
    )


def _watch(workload_id: str, channel: str) -> ColumnElement[bool]:
    """The `watches` row of this channel's thread of the workload."""
    return and_(watches.c.workload_id == workload_id, watches.c.channel == channel)


QUIET_COLUMNS = (
    watches.c.workload_id,
    watches.c.channel,
    watches.c.only_phases,
    watches.c.muted_until,
    watches.c.recent_changes,
    watches.c.flapping_since,
    watches.c.flap_summary_at,
)


class Alerts:
    """`alert_rules` and `alert_state`."""

    engine: AsyncEngine

    async def add_alert_rule(
        self,
        *,
        workload_id: str,
        workload_name: str | None,
        channel: str,
        author: str,
        metric: str,
        op: str,
        value: float,
        for_seconds: int,
        at: datetime | None = None,
    ) -> AlertRule:
        """Store a rule under a fresh short id (`a…`), in state ok at episode 0."""
        now = at_or_now(at)
        values = {
            "workload_id": workload_id,
            "workload_name": workload_name,
            "channel": channel,
            "author": author,
            "metric": metric,
            "op": op,
            "value": value,
            "for_seconds": for_seconds,
            "created_at": now,
        }
        async with self.engine.begin() as conn:
            row = await insert_new_row(conn, alert_rules, "a", values)
            await conn.execute(
                alert_state.insert().values(rule_id=row.id, state=AlertStatus.OK, episode=0)
            )
        return AlertRule.from_row(row)

    async def get_alert_rule(self, rule_id: str) -> AlertRule | None:
        """One rule, active or removed."""
        query = select(alert_rules).where(alert_rules.c.id == rule_id)
        return await first(self.engine, query, AlertRule.from_row)

    async def list_alert_rules(
        self,
        *,
        channel: str | None = None,
        workload_id: str | None = None,
        author: str | None = None,
        include_removed: bool = False,
    ) -> list[tuple[AlertRule, AlertState]]:
        """Rules with their state, oldest first: all, or a channel's, a workload's, an
        author's (the Home); active only by default."""
        query = (
            select(alert_rules, alert_state)
            .join(alert_state, alert_state.c.rule_id == alert_rules.c.id)
            .order_by(alert_rules.c.created_at, alert_rules.c.id)
        )
        query = where_given(
            query,
            (alert_rules.c.channel, channel),
            (alert_rules.c.workload_id, workload_id),
            (alert_rules.c.author, author),
        )
        if not include_removed:
            query = query.where(alert_rules.c.removed_at.is_(None))
        return await every(
            self.engine, query, lambda row: (AlertRule.from_row(row), AlertState.from_row(row))
        )

    async def alert_state_of(self, rule_id: str) -> AlertState | None:
        """A rule's state."""
        query = select(alert_state).where(alert_state.c.rule_id == rule_id)
        return await first(self.engine, query, AlertState.from_row)

    async def remove_alert_rule(
        self,
        rule_id: str,
        by: str,
        *,
        at: datetime | None = None,
        posts: Sequence[ThreadPost] = (),
    ) -> bool:
        """Remove a rule; True for the one call that removed it."""
        return await update_once(
            self.engine,
            update(alert_rules)
            .where(alert_rules.c.id == rule_id, alert_rules.c.removed_at.is_(None))
            .values(removed_at=at_or_now(at), removed_by=by),
            posts,
        )

    async def fire_alert(
        self,
        rule_id: str,
        episode: int,
        *,
        value: float | None,
        since: datetime,
        at: datetime | None = None,
        posts: Sequence[ThreadPost] = (),
    ) -> bool:
        """Start firing episode `episode` (the state's episode + 1) of an active rule; True
        for the one call that did, whose `posts` are queued with it."""
        now = at_or_now(at)
        return await update_once(
            self.engine,
            update(alert_state)
            .where(
                alert_state.c.rule_id == rule_id,
                alert_state.c.state == AlertStatus.OK,
                alert_state.c.episode == episode - 1,
                alert_state.c.rule_id.in_(_active_rule(rule_id)),
            )
            .values(
                state=AlertStatus.FIRING,
                episode=episode,
                since=as_utc(since),
                fired_at=now,
                resolved_at=None,
                last_value=value,
                evaluated_at=now,
            ),
            posts,
        )

    async def resolve_alert(
        self,
        rule_id: str,
        episode: int,
        *,
        value: float | None = None,
        at: datetime | None = None,
        posts: Sequence[ThreadPost] = (),
    ) -> bool:
        """End firing episode `episode`; True for the one call that did."""
        now = at_or_now(at)
        return await update_once(
            self.engine,
            update(alert_state)
            .where(
                alert_state.c.rule_id == rule_id,
                alert_state.c.state == AlertStatus.FIRING,
                alert_state.c.episode == episode,
            )
            .values(state=AlertStatus.OK, resolved_at=now, last_value=value, evaluated_at=now),
            posts,
        )

    async def snooze_alert(
        self,
        rule_id: str,
        until: datetime,
        by: str,
        *,
        posts: Sequence[ThreadPost] = (),
    ) -> bool:
        """Silence a rule until `until`; False when it is gone (removed or unknown)."""
        return await update_once(
            self.engine,
            update(alert_state)
            .where(alert_state.c.rule_id.in_(_active_rule(rule_id)))
            .values(snoozed_until=as_utc(until), snoozed_by=by),
            posts,
        )

    async def note_alert_values(
        self, values: Mapping[str, float | None], *, at: datetime | None = None
    ) -> None:
        """Remember each rule's latest value (one batched UPDATE; no state change)."""
        if not values:
            return
        now = at_or_now(at)
        async with self.engine.begin() as conn:
            await conn.execute(
                update(alert_state)
                .where(alert_state.c.rule_id == bindparam("b_rule_id"))
                .values(last_value=bindparam("b_value"), evaluated_at=now),
                [{"b_rule_id": k, "b_value": v} for k, v in values.items()],
            )


class StuckEpisodes:
    """`stuck_episodes`: one "stuck" reply per workload, phase and phase start."""

    engine: AsyncEngine

    async def claim_stuck(
        self,
        workload_id: str,
        phase: str,
        phase_since: datetime,
        holder: str,
        *,
        at: datetime | None = None,
        posts: Sequence[ThreadPost] = (),
    ) -> bool:
        """Take the stuck reply of this (workload, phase, phase start); True once, ever."""
        return await claim_row(
            self.engine,
            stuck_episodes,
            {
                "workload_id": workload_id,
                "phase": phase,
                "phase_since": as_utc(phase_since),
                "claimed_by": holder,
                "claimed_at": at_or_now(at),
            },
            posts,
        )


class QuietWatches:
    """The quiet-thread columns of `watches`. None of these writes touches the watch's
    `version`: muting or following fewer phases never makes the poller lose a transition."""

    engine: AsyncEngine

    async def _set_quiet(self, workload_id: str, channel: str, **values: Any) -> bool:
        return await update_once(
            self.engine,
            update(watches)
            .where(_watch(workload_id, channel), watches.c.active.is_(True))
            .values(**values),
        )

    async def set_only_phases(
        self, workload_id: str, channel: str, phases: Iterable[str] | None
    ) -> bool:
        """Follow only `phases` in this channel's thread (None: every phase); False when
        the channel does not watch the workload."""
        only = ",".join(sorted(set(phases))) if phases is not None else None
        return await self._set_quiet(workload_id, channel, only_phases=only)

    async def mute_watch(
        self, workload_id: str, channel: str, until: datetime = MUTED_FOREVER
    ) -> bool:
        """Mute the thread until `until` (default: until unmuted)."""
        return await self._set_quiet(workload_id, channel, muted_until=as_utc(until))

    async def unmute_watch(self, workload_id: str, channel: str) -> bool:
        """Let the thread speak again; False when the channel does not watch the workload."""
        return await self._set_quiet(workload_id, channel, muted_until=None)

    async def reset_quiet(self, workload_id: str, channel: str) -> bool:
        """Every phase, unmuted, not flapping: what a new `watch` of the workload starts
        with (`add_watch` restarts an old row and leaves these columns as they were)."""
        return await self._set_quiet(
            workload_id,
            channel,
            only_phases=None,
            muted_until=None,
            recent_changes=None,
            flapping_since=None,
            flap_summary_at=None,
        )

    async def watch_quiet(self, workload_id: str, channel: str) -> WatchQuiet | None:
        """The quiet settings of one watch (active or not)."""
        query = select(*QUIET_COLUMNS).where(_watch(workload_id, channel))
        return await first(self.engine, query, WatchQuiet.from_row)

    async def quiet_watches(
        self, workload_ids: Iterable[str] | None = None
    ) -> dict[tuple[str, str], WatchQuiet]:
        """Quiet settings of the active watches (of `workload_ids`), by (workload, channel)."""
        query = select(*QUIET_COLUMNS).where(watches.c.active.is_(True))
        rows: list[Any] = []
        async with self.engine.connect() as conn:
            if workload_ids is None:
                rows.extend(await conn.execute(query))
            else:
                ids = list(dict.fromkeys(workload_ids))
                for start in range(0, len(ids), 500):
                    chunk = query.where(watches.c.workload_id.in_(ids[start : start + 500]))
                    rows.extend(await conn.execute(chunk))
        quiet = [WatchQuiet.from_row(row) for row in rows]
        return {(q.workload_id, q.channel): q for q in quiet}

    async def record_phase_change(
        self,
        workload_id: str,
        channel: str,
        at: datetime,
        *,
        keep_after: datetime,
        phase: str = "",
    ) -> tuple[datetime, ...]:
        """Add a phase change (its time, and phase) to the watch's recent changes, forget
        those not after `keep_after`; the recent times, oldest first (empty: no such watch).

        The poller writes the same column in its compare-and-set (`Watches.apply`); this
        is the single-change form."""
        key = _watch(workload_id, channel)
        async with self.engine.begin() as conn:
            row = (await conn.execute(select(*QUIET_COLUMNS).where(key).with_for_update())).first()
            if row is None:
                return ()
            flap = WatchQuiet.from_row(row).flap()
            kept = [(t, p) for t, p in flap.changes if t > as_utc(keep_after)]
            recent = tuple(sorted({*kept, (as_utc(at), phase)}))
            await conn.execute(
                update(watches)
                .where(key)
                .values(recent_changes=recent_json(Flap(recent, flap.flapping, flap.earlier)))
            )
        return tuple(t for t, _ in recent)

    async def claim_flap_summary(
        self,
        workload_id: str,
        channel: str,
        *,
        since: datetime,
        at: datetime | None = None,
        posts: Sequence[ThreadPost] = (),
    ) -> bool:
        """Start a flapping spell (from `since`) with its one summary; True once per spell."""
        return await update_once(
            self.engine,
            update(watches)
            .where(_watch(workload_id, channel), watches.c.flapping_since.is_(None))
            .values(flapping_since=as_utc(since), flap_summary_at=at_or_now(at)),
            posts,
        )

    async def end_flapping(
        self, workload_id: str, channel: str, *, posts: Sequence[ThreadPost] = ()
    ) -> bool:
        """End the flapping spell (after the quiet minutes); True for the call that did.
        The next spell starts without a summary (`WatchQuiet.summary_posted`)."""
        return await update_once(
            self.engine,
            update(watches)
            .where(_watch(workload_id, channel), watches.c.flapping_since.is_not(None))
            .values(flapping_since=None, flap_summary_at=None),
            posts,
        )
