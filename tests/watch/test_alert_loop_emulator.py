"""The alert loop against the real emulator over HTTP: one metrics call per endpoint and
evaluation, counted by the emulator itself (`GET /emulator/stats`), and every rule still
fires and resolves once when its route's turn comes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.runai import RunaiClient, models
from bot.slack.alert_cards import WORDS
from bot.watch.alert_loop import AlertLoop
from bot.watch.alert_store import AlertStatus
from bot.watch.diff import Observation
from bot.watch.store import Store
from tests.conftest import TLS, EmulatorFactory, RunningEmulator
from tests.runai.test_client_emulator import creation, poll, unique

INFERENCE_ROUTE = "GET /api/v1/workloads/inferences/{workloadId}/metrics"
WORKLOAD_ROUTE = "GET /api/v1/workloads/{workloadId}/metrics"


class Leading:
    holder = "test"

    def is_leader(self) -> bool:
        return True


async def metrics_calls(emu: RunningEmulator) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=emu.url, verify=TLS) as http:
        calls = (await http.get("/emulator/stats")).json()["calls"]
    return {route: calls.get(route, 0) for route in (INFERENCE_ROUTE, WORKLOAD_ROUTE)}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'alerts.db'}")
    await s.create_schema()
    yield s
    await s.close()


async def test_latency_and_gpu_rules_one_call_per_evaluation_both_fire_and_resolve(
    emulator_factory: EmulatorFactory, store: Store
) -> None:
    async with (
        emulator_factory(phase_seconds=0.05) as emu,
        RunaiClient(emu.url, emu.client_id, emu.client_secret) as runai,
    ):
        created = await runai.create_inference(creation(unique("both")))  # one GPU
        wid = created.workload_id
        await poll(lambda: runai.get_workload(wid), lambda w: w.phase == models.Phase.RUNNING)
        await store.add_watch(
            Observation(workload_id=wid, phase="Running", name="both"),
            channel="C1", parent_ts="1.1", reason="watch", user="U1", workload_created_at=None,
        )  # fmt: skip

        def now() -> datetime:
            return datetime.fromtimestamp(emu.state.clock.now(), UTC)

        rules = {}
        for metric, op, value in (("latency", ">", 500.0), ("gpu", ">", 90.0)):
            rule = await store.add_alert_rule(
                workload_id=wid, workload_name="both", channel="C1", author="U1",
                metric=metric, op=op, value=value, for_seconds=300, at=now(),
            )  # fmt: skip
            rules[metric] = rule.id
        loop = AlertLoop(store, runai, Leading(), words=WORDS, interval=60, clock=now)

        async def evaluate() -> tuple[int, int, dict[str, int]]:
            """One evaluation a minute on: (fired, resolved, metrics calls by route)."""
            emu.state.clock.advance(60)
            before = await metrics_calls(emu)
            stats = await loop.evaluate_once()
            after = await metrics_calls(emu)
            calls = {route: after[route] - before[route] for route in after}
            assert sum(calls.values()) == 1 == stats.metrics_calls  # never two
            return stats.fired, stats.resolved, calls

        emu.state.clock.advance(600)  # ten calm minutes
        routes = []
        for _ in range(2):
            fired, resolved, calls = await evaluate()
            assert (fired, resolved) == (0, 0)
            routes.append(next(r for r, n in calls.items() if n))
        assert sorted(routes) == [INFERENCE_ROUTE, WORKLOAD_ROUTE]  # in turn

        # Both conditions hold from now on, for longer than the rules' 5 minutes.
        emu.state.set_traffic(wid, {"latencyMs": 900, "gpuUtilization": 97})
        outcomes = [await evaluate() for _ in range(8)]
        fires = [n for n, (fired, _, _) in enumerate(outcomes) if fired]
        # Each fires once, in consecutive evaluations (each on its route's turn).
        assert [outcomes[n][0] for n in fires] == [1, 1] and fires[1] == fires[0] + 1
        assert {next(r for r, c in outcomes[n][2].items() if c) for n in fires} == {
            INFERENCE_ROUTE,
            WORKLOAD_ROUTE,
        }
        # Not before `for` has passed: 5 minutes, plus at most one interval of waiting.
        assert 4 <= fires[0] <= 6
        for metric in ("latency", "gpu"):
            state = await store.alert_state_of(rules[metric])
            assert state is not None and state.status is AlertStatus.FIRING
            assert state.episode == 1
        fire_posts = [i for i in await store.all_items() if i.kind == "alert"]
        assert len(fire_posts) == 2

        # Both end: each resolves once, within two evaluations.
        emu.state.set_traffic(wid, {"latencyMs": 50, "gpuUtilization": 20})
        outcomes = [await evaluate() for _ in range(4)]
        assert [resolved for _, resolved, _ in outcomes][:2] == [1, 1]
        assert sum(resolved for _, resolved, _ in outcomes) == 2
        assert sum(fired for fired, _, _ in outcomes) == 0
        templates = [i.payload["template"] for i in await store.all_items() if i.kind == "alert"]
        assert sorted(templates) == ["watch_alert_firing"] * 2 + ["watch_alert_resolved"] * 2
