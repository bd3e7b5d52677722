"""The idle check over the emulator and a real store: one list call set, one metrics call
per followed idle candidate, one nudge per episode (broadcast in every following
channel), Keep silences, traffic ends the episode, the policy's automatic scale-to-zero.
Clocks are the emulator's: nothing waits for real seconds."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bot.audit import AuditLog, auto_scaled_row
from bot.policy.model import BindingOptions, IdleAction, IdleRule, Policy
from bot.runai import RunaiClient, models
from bot.watch.care import idle
from bot.watch.care.idle_check import IdleCheck
from bot.watch.observe import observe
from bot.watch.outbox import OutboxItem
from bot.watch.store import Store
from tests.conftest import RunningEmulator, running_emulator
from tests.e2e.care_harness import gpu_endpoint


class CountingRunai(RunaiClient):
    """The real client, counting the calls the idle check makes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lists: list[tuple[str, ...]] = []
        self.metrics: list[str] = []

    async def list_workloads(self, **kwargs: Any) -> models.WorkloadPage:  # type: ignore[override]
        self.lists.append(tuple(kwargs.get("filter_by") or ()))
        return await super().list_workloads(**kwargs)

    async def inference_metrics(  # type: ignore[override]
        self, workload_id: str, start: datetime, end: datetime, **kwargs: Any
    ) -> models.MetricsResponse:
        self.metrics.append(workload_id)
        return await super().inference_metrics(workload_id, start, end, **kwargs)

    def reset(self) -> None:
        self.lists.clear()
        self.metrics.clear()


@dataclass
class Care:
    emu: RunningEmulator
    runai: CountingRunai
    store: Store

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.emu.state.now(), UTC)

    def advance(self, seconds: float) -> None:
        self.emu.state.clock.advance(seconds)

    def check(self, **kw: Any) -> IdleCheck:
        kw.setdefault("idle_after", timedelta(seconds=30))
        return IdleCheck(self.store, self.runai, clock=self.now, **kw)

    async def create(self, name: str, gpus: int = 2) -> str:
        autoscaling = models.AutoScaling(
            min_replicas=1, max_replicas=3, metric="concurrency", metric_threshold=4
        )
        created = await self.runai.create_inference(
            gpu_endpoint(name, gpus=gpus, autoscaling=autoscaling)
        )
        assert created.workload_id is not None
        return created.workload_id

    async def idle_endpoint(self, name: str = "my-qwen") -> str:
        """A minute-old endpoint of 2 GPUs, followed in C1, now serving nothing."""
        w = await self.create(name)
        self.advance(60)
        await self.follow(w, "C1")
        self.traffic(w, 0, 0)
        return w

    async def follow(self, workload_id: str, channel: str, ts: str = "1.1") -> None:
        workload = await self.runai.get_workload(workload_id)
        await self.store.add_watch(
            observe(workload),
            channel=channel,
            parent_ts=ts,
            reason="watch",
            user="U1",
            workload_created_at=workload.created_at,
        )

    def traffic(self, workload_id: str, rps: float, gpu: float) -> None:
        self.emu.state.set_traffic(workload_id, {"requestsPerSecond": rps, "gpuUtilization": gpu})

    async def posts(self, kind: str) -> list[OutboxItem]:
        return [i for i in await self.store.all_items() if i.kind == kind]


@contextlib.asynccontextmanager
async def care(tmp_path: Path) -> AsyncIterator[Care]:
    async with running_emulator(phase_seconds=0.1) as emu:
        runai = CountingRunai(emu.url, emu.client_id, emu.client_secret, max_retries=0)
        store = Store(f"sqlite:///{tmp_path / 'care.db'}")
        await store.create_schema()
        async with runai:
            try:
                yield Care(emu, runai, store)
            finally:
                await store.close()


async def test_one_nudge_per_episode_in_every_following_channel(tmp_path: Path) -> None:
    async with care(tmp_path) as c:
        idle_id = await c.create("my-qwen")
        busy_id = await c.create("busy")
        lonely_id = await c.create("nobody-follows")
        c.advance(60)  # all Running
        await c.follow(idle_id, "C1", "1.1")
        await c.follow(idle_id, "C2", "2.2")
        await c.follow(busy_id, "C1", "3.3")
        for w in (idle_id, lonely_id):
            c.traffic(w, 0, 0)
        check = c.check(price=Decimal("2.50"), currency="EUR")

        # Traffic stopped just now: the window still shows what it served before.
        report = await check.run()
        assert report.nudged == () and report.candidates == 1
        assert c.runai.lists == [("idleAllocatedGpus>=0.01",)]
        assert c.runai.metrics == [idle_id]  # not the busy one, not the unfollowed one

        # Quiet for less than a window since its last request: no metrics call.
        c.advance(10)
        c.runai.reset()
        assert (await check.run()).nudged == ()
        assert len(c.runai.lists) == 1 and c.runai.metrics == []

        c.advance(21)
        c.runai.reset()
        report = await check.run()
        assert report.nudged == (idle_id,)
        assert len(c.runai.lists) == 1 and c.runai.metrics == [idle_id]
        nudges = await c.posts("care_idle_nudge")
        assert {(n.channel, n.thread_ts) for n in nudges} == {("C1", "1.1"), ("C2", "2.2")}
        sentence = nudges[0].payload["context"]["n"]["sentence"]
        assert sentence == (
            "my-qwen served no requests in the last 30 s while holding 2 GPUs: "
            "0.02 GPU-hours (0.04 EUR)."
        )

        for _ in range(3):  # still idle: no second nudge in this episode, no metrics call
            c.advance(31)
            c.runai.reset()
            assert (await check.run()).nudged == ()
            assert c.runai.metrics == []
        assert len(await c.posts("care_idle_nudge")) == 2


async def test_traffic_ends_the_episode_and_a_new_one_nudges_again(tmp_path: Path) -> None:
    async with care(tmp_path) as c:
        w = await c.idle_endpoint()
        check = c.check()
        c.advance(31)
        assert (await check.run()).nudged == (w,)
        c.traffic(w, 5, 40)  # serves again: its GPUs are busy, the episode is over
        c.advance(10)
        assert (await check.run()).ended == (w,)
        assert await c.store.idle_episode(w) is None
        c.traffic(w, 0, 0)
        c.advance(31)
        assert (await check.run()).nudged == (w,)
        assert len(await c.posts("care_idle_nudge")) == 2


async def test_keep_silences_until_its_date(tmp_path: Path) -> None:
    async with care(tmp_path) as c:
        w = await c.idle_endpoint()
        check = c.check()
        c.advance(31)
        assert (await check.run()).nudged == (w,)
        await c.store.keep_idle(w, c.now() + timedelta(days=7), "U1")
        c.traffic(w, 5, 40)
        c.advance(10)
        await check.run()
        c.traffic(w, 0, 0)
        c.advance(120)
        assert (await check.run()).nudged == ()  # idle again, but kept
        c.advance(7 * 86400)
        assert (await check.run()).nudged == (w,)  # the Keep ran out


async def test_policy_scales_to_zero_an_hour_after_the_nudge(tmp_path: Path) -> None:
    async with care(tmp_path) as c:
        w = await c.idle_endpoint()
        policy = Policy(
            binding_options={
                "C1": BindingOptions(
                    idle=IdleRule(after=timedelta(seconds=30), action=IdleAction.SCALE_TO_ZERO)
                )
            }
        )
        audit = AuditLog(c.store.engine)
        await audit.create_schema()
        check = c.check(
            idle_after=timedelta(hours=24),
            policy=policy,
            audit_row=auto_scaled_row,
        )
        c.advance(31)
        assert (await check.run()).nudged == (w,)
        nudge = (await c.posts("care_idle_nudge"))[0].payload["context"]["n"]
        assert nudge["auto_note"] == "Scaling to zero in 1 h unless someone presses Keep."
        c.advance(1800)
        assert (await check.run()).acted == ()
        c.advance(1800)
        assert (await check.run()).acted == (w,)
        auto = (await c.runai.get_inference(w)).spec.autoscaling  # type: ignore[union-attr]
        assert auto is not None and auto.min_replicas == 0 and auto.max_replicas == 3
        assert auto.metric == "concurrency"
        notes = await c.posts("care_idle_note")
        assert len(notes) == 1 and "policy" in notes[0].payload["context"]["text"]
        entries = await audit.trail(workload_id=w)
        assert [(e.user_id, e.action, e.outcome) for e in entries] == [("policy", "scale", "ok")]
        c.advance(3600)
        assert (await check.run()).acted == ()  # once


async def test_keep_stops_the_automatic_scale(tmp_path: Path) -> None:
    async with care(tmp_path) as c:
        w = await c.idle_endpoint()
        policy = Policy(
            binding_options={"C1": BindingOptions(idle=IdleRule(action=IdleAction.SCALE_TO_ZERO))}
        )
        check = c.check(policy=policy)
        c.advance(31)
        assert (await check.run()).nudged == (w,)
        await c.store.keep_idle(w, c.now() + timedelta(days=7), "U1")
        c.advance(7200)
        assert (await check.run()).acted == ()
        auto = (await c.runai.get_inference(w)).spec.autoscaling  # type: ignore[union-attr]
        assert auto is not None and auto.min_replicas == 1


async def test_a_check_writes_its_nudges_together_not_one_by_one(tmp_path: Path) -> None:
    # The store work of a check does not grow with its candidates: the episodes opened
    # in one transaction, the nudges (with their broadcast posts) claimed in another.
    async with care(tmp_path) as c:
        ids = [await c.create(f"svc-{n}", gpus=1) for n in range(8)]
        c.advance(60)
        for n, w in enumerate(ids):
            await c.follow(w, f"C{n % 3}", f"{n}.1")
            c.traffic(w, 0, 0)
        check = c.check()
        c.advance(31)
        commits = [0]

        def committed(_conn: object) -> None:
            commits[0] += 1

        event.listen(c.store.engine.sync_engine, "commit", committed)
        report = await check.run()
        assert sorted(report.nudged) == sorted(ids) and c.runai.metrics == ids
        assert commits[0] <= 3, commits[0]
        nudges = await c.posts("care_idle_nudge")
        assert sorted((n.workload_id, n.thread_ts) for n in nudges) == sorted(
            (w, f"{n}.1") for n, w in enumerate(ids)
        )
        assert all(n.broadcast for n in nudges)
        c.advance(31)
        assert (await check.run()).nudged == ()


async def auto_scaling_scene(c: Care) -> tuple[str, IdleCheck, AuditLog]:
    """An idle workload nudged by a policy that scales to zero; its action is due."""
    w = await c.create("my-qwen")
    c.advance(60)
    await c.follow(w, "C1")
    c.traffic(w, 0, 0)
    policy = Policy(
        binding_options={"C1": BindingOptions(idle=IdleRule(action=IdleAction.SCALE_TO_ZERO))}
    )
    audit = AuditLog(c.store.engine)
    await audit.create_schema()
    check = c.check(policy=policy, audit_row=auto_scaled_row)
    c.advance(31)
    assert (await check.run()).nudged == (w,)
    c.advance(3600)
    return w, check, audit


async def min_replicas(c: Care, w: str) -> int | None:
    auto = (await c.runai.get_inference(w)).spec.autoscaling  # type: ignore[union-attr]
    return auto.min_replicas if auto is not None else None


async def test_a_started_scale_to_zero_whose_leader_died_is_finished_once(
    tmp_path: Path,
) -> None:
    async with care(tmp_path) as c:
        w, check, audit = await auto_scaling_scene(c)
        episode = await c.store.idle_episode(w)
        assert episode is not None
        # The leader recorded its intent and died before its PATCH.
        assert await c.store.start_idle_action(episode.id, at=c.now())
        assert await min_replicas(c, w) == 1
        # The next leader's check finds it unfinished, sees it still idle and unkept.
        assert (await check.run()).acted == (w,)
        assert await min_replicas(c, w) == 0
        notes = await c.posts("care_idle_note")
        assert [n.payload["context"]["text"] for n in notes] == [
            "Scaled my-qwen to zero, as this channel's policy says for an idle endpoint "
            "(nobody pressed Keep)."
        ]
        assert [(e.user_id, e.outcome) for e in await audit.trail(workload_id=w)] == [
            ("policy", "ok")
        ]
        c.advance(60)
        assert (await check.run()).acted == ()
        assert len(await c.posts("care_idle_note")) == 1


async def test_a_scale_to_zero_that_landed_before_its_leader_died_is_recorded(
    tmp_path: Path,
) -> None:
    async with care(tmp_path) as c:
        w, check, audit = await auto_scaling_scene(c)
        episode = await c.store.idle_episode(w)
        assert episode is not None
        # The leader started, PATCHed, and died before recording it: its GPUs no
        # longer show idle in the list (the emulator keeps one replica up at min 0).
        assert await c.store.start_idle_action(episode.id, at=c.now())
        current = (await c.runai.get_inference(w)).spec
        assert current is not None
        await c.runai.update_inference(
            w,
            models.InferenceUpdateRequest(
                spec=models.InferenceUpdateSpec(autoscaling=idle.scale_to_zero(current.autoscaling))
            ),
        )
        c.traffic(w, 0, 50)
        c.advance(120)
        c.runai.reset()
        report = await check.run()
        # Not ended as "busy" by the released GPUs first: recorded done, said once.
        assert report.acted == (w,) and report.ended == ()
        notes = await c.posts("care_idle_note")
        assert len(notes) == 1 and notes[0].payload["context"]["text"].startswith("Scaled my-qwen")
        assert [(e.user_id, e.outcome) for e in await audit.trail(workload_id=w)] == [
            ("policy", "ok")
        ]
        done = await c.store.get_idle_episode(episode.id)
        assert done is not None and done.auto_action_outcome == "done"
        # Then the episode ends as any whose GPUs are no longer idle.
        assert (await check.run()).ended == (w,)


async def test_a_keep_pressed_after_the_start_stops_the_unfinished_scale(
    tmp_path: Path,
) -> None:
    async with care(tmp_path) as c:
        w, check, _audit = await auto_scaling_scene(c)
        episode = await c.store.idle_episode(w)
        assert episode is not None
        assert await c.store.start_idle_action(episode.id, at=c.now())
        await c.store.keep_idle(w, c.now() + timedelta(days=7), "U1")
        assert (await check.run()).acted == ()
        assert await min_replicas(c, w) == 1
        assert await c.posts("care_idle_note") == []
        done = await c.store.get_idle_episode(episode.id)
        assert done is not None and done.auto_action_outcome == "cancelled"
