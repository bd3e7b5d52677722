"""Watches: which workload each channel follows, and the writes that turn a change of
phase into a notification.

Every write that creates a notification also writes the watch state it follows from, in
one transaction, so a crash neither loses nor doubles a transition. Watch rows carry a
`version` used as a compare-and-set guard: two pollers (an old leader that does not know
it lost the lease, and the new one) cannot both turn the same change into a notification.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, and_, bindparam, case, insert, select, update

from bot.utc import as_utc, utcnow
from bot.watch.alert_store import WatchQuiet, recent_json
from bot.watch.alerts.flapping import (
    Ended,
    Flap,
    flap_card,
    spell_key,
    summary_end,
    summary_words,
)
from bot.watch.db.aio import AsyncEngine
from bot.watch.db.schema import outbox, watches
from bot.watch.diff import Observation, WatchState, WatchUpdate, parent_message
from bot.watch.outbox import FLAP_EDIT, FLAPPING, queued


def new_version() -> int:
    """A fresh compare-and-set stamp for a watch row."""
    return secrets.randbits(62)


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
    # The quiet settings read with the row (`watch --only`, mute, flapping); None when the
    # row was read without them.
    quiet: WatchQuiet | None = field(default=None, compare=False)

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
            phase_updated_at=as_utc(m["phase_updated_at"]),
            reason=m["reason"],
            created_by=m["created_by"],
            created_at=as_utc(m["created_at"]),
            workload_created_at=as_utc(m["workload_created_at"]),
            ready_announced=bool(m["ready_announced"]),
            pending_action=m["pending_action"],
            pending_user=m["pending_user"],
            active=bool(m["active"]),
            version=m["version"],
            quiet=WatchQuiet.from_row(row) if "only_phases" in m else None,
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
class Change:
    """A diff result to persist: the watch it was computed from and what to write."""

    watch: Watch
    update: WatchUpdate
    observation: Observation | None = None
    end_watch: bool = False
    # Quiet threads (`bot.watch.quiet.decide`): "post" the transition, only edit the
    # "parent", post the flapping "summary" or "fold" the change into it (an edit); and
    # the flapping state to store; `ended`: the words of a spell this change ended.
    reply: str = "post"
    flap: Flap | None = None
    summary: str | None = None
    ended: str | None = None


class Watches:
    """The watches table's part of the `Store` (with the outbox rows its writes queue)."""

    engine: AsyncEngine

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

    async def flapping_watches(self) -> list[Watch]:
        """Active watches in a flapping spell (for the check that ends it)."""
        query = select(watches).where(
            watches.c.active.is_(True), watches.c.flapping_since.is_not(None)
        )
        async with self.engine.connect() as conn:
            return [Watch.from_row(row) for row in await conn.execute(query)]

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
                out.setdefault(workload_id, set()).add((phase, as_utc(stamp)))
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

    async def owning_channels(self, workload_id: str) -> list[str]:
        """The channels that own a workload: the one it was created in through the bot
        (first, followed there still or not), then those following it, oldest first."""
        query = (
            select(watches.c.channel, watches.c.reason, watches.c.active)
            .where(watches.c.workload_id == workload_id)
            .order_by(watches.c.created_at, watches.c.channel)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        created = [channel for channel, reason, _ in rows if reason == "create"]
        following = [channel for channel, reason, active in rows if active and reason != "create"]
        return list(dict.fromkeys([*created, *following]))

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
                    **_flap_values(change),
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
            items = [
                item
                for c in changes
                if c.update.transition is not None and (c.watch.workload_id, c.watch.channel) in won
                for item in _items(c, parents[(c.watch.workload_id, c.watch.channel)])
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
            rows = [
                queued(
                    workload_id,
                    channel,
                    w.parent_ts,
                    "unwatch",
                    {"user": user, "parent": w.parent(ended="unwatched")},
                )
            ]
            q = w.quiet
            if q is not None and q.flapping_since is not None and q.summary_posted():
                # The spell's summary says the thread no longer follows it (it would go on
                # saying "flapping" otherwise: nothing edits it after this).
                name = w.name or w.workload_id
                words = summary_words(q.flap())
                edit = summary_end(workload_id, name, words, q.flapping_since, Ended.UNWATCHED)
                rows.append(queued(workload_id, channel, w.parent_ts, FLAP_EDIT, edit))
            await conn.execute(insert(outbox), rows)
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
                        queued(
                            workload_id,
                            w.channel,
                            w.parent_ts,
                            "record",
                            {"action": action, "user": user, "summary": summary},
                        )
                    )
                )
        return len(rows)


def _items(change: Change, parent: dict[str, Any]) -> list[dict[str, Any]]:
    """The outbox rows of a won change: its reply, the flapping summary, an edit of that
    summary, or only the parent edit (a muted or filtered change); after the last edit
    of a spell this change ended, if any."""
    w, transition = change.watch, change.update.transition
    assert transition is not None
    name = parent.get("name") or w.name or w.workload_id
    rows = []
    since = w.quiet.flapping_since if w.quiet is not None else None
    if change.ended is not None and since is not None:
        why = Ended.DELETED if transition.final else Ended.STEADY
        edit = summary_end(w.workload_id, name, change.ended, since, why)
        rows.append(queued(w.workload_id, w.channel, w.parent_ts, FLAP_EDIT, edit))
    if change.reply in ("summary", "fold"):
        card = flap_card(w.workload_id, name, change.summary or "flapping")
        start = _flap_since(change)
        payload = {
            "template": "watch_flapping",
            "context": {"card": card},
            "parent": parent,
            "spell": spell_key(start) if start is not None else None,
        }
        kind = FLAPPING if change.reply == "summary" else FLAP_EDIT
        rows.append(queued(w.workload_id, w.channel, w.parent_ts, kind, payload))
    elif change.reply == "parent":
        rows.append(queued(w.workload_id, w.channel, w.parent_ts, "parent", {"parent": parent}))
    else:
        payload = {"transition": transition.to_json(), "parent": parent}
        rows.append(queued(w.workload_id, w.channel, w.parent_ts, "transition", payload))
    return rows


def _flap_since(change: Change) -> datetime | None:
    """The start of the flapping spell the change leaves the watch in (None: not flapping):
    the stored one, or the first change of the window for a spell that starts now."""
    flap = change.flap
    quiet_ = change.watch.quiet
    since = quiet_.flapping_since if quiet_ is not None else None
    if flap is None:
        return since
    if not flap.flapping:
        return None
    if since is None:
        since = flap.changes[0][0] if flap.changes else utcnow()
    return since


def _flap_values(change: Change) -> dict[str, Any]:
    """The flapping columns of the compare-and-set (left as they are without `flap`)."""
    flap = change.flap
    if flap is None:
        return {"b_flap_set": False, "b_recent": None, "b_flap_since": None, "b_flap_at": None}
    quiet_ = change.watch.quiet
    since = _flap_since(change)
    summary_at = quiet_.flap_summary_at if quiet_ is not None else None
    if since is None:
        summary_at = None  # the spell ended (or none began): the next one has no summary
    if change.reply == "summary":
        summary_at = utcnow()
    return {
        "b_flap_set": True,
        "b_recent": recent_json(flap),
        "b_flap_since": since,
        "b_flap_at": summary_at,
    }


def _flap_column(name: str, param: str, type_: Any) -> Any:
    return case(
        (bindparam("b_flap_set", type_=Boolean) == True, bindparam(param, type_=type_)),  # noqa: E712
        else_=watches.c[name],
    )


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
        recent_changes=_flap_column("recent_changes", "b_recent", JSON),
        flapping_since=_flap_column("flapping_since", "b_flap_since", DateTime(timezone=True)),
        flap_summary_at=_flap_column("flap_summary_at", "b_flap_at", DateTime(timezone=True)),
    )
)
