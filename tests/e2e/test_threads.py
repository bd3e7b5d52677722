"""A workload's life told in one Slack thread: emulator + fake Slack over HTTP, watch room
driven through the Run:ai client and `Watcher` (the Slack app's calls)."""

from __future__ import annotations

from pathlib import Path

import httpx

from bot.fakeslack import RunningFakeSlack
from tests.conftest import EmulatorFactory
from tests.watch.harness import CHANNEL, USER, inference_request, mentions, replies, watch_room

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
