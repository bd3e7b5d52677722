"""What a user's Home shows: the Needs attention rules (Failed, Degraded, alerting, stuck,
idle), the policy's read rights, Yours from the audit trail, owned schedules and alerts;
and the publisher's once-per-interval claim. Real store and audit log (SQLite), the real
gate; Run:ai's list is given."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.access.gate import Gate
from bot.audit import AuditEntry, AuditLog
from bot.policy import parse_policy
from bot.runai import models
from bot.slack.home import HomeDesk, build_home
from bot.watch.store import Store

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
USER = "U0001"
OTHER = "U0002"
POLICY = parse_policy(
    """
projects:
  team-a: {read: ["*"]}
default: {read: [U0009]}
"""
)


def _w(wid: str, phase: str, project: tuple[str, str] = ("1", "team-a"), **kw: Any) -> Any:
    return models.Workload(
        id=wid,
        name=wid,
        type="inference",
        phase=phase,
        project_id=project[0],
        project_name=project[1],
        phase_updated_at=kw.pop("since", NOW - timedelta(minutes=1)),
        **kw,
    )


class ListedRunai:
    """Run:ai's workload list, as given."""

    def __init__(self, workloads: list[models.Workload]) -> None:
        self.workloads = workloads

    async def list_workloads(self, **_: Any) -> models.WorkloadPage:
        return models.WorkloadPage(workloads=self.workloads)


class Recorder:
    """A Web API client that records views.publish."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []

    async def views_publish(self, *, user_id: str, view: dict[str, Any]) -> dict[str, Any]:
        self.published.append((user_id, view))
        return {"ok": True}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'home.db'}")
    await s.create_schema()
    yield s
    await s.close()


async def _desk(store: Store, slack: Any = None) -> tuple[HomeDesk, AuditLog]:
    workloads = [
        _w("w-failed", "Failed", phase_message="CrashLoopBackOff"),
        _w("w-degraded", "Degraded"),
        _w("w-alerting", "Running"),
        _w("w-stuck", "Pending", since=NOW - timedelta(hours=1)),
        _w("w-pending-new", "Pending"),
        _w("w-idle", "Running"),
        _w("w-mine", "Running"),
        _w("w-hidden", "Failed", project=("2", "team-b")),
        _w("w-deleted", "Failed", deleted_at=NOW),
    ]
    audit = AuditLog(store.engine)
    await audit.add(
        AuditEntry(USER, "C1", "create", "w-mine", "w-mine", "team-a", "create w-mine", "ok")
    )
    await store.open_idle_episode("w-idle", NOW - timedelta(days=2), workload_name="w-idle")
    rule = await store.add_alert_rule(
        workload_id="w-alerting", workload_name="w-alerting", channel="C1", author=USER,
        metric="latency", op=">", value=500, for_seconds=300, at=NOW,
    )  # fmt: skip
    assert await store.fire_alert(rule.id, 1, value=612, since=NOW, at=NOW)
    await store.add_schedule(
        workload_id="w-mine", workload_name="w-mine", channel="C1", author=USER,
        cron="0 9 * * 1-5", tz="Europe/Berlin", min_replicas=1, max_replicas=2, at=NOW,
    )  # fmt: skip
    desk = HomeDesk(
        store,
        ListedRunai(workloads),  # type: ignore[arg-type]
        Gate(POLICY, None, None).may_read,
        audit,
        slack or Recorder(),
        clock=lambda: NOW,
    )
    return desk, audit


async def test_needs_attention_yours_and_what_the_user_owns(store: Store) -> None:
    desk, _ = await _desk(store)
    data = await desk.data_for(USER)
    why = {r.name: r.why for r in data.attention}
    assert why == {
        "w-failed": "CrashLoopBackOff",
        "w-degraded": "Degraded",
        "w-alerting": "alert: latency > 500",
        "w-stuck": "stuck in Pending for 60m",
        "w-idle": "idle",
    }
    assert [r.name for r in data.yours] == ["w-mine"]
    assert [s.text for s in data.schedules] == [
        "w-mine: 0 9 * * 1-5 (Europe/Berlin) → 1-2 replicas"
    ]
    assert len(data.alerts) == 1 and "latency > 500" in data.alerts[0].text
    # Most urgent first on the Home: Failed, Degraded, alerting, stuck, idle.
    view = build_home(data)
    text = str(view["blocks"])
    order = [text.index(n) for n in ("w-failed", "w-degraded", "w-alerting", "w-stuck", "w-idle")]
    assert order == sorted(order)


async def test_only_what_the_user_may_read(store: Store) -> None:
    desk, _ = await _desk(store)
    names = {r.name for r in (await desk.data_for(USER)).attention}
    assert "w-hidden" not in names and "w-deleted" not in names
    reader = {r.name for r in (await desk.data_for("U0009")).attention}
    assert "w-hidden" in reader


async def test_republished_at_most_once_per_interval_and_only_for_recent_visitors(
    store: Store,
) -> None:
    slack = Recorder()
    desk, _ = await _desk(store, slack)
    await desk.opened(USER)
    assert [u for u, _ in slack.published] == [USER]
    desk.want([USER, "U0NEVER"])  # U0NEVER never opened their Home
    await _settle(desk)
    assert await desk.tick() == 0  # within the interval of the open
    desk.clock = lambda: NOW + timedelta(seconds=11)
    assert await desk.tick() == 1
    assert await desk.tick() == 0  # nothing wanted any more
    assert [u for u, _ in slack.published] == [USER, USER]
    # Opened 8 days ago: no more republishing.
    desk.clock = lambda: NOW + timedelta(days=8)
    desk.want([USER])
    await _settle(desk)
    assert await desk.tick() == 0


async def _settle(desk: HomeDesk) -> None:
    for _ in range(50):
        if not desk._tasks:
            return
        await asyncio.sleep(0.01)


async def test_a_new_follow_and_a_phase_change_republish_the_homes_they_concern_once(
    store: Store,
) -> None:
    # A watch new since the last look may have moved since its follow; a phase change
    # moves what the Home shows: both republish the Homes of the users they concern, once.
    # A new lease holder (a takeover) republishes only what moved while nobody looked, not
    # every recent Home.
    from bot.watch.diff import diff
    from bot.watch.watches import Change
    from tests.watch.test_store import obs

    slack = Recorder()
    desk, _ = await _desk(store, slack)
    await desk.opened(USER)
    await desk.opened(OTHER)
    for wid, user, ts in (("w-failed", USER, "1.1"), ("w-degraded", OTHER, "2.2")):
        await store.add_watch(
            obs("Running", wid), channel=f"C-{user}", parent_ts=ts, reason="watch", user=user,
            workload_created_at=None,
        )  # fmt: skip
    t = NOW + timedelta(seconds=11)
    desk.clock = lambda: t
    assert await desk.tick() == 2  # the new follows: both Homes
    await _settle(desk)
    assert await desk.tick() == 0  # a look with nothing new

    # The lease moves to another replica: its first look finds nothing new to show.
    successor, _ = await _desk(store, slack)
    t += timedelta(seconds=11)
    successor.clock = lambda: t
    assert await successor.tick() == 0

    # w-failed moves while nobody leads; the next holder republishes its user's Home only.
    [watch] = await store.active_watches(["w-failed"])
    moved = diff(watch.state(), obs("Failed", "w-failed", second=30), NOW)
    assert moved is not None
    await store.apply([Change(watch, moved)])
    after, _ = await _desk(store, slack)
    t += timedelta(seconds=11)
    after.clock = lambda: t
    assert await after.tick() == 1
    await _settle(after)
    assert await after.tick() == 0
    assert sorted(u for u, _ in slack.published) == sorted([USER, OTHER, USER, OTHER, USER])
    assert [u for u, _ in slack.published][-1] == USER
