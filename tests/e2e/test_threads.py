"""A workload's life told in one Slack thread: emulator + fake Slack over HTTP, watch room
driven through the Run:ai client and `Watcher` (the Slack app's calls)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bot.fakeslack import RunningFakeSlack
from tests.conftest import EmulatorFactory
from tests.watch.harness import (
    CHANNEL,
    USER,
    Room,
    inference_request,
    mentions,
    replies,
    transition_paths,
    wait_until,
    watch_room,
)

pytest_plugins = ["tests.fakes.fixtures"]


async def test_create_to_delete_story(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    fake = fake_slack.fake
    async with (
        emulator_factory(phase_seconds=1.0) as emu,
        watch_room(f"sqlite:///{tmp_path / 'w.db'}", emu.url, fake_slack.api_url) as room,
    ):
        created = await room.runai.create_inference(inference_request("llama-chat"))
        ts = await room.runtime.watcher.watch(created, channel=CHANNEL, user=USER, reason="create")

        parent = fake.find_message(CHANNEL, ts)
        assert parent is not None and "llama-chat" in parent.text
        # The parent shows the project's name from the start, not only after a poll.
        assert "team-a" in str(parent.blocks) and "is Creating" in parent.text

        initializing = await fake.wait_for(mentions(fake, ts, "Initializing"), timeout=15)
        running = await fake.wait_for(mentions(fake, ts, "→ Running"), timeout=15)
        assert "Creating → Initializing" in initializing.text
        assert "ready in" in running.text
        body = str(running.blocks)
        assert f"<@{USER}>" in body and "create" in body

        def parent_running() -> bool:
            p = fake.find_message(CHANNEL, ts)
            return p is not None and bool(p.edits) and "is Running" in p.text

        await fake.wait_for(parent_running, timeout=10)

        async with httpx.AsyncClient(base_url=emu.url) as http:
            forced = await http.post(
                f"/emulator/workloads/{created.workload_id}/phase",
                json={"phase": "Failed", "message": "OOM <!channel> & <https://evil|click>"},
            )
            assert forced.status_code == 200
        failed = await fake.wait_for(mentions(fake, ts, "→ Failed"), timeout=15)
        assert failed.reply_broadcast
        text = str(failed.blocks)
        assert "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;" in text
        assert "<!channel>" not in text

        await room.runtime.watcher.record(
            created.workload_id, action="delete", user=USER, summary="deleted from Slack"
        )
        await room.runai.delete_inference(created.workload_id)
        final = await fake.wait_for(mentions(fake, ts, "→ Deleted"), timeout=20)
        assert "watch has ended" in str(final.blocks)
        assert await room.runtime.watcher.watched_in(CHANNEL) == set()

        # Each phase told once, in order.
        texts = [m.text for m in replies(fake, ts)]
        paths = [t.split(": ", 1)[1] for t in texts if "→" in t]
        assert paths[0].startswith("Creating → Initializing")
        assert [p for p in paths if p.endswith("Running") or "Running," in p][:1]
        assert len(paths) == len(set(paths))

        def parent_deleted() -> bool:
            p = fake.find_message(CHANNEL, ts)
            return p is not None and "is Deleted" in p.text and "thread is closed" in str(p.blocks)

        await fake.wait_for(parent_deleted, timeout=10)


def chain(paths: list[str]) -> list[str]:
    """Join reply paths (`A → B`, `B → C → D`) into one phase sequence; breaks show up."""
    phases: list[str] = []
    for path in paths:
        steps = path.split(" → ")
        if phases:
            assert steps[0] == phases[-1], f"reply {path!r} does not follow {phases[-1]!r}"
            steps = steps[1:]
        phases.extend(steps)
    return phases


# Real watch-room pacing (poll interval, Retry-After, republish pace): seconds of waiting.
@pytest.mark.slow
async def test_slack_429_then_500_every_notification_once_in_order(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    fake = fake_slack.fake
    async with (
        emulator_factory(phase_seconds=1.0) as emu,
        watch_room(f"sqlite:///{tmp_path / 'w.db'}", emu.url, fake_slack.api_url) as room,
    ):
        ids = emu.state.seed_workloads(2, name_prefix="api")
        threads = {}
        for workload_id in ids:
            workload = await room.runai.get_workload(workload_id)
            threads[workload_id] = await room.runtime.watcher.watch(
                workload, channel=CHANNEL, user=USER, reason="watch"
            )
        fake.fail_next("chat.postMessage", status=429, retry_after=1, count=2)
        fake.fail_next("chat.postMessage", status=500, count=4)
        fake.fail_next("chat.update", status=429, retry_after=1, count=1)
        fake.fail_next("chat.update", status=503, count=2)

        sequence = ["Degraded", "Running", "Updating", "Running", "Failed"]
        async with httpx.AsyncClient(base_url=emu.url) as http:
            for phase in sequence:
                for workload_id in ids:
                    r = await http.post(
                        f"/emulator/workloads/{workload_id}/phase", json={"phase": phase}
                    )
                    assert r.status_code == 200
                # Hold each phase until the poller has seen it (else polling merges them).
                await wait_until(lambda phase=phase: _seen(room, ids, phase), 15, phase)

        def all_told() -> bool:
            return all(
                transition_paths(fake, ts) and chain(transition_paths(fake, ts))[-1] == "Failed"
                for ts in threads.values()
            )

        await fake.wait_for(all_told, timeout=60)
        await fake.wait_for(lambda: not fake.faults, timeout=30)
        for ts in threads.values():
            assert chain(transition_paths(fake, ts)) == ["Running", *sequence]
            parent = fake.find_message(CHANNEL, ts)
            assert parent is not None
        # the 429s and 500s really happened
        assert [c.status for c in fake.calls_to("chat.postMessage")].count(500) == 4
        assert [c.status for c in fake.calls_to("chat.postMessage")].count(429) == 2


async def _seen(room: Room, ids: list[str], phase: str) -> bool:
    watches = await room.runtime.store.active_watches(ids)
    return len(watches) == len(ids) and all(w.last_phase == phase for w in watches)


# Real watch-room pacing (poll interval, Retry-After, republish pace): seconds of waiting.
@pytest.mark.slow
async def test_runai_unavailable_no_false_deleted_then_catch_up(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    fake = fake_slack.fake
    async with (
        emulator_factory(phase_seconds=0.5) as emu,
        watch_room(
            f"sqlite:///{tmp_path / 'w.db'}", emu.url, fake_slack.api_url, reconcile=1.0
        ) as room,
        httpx.AsyncClient(base_url=emu.url) as http,
    ):
        alive, doomed = emu.state.seed_workloads(2, name_prefix="outage")
        threads = {}
        for workload_id in (alive, doomed):
            workload = await room.runai.get_workload(workload_id)
            threads[workload_id] = await room.runtime.watcher.watch(
                workload, channel=CHANNEL, user=USER, reason="watch"
            )
        emu.state.force_phase(alive, "Degraded", "node lost")
        emu.state.delete(doomed)

        async def outage(prefix: str, calls: int) -> None:
            """Fail every call under `prefix` until the poller has made `calls` of them."""
            r = await http.post(
                "/emulator/faults", json={"status": 503, "count": 10_000, "pathPrefix": prefix}
            )
            assert r.status_code == 201

            async def used() -> bool:
                faults = (await http.get("/emulator/faults")).json()["faults"]
                return 10_000 - faults[0]["count"] >= calls

            await wait_until(used, 60, f"{calls} failed calls under {prefix}")

        # 1. The whole workloads API is down: polls and reconciles fail.
        await outage("/api/v1/workloads", 15)
        for ts in threads.values():
            assert transition_paths(fake, ts) == []
        assert await room.runtime.watcher.watched_in(CHANNEL) == {alive, doomed}
        # 2. The list answers (the deleted workload is missing from it) but GET by id
        #    fails: missing from a list is not proof, so still no "deleted".
        await http.delete("/emulator/faults")
        await outage("/api/v1/workloads/", 6)
        assert all("Deleted" not in p for p in transition_paths(fake, threads[doomed]))
        assert await room.runtime.watcher.watched_in(CHANNEL) == {alive, doomed}
        # 3. Run:ai is back: the poller catches up.
        await http.delete("/emulator/faults")

        await fake.wait_for(mentions(fake, threads[alive], "Running → Degraded"), timeout=20)
        await fake.wait_for(mentions(fake, threads[doomed], "→ Deleted"), timeout=20)
        assert await room.runtime.watcher.watched_in(CHANNEL) == {alive}
        assert transition_paths(fake, threads[alive]) == ["Running → Degraded"]
        assert len([p for p in transition_paths(fake, threads[doomed]) if "Deleted" in p]) == 1
