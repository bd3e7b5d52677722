"""An alert fires once across a SIGKILL: two `python -m bot.watch.worker` replicas on the
real PostgreSQL evaluate a latency rule against the emulator; the leader is killed the
moment the rule is firing; the new leader neither fires it again nor loses the reply,
and resolves it once."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.fakeslack import RunningFakeSlack
from bot.runai import RunaiClient
from bot.watch.alert_store import AlertStatus
from bot.watch.store import Store
from tests.conftest import EmulatorFactory
from tests.e2e.test_threads_replicas import leader_pid, workers_cleanup
from tests.watch.conftest import PG_URL, pg_available
from tests.watch.harness import CHANNEL, USER, front_watcher, spawn_worker, wait_until

pytest_plugins = ["tests.fakes.fixtures"]


@pytest.mark.slow
async def test_an_alert_fires_once_when_the_leader_is_sigkilled_while_firing(
    emulator_factory: EmulatorFactory,
    fake_slack: RunningFakeSlack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (the tests need it)")
    monkeypatch.setenv("ALERT_INTERVAL_SECONDS", "0.5")
    fake = fake_slack.fake
    schema = f"alert_e2e_{uuid.uuid4().hex[:12]}"
    store = Store(PG_URL, schema=schema)
    await store.create_schema()
    try:
        async with emulator_factory(phase_seconds=1.0) as emu:
            # Serving for ten minutes already (its metrics begin when it was created).
            emu.state.clock.advance(-600)
            [wid] = emu.state.seed_workloads(1, name_prefix="svc")
            emu.state.clock.advance(600)
            slack = AsyncWebClient(token="xoxb-test", base_url=fake_slack.api_url)
            async with RunaiClient(emu.url, "test-client", "test-secret") as runai:
                workload = await runai.get_workload(wid)
            ts = await front_watcher(store, slack).watch(
                workload, channel=CHANNEL, user=USER, reason="watch"
            )
            rule = await store.add_alert_rule(
                workload_id=wid,
                workload_name=workload.name,
                channel=CHANNEL,
                author=USER,
                metric="latency",
                op=">",
                value=500,
                for_seconds=60,
            )

            def fires() -> list[str]:
                return [
                    m.ts
                    for m in fake.thread_replies(CHANNEL, ts)
                    if ":rotating_light:" in m.text and rule.id in m.all_text()
                ]

            def resolves() -> list[str]:
                return [m.ts for m in fake.thread_replies(CHANNEL, ts) if "resolved" in m.text]

            async with workers_cleanup() as workers:
                for n in range(2):
                    workers.append(
                        await spawn_worker(
                            tmp_path / f"worker-{n}.log",
                            database_url=PG_URL,
                            emulator_url=emu.url,
                            slack_api_url=fake_slack.api_url,
                            schema=schema,
                        )
                    )

                async def has_leader(excluded: set[int]) -> bool:
                    pid = await leader_pid(store)
                    return pid is not None and pid not in excluded

                await wait_until(lambda: has_leader(set()), 20, "a leader")
                # Latency high since 150 s ago (the emulator's clock stepped back for the
                # setting, then forward again): the rule's minute has passed at once.
                emu.state.clock.advance(-150)
                emu.state.set_traffic(wid, {"latencyMs": 900})
                emu.state.clock.advance(150)

                async def firing() -> bool:
                    state = await store.alert_state_of(rule.id)
                    return state is not None and state.status is AlertStatus.FIRING

                await wait_until(firing, 30, "the rule to fire")
                pid = await leader_pid(store)
                assert pid is not None
                next(w for w in workers if w.pid == pid).kill()
                await wait_until(lambda: has_leader({pid}), 30, "a new leader")

                async def told_once() -> bool:
                    return len(fires()) == 1

                await wait_until(told_once, 30, "the fire reply")
                # The new leader keeps evaluating the firing rule: still one reply.
                state = await store.alert_state_of(rule.id)
                assert state is not None and state.episode == 1
                emu.state.set_traffic(wid, {"latencyMs": 100})

                async def resolved() -> bool:
                    return len(resolves()) == 1

                await wait_until(resolved, 30, "the resolve reply")
                await wait_until(lambda: _delivered(store), 30, "the outbox to drain")
                assert len(fires()) == 1 and len(resolves()) == 1
                state = await store.alert_state_of(rule.id)
                assert state is not None and state.status is AlertStatus.OK
                assert state.episode == 1
    finally:
        await store.drop_schema()
        await store.close()


async def _delivered(store: Store) -> bool:
    return all(i.state == "delivered" for i in await store.all_items())
