"""The alert verdict over real metrics: the emulator's traffic control sets the latency,
the plan's one call reads the window, and the rule fires only once `for` has passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.runai import RunaiClient, models
from bot.watch.alert_loop import read_metrics
from bot.watch.alerts.episodes import Episode, Post, step
from bot.watch.alerts.rules import Metric, Op, Rule, Verdict, evaluate_all, plan_metrics, routes_of
from tests.runai.conftest import Emulator
from tests.runai.test_client_emulator import creation, poll, unique

INTERVAL = timedelta(seconds=60)


async def _evaluate(
    client: RunaiClient, emulator: Emulator, wid: str, rules: dict[str, Rule]
) -> dict[str, Verdict]:
    now = datetime.fromtimestamp(emulator.state.clock.now(), UTC)
    measurements: list[models.Measurement] = []
    # Every route's one call here (the alert loop reads one route per evaluation).
    for source in routes_of(rules.values()):
        plan = plan_metrics(rules.values(), now, INTERVAL, source)
        measurements += await read_metrics(client, wid, plan, source)
    return evaluate_all(rules, measurements, now)


async def _states(
    client: RunaiClient, emulator: Emulator, wid: str, rules: dict[str, Rule]
) -> dict[str, str]:
    return {k: v.state for k, v in (await _evaluate(client, emulator, wid, rules)).items()}


async def test_latency_rule_fires_after_its_for_and_resolves(
    client: RunaiClient, emulator: Emulator
) -> None:
    created = await client.create_inference(creation(unique("slow")))
    wid = created.workload_id
    await poll(lambda: client.get_workload(wid), lambda w: w.phase == models.Phase.RUNNING)
    rules = {
        "lat": Rule(Metric.LATENCY, Op.GT, 500, timedelta(minutes=5)),
        "thr": Rule(Metric.THROUGHPUT, Op.LT, 1_000_000, timedelta(minutes=5)),
        "pods": Rule(Metric.REPLICAS, Op.LT, 2, timedelta(minutes=5)),
    }
    emulator.state.clock.advance(600)  # ten calm minutes
    emulator.state.set_traffic(wid, {"latencyMs": 900})
    emulator.state.clock.advance(120)
    assert (await _states(client, emulator, wid, rules))["lat"] == "pending"
    emulator.state.clock.advance(240)
    verdicts = await _states(client, emulator, wid, rules)
    assert verdicts == {"lat": "breaching", "thr": "breaching", "pods": "breaching"}
    stats = await emulator.stats()
    # one call per metrics route for all three rules, at each evaluation
    assert stats["GET /api/v1/workloads/inferences/{workloadId}/metrics"] == 2
    assert stats["GET /api/v1/workloads/{workloadId}/metrics"] == 2
    emulator.state.set_traffic(wid, {"latencyMs": 100})
    emulator.state.clock.advance(60)
    assert (await _states(client, emulator, wid, rules))["lat"] == "clear"


async def test_one_fire_one_resolve_over_real_windows(
    client: RunaiClient, emulator: Emulator
) -> None:
    created = await client.create_inference(creation(unique("episode")))
    wid = created.workload_id
    await poll(lambda: client.get_workload(wid), lambda w: w.phase == models.Phase.RUNNING)
    rule = {"lat": Rule(Metric.LATENCY, Op.GT, 500, timedelta(minutes=2))}
    emulator.state.clock.advance(300)
    emulator.state.set_traffic(wid, {"latencyMs": 800})
    episode, posts = Episode(), []
    for minute in range(8):
        if minute == 5:
            emulator.state.set_traffic(wid, {"latencyMs": 50})
        emulator.state.clock.advance(60)
        now = datetime.fromtimestamp(emulator.state.clock.now(), UTC)
        verdict = (await _evaluate(client, emulator, wid, rule))["lat"]
        episode, post = step(episode, verdict, now)
        posts.append(post)
    assert posts.count(Post.FIRE) == 1 and posts.count(Post.RESOLVE) == 1
    assert posts.index(Post.FIRE) in (1, 2)  # after `for` (2 minutes), not before
    assert episode.since is not None and episode.value is not None and episode.value < 500
