"""Approvals and the App Home's bookkeeping: the `Store`'s `approvals` and `home_users`.

An approval is decided once: `decide_approval(id, to, by)` is a compare-and-set from
`pending` (or the given state), so a double press or two approvers at once decide it once,
and an expired request cannot be approved.

Secrets never reach the store (README, "Secrets"; tests/access/test_secrets.py scans every
row of every table). A request keeps only what performing it needs, and the store refuses
one that carries a secret value:
- a literal environment variable value (`environmentVariables[].value`, or `value` in any
  list under a key named like `env`): any env value may be a secret, so none is stored. A
  variable that reads a Kubernetes secret (`secret: {name, key}`) is a reference and may
  stay; so may the names.
- any string under a key that names a credential (`hfToken`, `token`, `password`,
  `clientSecret`, `apiKey`…).
Everything else a spec holds (image, command, args, resources, autoscaling) is stored as
given: the README counts none of it a secret, and a secret passed in `args` belongs in a
Kubernetes secret read through the environment instead.
`strip_secret_values(request)` gives the request without them plus the names it withheld,
for a caller that can perform the action without them (a scale, or an update that keeps
the workload's current env) or to tell the requester which values must come from a
Kubernetes secret instead. `create_approval` raises `SecretInRequest` on anything left.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, bindparam, or_, select, update

from bot.utc import as_utc
from bot.watch.claims import ThreadPost, at_or_now, insert_new_row, insert_once, update_once
from bot.watch.db.aio import AsyncEngine
from bot.watch.db.schema import approvals, home_users, watches
from bot.watch.rows import Record, every, first, where_given

# Keys whose string value is a credential, whatever the nesting (compared without case,
# `_` or `-`).
SECRET_KEY = re.compile(r"(token|password|passwd|secret|apikey|credential|privatekey)$")
ENV_KEY = re.compile(r"(env|environment|environmentvariables|envvars)$")


class SecretInRequest(ValueError):
    """An approval request carries a secret value; it names where, never the value."""

    def __init__(self, paths: Sequence[str]) -> None:
        super().__init__("secret values cannot be stored: " + ", ".join(paths))
        self.paths = tuple(paths)


def _normal(key: str) -> str:
    return key.replace("_", "").replace("-", "").lower()


def secret_paths(value: Any, path: str = "$") -> list[str]:
    """Where `value` (a JSON request) holds a secret value, as JSON paths."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}"
            name = _normal(str(key))
            if SECRET_KEY.search(name) and isinstance(item, str) and item:
                found.append(here)
            elif ENV_KEY.search(name) and isinstance(item, list):
                for n, var in enumerate(item):
                    if isinstance(var, dict) and var.get("value") not in (None, ""):
                        found.append(f"{here}[{n}].value")
                    found.extend(secret_paths(var, f"{here}[{n}]"))
            elif ENV_KEY.search(name) and isinstance(item, dict):
                # {"NAME": "value"}: every value is a literal env value.
                found.extend(f"{here}.{k}" for k, v in item.items() if v not in (None, ""))
            else:
                found.extend(secret_paths(item, here))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            found.extend(secret_paths(item, f"{path}[{n}]"))
    return found


def strip_secret_values(request: Any) -> tuple[Any, list[str]]:
    """`request` without secret values (env values dropped, credentials removed), and the
    names of what was withheld (env variable names, credential keys)."""
    withheld: list[str] = []

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, item in value.items():
                name = _normal(str(key))
                if SECRET_KEY.search(name) and isinstance(item, str) and item:
                    withheld.append(str(key))
                elif ENV_KEY.search(name) and isinstance(item, list):
                    kept = []
                    for var in item:
                        if isinstance(var, dict) and var.get("value") not in (None, ""):
                            withheld.append(str(var.get("name") or "?"))
                            var = {k: v for k, v in var.items() if k != "value"}
                            if set(var) <= {"name", "description"}:
                                continue  # nothing left to set
                        kept.append(strip(var))
                    out[key] = kept
                elif ENV_KEY.search(name) and isinstance(item, dict):
                    withheld.extend(str(k) for k, v in item.items() if v not in (None, ""))
                    out[key] = {k: v for k, v in item.items() if v in (None, "")}
                else:
                    out[key] = strip(item)
            return out
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value

    return strip(request), withheld


class ApprovalState(StrEnum):
    """Where an approval request is."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Approval(Record):
    """A request for an action over a threshold, waiting for (or decided by) an approver."""

    id: str
    channel: str
    requester: str
    action: str
    workload_id: str | None
    workload_name: str | None
    project: str | None
    request: dict[str, Any]
    summary: str
    state: ApprovalState
    created_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    message_channel: str | None
    message_ts: str | None
    performed_at: datetime | None
    outcome: str | None


@dataclass(frozen=True)
class HomeUser(Record):
    """When a user last opened their Home and when it was last published."""

    user_id: str
    last_opened_at: datetime
    last_published_at: datetime | None
    wanted_at: datetime | None


def _may_publish(now: datetime, min_interval: timedelta) -> ColumnElement[bool]:
    """The user's Home was not published in the last `min_interval` (the pacing)."""
    return or_(
        home_users.c.last_published_at.is_(None),
        home_users.c.last_published_at <= now - min_interval,
    )


class Approvals:
    """`approvals`."""

    engine: AsyncEngine

    async def create_approval(
        self,
        *,
        channel: str,
        requester: str,
        action: str,
        workload_id: str | None,
        workload_name: str | None,
        project: str | None,
        request: dict[str, Any],
        summary: str,
        expires_at: datetime,
        at: datetime | None = None,
    ) -> Approval:
        """Store a pending request under a fresh short id (`r…`); raises `SecretInRequest`
        (nothing stored) when `request` carries a secret value."""
        paths = secret_paths(request)
        if paths:
            raise SecretInRequest(paths)
        values = {
            "channel": channel,
            "requester": requester,
            "action": action,
            "workload_id": workload_id,
            "workload_name": workload_name,
            "project": project,
            "request": request,
            "summary": summary,
            "state": ApprovalState.PENDING,
            "created_at": at_or_now(at),
            "expires_at": as_utc(expires_at),
        }
        async with self.engine.begin() as conn:
            row = await insert_new_row(conn, approvals, "r", values)
        return Approval.from_row(row)

    async def get_approval(self, approval_id: str) -> Approval | None:
        """One request, whatever its state."""
        query = select(approvals).where(approvals.c.id == approval_id)
        return await first(self.engine, query, Approval.from_row)

    async def set_approval_message(self, approval_id: str, channel: str, ts: str) -> bool:
        """Remember where the request message is (to edit it when decided)."""
        return await update_once(
            self.engine,
            update(approvals)
            .where(approvals.c.id == approval_id)
            .values(message_channel=channel, message_ts=ts),
        )

    async def pending_approvals(
        self, *, channel: str | None = None, requester: str | None = None
    ) -> list[Approval]:
        """Pending requests, oldest first (expired ones too until `expire_approvals`)."""
        query = (
            select(approvals)
            .where(approvals.c.state == ApprovalState.PENDING)
            .order_by(approvals.c.created_at, approvals.c.id)
        )
        query = where_given(
            query, (approvals.c.channel, channel), (approvals.c.requester, requester)
        )
        return await every(self.engine, query, Approval.from_row)

    async def decide_approval(
        self,
        approval_id: str,
        to_state: ApprovalState,
        by: str,
        *,
        from_state: ApprovalState = ApprovalState.PENDING,
        reason: str | None = None,
        at: datetime | None = None,
        posts: Sequence[ThreadPost] = (),
    ) -> bool:
        """Move a request from `from_state` to `to_state`, once: True for the one call that
        did. Approving or denying needs the request not expired at `at`."""
        now = at_or_now(at)
        query = update(approvals).where(
            approvals.c.id == approval_id, approvals.c.state == from_state
        )
        if to_state in (ApprovalState.APPROVED, ApprovalState.DENIED):
            query = query.where(approvals.c.expires_at > now)
        return await update_once(
            self.engine,
            query.values(state=to_state, decided_by=by, decided_at=now, reason=reason),
            posts,
        )

    async def expire_approvals(self, now: datetime) -> list[Approval]:
        """Expire the pending requests past their time; the ones this call expired."""
        now = as_utc(now)
        async with self.engine.connect() as conn:
            due = [
                row[0]
                for row in await conn.execute(
                    select(approvals.c.id).where(
                        approvals.c.state == ApprovalState.PENDING, approvals.c.expires_at <= now
                    )
                )
            ]
        expired: list[Approval] = []
        for approval_id in due:
            if await self.decide_approval(approval_id, ApprovalState.EXPIRED, "expiry", at=now):
                found = await self.get_approval(approval_id)
                if found is not None:
                    expired.append(found)
        return expired

    async def unfinished_approvals(self, decided_before: datetime) -> list[Approval]:
        """Approved requests not yet performed, decided before `decided_before` (their
        replica died between the decision and `finish_approval`)."""
        query = (
            select(approvals)
            .where(
                approvals.c.state == ApprovalState.APPROVED,
                approvals.c.performed_at.is_(None),
                approvals.c.decided_at <= as_utc(decided_before),
            )
            .order_by(approvals.c.decided_at)
        )
        async with self.engine.connect() as conn:
            return [Approval.from_row(row) for row in await conn.execute(query)]

    async def finish_approval(
        self,
        approval_id: str,
        outcome: str,
        *,
        at: datetime | None = None,
        posts: Sequence[ThreadPost] = (),
    ) -> bool:
        """Record how performing an approved request went (ok | failed | denied), once."""
        return await update_once(
            self.engine,
            update(approvals)
            .where(
                approvals.c.id == approval_id,
                approvals.c.state == ApprovalState.APPROVED,
                approvals.c.performed_at.is_(None),
            )
            .values(performed_at=at_or_now(at), outcome=outcome),
            posts,
        )


# One statement for any number of watches (an executemany).
_HOME_PHASE_SHOWN = (
    update(watches)
    .where(
        watches.c.workload_id == bindparam("b_id"),
        watches.c.last_phase.is_not_distinct_from(bindparam("b_phase")),
    )
    .values(home_phase=bindparam("b_phase"))
)


class HomeUsers:
    """`home_users`: republish a Home at most once per user per interval, and only for
    users who opened it lately."""

    engine: AsyncEngine

    async def home_opened(self, user_id: str, *, at: datetime | None = None) -> None:
        """The user opened their Home (`app_home_opened`)."""
        now = at_or_now(at)
        async with self.engine.begin() as conn:
            if not await insert_once(conn, home_users, {"user_id": user_id, "last_opened_at": now}):
                await conn.execute(
                    update(home_users)
                    .where(home_users.c.user_id == user_id)
                    .values(last_opened_at=now)
                )

    async def home_phase_changes(self) -> dict[str, str | None]:
        """Followed endpoints whose phase moved since the Homes were last asked to show it
        (a new follow included): workload id → its phase now."""
        query = (
            select(watches.c.workload_id, watches.c.last_phase)
            .where(
                watches.c.active.is_(True),
                watches.c.home_phase.is_distinct_from(watches.c.last_phase),
            )
            .distinct()
        )
        async with self.engine.connect() as conn:
            return {row[0]: row[1] for row in await conn.execute(query)}

    async def home_phases_shown(self, phases: dict[str, str | None]) -> None:
        """The Homes were asked to show these phases; a watch whose phase has moved again
        meanwhile is left for the next look."""
        if not phases:
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                _HOME_PHASE_SHOWN,
                [{"b_id": i, "b_phase": phase} for i, phase in sorted(phases.items())],
            )

    async def get_home_user(self, user_id: str) -> HomeUser | None:
        """The user's Home bookkeeping."""
        query = select(home_users).where(home_users.c.user_id == user_id)
        return await first(self.engine, query, HomeUser.from_row)

    async def want_home_publish(
        self,
        user_ids: Iterable[str],
        *,
        at: datetime | None = None,
        opened_within: timedelta = timedelta(days=7),
    ) -> set[str]:
        """Ask for a republish of these users' Homes (those who opened it within
        `opened_within`); the users marked."""
        now = at_or_now(at)
        ids = sorted(set(user_ids))
        if not ids:
            return set()
        recent = (
            home_users.c.user_id.in_(ids),
            home_users.c.last_opened_at >= now - opened_within,
        )
        async with self.engine.begin() as conn:
            await conn.execute(
                update(home_users)
                .where(*recent, home_users.c.wanted_at.is_(None))
                .values(wanted_at=now)
            )
            result = await conn.execute(select(home_users.c.user_id).where(*recent))
            return {row[0] for row in result}

    async def due_home_publishes(
        self, *, at: datetime | None = None, min_interval: timedelta = timedelta(seconds=10)
    ) -> list[str]:
        """Users whose wanted republish may go now (none in the last `min_interval`)."""
        now = at_or_now(at)
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(home_users.c.user_id)
                .where(home_users.c.wanted_at.is_not(None), _may_publish(now, min_interval))
                .order_by(home_users.c.wanted_at)
            )
            return [row[0] for row in result]

    async def claim_home_publish(
        self,
        user_id: str,
        *,
        at: datetime | None = None,
        min_interval: timedelta = timedelta(seconds=10),
        opened_within: timedelta = timedelta(days=7),
    ) -> bool:
        """Take the right to publish the user's Home now: True at most once per
        `min_interval`, and only if they opened it within `opened_within` (clears the
        wanted mark)."""
        now = at_or_now(at)
        return await update_once(
            self.engine,
            update(home_users)
            .where(
                home_users.c.user_id == user_id,
                home_users.c.last_opened_at >= now - opened_within,
                _may_publish(now, min_interval),
            )
            .values(last_published_at=now, wanted_at=None),
        )
