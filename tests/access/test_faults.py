"""The fault suite: Run:ai storms (500, 503, timeouts, 401), Slack failing (429, 5xx,
timeouts) and the database unreachable at start and mid-run. The guarded bot with its
real watch room keeps serving what it can, tells users plainly, recovers without a
restart, and every expected thread notification arrives exactly once.
README.md's "When things fail" is the table of these scenarios."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from bot.fakeslack import FakeSlack, MessageRecord, RunningFakeSlack
from bot.watch.store import Store
from tests.access.dbproxy import DbProxy
from tests.access.harness import CHANNEL, GuardedBot, guarded_bot
from tests.conftest import EmulatorFactory, RunningEmulator
from tests.watch.conftest import PG_URL, pg_available

pytest_plugins = ["tests.fakes.fixtures"]


async def emulator_fault(emu: RunningEmulator, **fault: object) -> None:
    async with httpx.AsyncClient(base_url=emu.url) as http:
        (await http.post("/emulator/faults", json=fault)).raise_for_status()


async def clear_faults(emu: RunningEmulator) -> None:
    async with httpx.AsyncClient(base_url=emu.url) as http:
        (await http.delete("/emulator/faults")).raise_for_status()


async def force_phase(emu: RunningEmulator, workload_id: str, phase: str, message: str) -> None:
    async with httpx.AsyncClient(base_url=emu.url) as http:
        r = await http.post(
            f"/emulator/workloads/{workload_id}/phase", json={"phase": phase, "message": message}
        )
        r.raise_for_status()


def parent_of(fake: FakeSlack, name: str) -> Callable[[], MessageRecord | None]:
    def find() -> MessageRecord | None:
        for m in fake.channel_messages(CHANNEL):
            if name in m.text and m.ephemeral_to is None and not m.thread_ts:
                return m
        return None

    return find


def transitions(fake: FakeSlack, ts: str) -> list[str]:
    """Phase-change replies of a thread, in order."""
    return [m.text for m in fake.thread_replies(CHANNEL, ts) if "→" in m.text]


async def told_once(fake: FakeSlack, ts: str, needle: str, wait: float = 30.0) -> None:
    """`needle` reached the thread, and exactly once; no reply was repeated."""
    await fake.wait_for(lambda: any(needle in t for t in transitions(fake, ts)) or None, wait)
    said = transitions(fake, ts)
    assert sum(needle in t for t in said) == 1, said
    assert len(said) == len(set(said)), said


async def plain_reply(g: GuardedBot, text: str, *, after: int) -> MessageRecord:
    """The first reply to the user, newer than the first `after` messages, containing text."""
    return await g.fake.wait_for(
        lambda: next(
            (
                m
                for m in g.fake.messages[after:]
                if m.ephemeral_to is not None and text in f"{m.text} {m.blocks}"
            ),
            None,
        )
    )


async def watched(g: GuardedBot, name: str) -> MessageRecord:
    await g.bot.driver.command("/inference", f"watch {name}")
    return await g.fake.wait_for(parent_of(g.fake, name), timeout=25)


async def test_runai_storms(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with (
        emulator_factory(phase_seconds=0.3) as emu,
        guarded_bot(emu, fake_slack, tmp_path, real_watch=True, runai_timeout=0.5) as g,
    ):
        created = await g.bot.create("stormy", project_id="1")
        parent = await watched(g, "stormy")
        await told_once(g.fake, parent.ts, "Running")

        for status, words in (
            (503, "Run:ai is unavailable"),
            (500, "Run:ai is unavailable"),
            (401, "credentials were refused"),
        ):
            await emulator_fault(emu, status=status, count=1000, pathPrefix="/api")
            seen = len(g.fake.messages)
            await g.bot.driver.command("/inference", "status stormy")
            await plain_reply(g, words, after=seen)
            if status == 503:
                # The workload fails while nobody can see it: told once when Run:ai is back.
                await force_phase(emu, created.workload_id, "Failed", "OOMKilled")
            await clear_faults(emu)
            seen = len(g.fake.messages)
            await g.bot.driver.command("/inference", "status stormy")
            await plain_reply(g, "stormy", after=seen)

        await told_once(g.fake, parent.ts, "Failed")

        # Timeouts: Run:ai answers after 2 s, the app's client waits 0.5 s.
        await emulator_fault(emu, latencyMs=2000, count=1000, pathPrefix="/api/v1/workloads")
        seen = len(g.fake.messages)
        await g.bot.driver.command("/inference", "status stormy")
        await plain_reply(g, "Run:ai is unavailable", after=seen)
        await clear_faults(emu)
        seen = len(g.fake.messages)
        await g.bot.driver.command("/inference", "status stormy")
        await plain_reply(g, "Failed", after=seen)
        await told_once(g.fake, parent.ts, "Failed")


# Real watch-room pacing (poll interval, Retry-After, republish pace): seconds of waiting.
@pytest.mark.slow
async def test_slack_failing(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    fake = fake_slack.fake
    async with (
        emulator_factory(phase_seconds=0.3) as emu,
        guarded_bot(emu, fake_slack, tmp_path, real_watch=True, send_timeout=1.0) as g,
    ):
        await g.bot.create("noisy", project_id="1")
        parent = await watched(g, "noisy")
        await told_once(fake, parent.ts, "Running")
        names = ("slow", "limited", "broken")
        ids = {n: (await g.bot.create(n, project_id="1")).workload_id for n in names}
        # Thread posts fail: a timeout (answer after 1.5 s, the notifier waits 1 s),
        # rate limits with Retry-After, server errors, and a broken parent edit.
        fake.fail_next("chat.postMessage", status=503, delay=1.5, count=1)
        fake.fail_next("chat.postMessage", error="ratelimited", status=429, retry_after=1)
        fake.fail_next("chat.postMessage", status=500)
        fake.fail_next("chat.update", status=500, count=2)
        parents = {n: await watched(g, n) for n in names}
        fake.fail_next("chat.postMessage", status=503, delay=1.5, count=1)
        fake.fail_next("chat.postMessage", error="ratelimited", status=429, retry_after=1)
        fake.fail_next("chat.postMessage", status=502)
        for n in names:
            await force_phase(emu, ids[n], "Failed", f"{n} broke")
        for n in names:
            await told_once(fake, parents[n].ts, "Failed")
        # Every parent once, every status reply once.
        for n in names:
            assert (
                len([m for m in fake.channel_messages(CHANNEL) if parent_of(fake, n)() is m]) == 1
            )
        # Command replies while Slack rate-limits: retried after Retry-After.
        fake.fail_next("chat.postEphemeral", error="ratelimited", status=429, retry_after=1)
        seen = len(fake.messages)
        await g.bot.driver.command("/inference", "watch noisy")
        await plain_reply(g, "Following noisy", after=seen)


@contextlib.asynccontextmanager
async def pg_behind_proxy(up: bool) -> AsyncIterator[tuple[DbProxy, str, str]]:
    if not pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (the tests need it)")
    url = make_url(PG_URL)
    proxy = DbProxy(url.host or "127.0.0.1", url.port or 5432)
    if up:
        await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    schema = f"guard_faults_{uuid.uuid4().hex[:10]}"
    try:
        yield proxy, proxied, schema
    finally:
        await proxy.stop()
        store = Store(PG_URL, schema=schema)
        await store.drop_schema()
        await store.close()


@contextlib.asynccontextmanager
async def bot_on_proxied_pg(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path, *, up: bool
) -> AsyncIterator[tuple[DbProxy, RunningEmulator, GuardedBot]]:
    """The guarded bot with its real watch room on PostgreSQL behind a proxy the test can
    cut (`up`: whether it starts connected); yields (proxy, emulator, bot)."""
    async with (
        pg_behind_proxy(up=up) as (proxy, url, schema),
        emulator_factory(phase_seconds=0.3) as emu,
        guarded_bot(
            emu,
            fake_slack,
            tmp_path,
            real_watch=True,
            database=url,
            schema=schema,
            lease_ttl=4,
            send_timeout=2.0,
        ) as g,
    ):
        yield proxy, emu, g


async def test_database_unreachable_at_start(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with bot_on_proxied_pg(emulator_factory, fake_slack, tmp_path, up=False) as (
        proxy,
        emu,
        g,
    ):
        created = await g.bot.create("early", project_id="1")
        seen = len(g.fake.messages)
        await g.bot.driver.command("/inference", "status early")
        await plain_reply(g, "early", after=seen)  # Run:ai commands need no database
        seen = len(g.fake.messages)
        await g.bot.driver.command("/inference", "watch early")
        await plain_reply(g, "database does not answer", after=seen)
        await g.bot.driver.command("/inference", "scale early 2 2")
        await plain_reply(g, "2", after=seen + 1)
        assert g.audit.pending >= 1  # the trail waits in memory

        await proxy.start()
        assert g.runtime is not None
        await g.fake.wait_for(lambda: g.runtime.leadership.is_leader() or None, timeout=15)
        parent = await watched(g, "early")
        await force_phase(emu, created.workload_id, "Failed", "image pull")
        await told_once(g.fake, parent.ts, "Failed")
        scale = await g.wait_entry("ok", "scale")  # written once the database answered
        assert scale.workload_name == "early"


async def test_database_lost_mid_run(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with bot_on_proxied_pg(emulator_factory, fake_slack, tmp_path, up=True) as (
        proxy,
        emu,
        g,
    ):
        created = await g.bot.create("midway", project_id="1")
        parent = await watched(g, "midway")
        await told_once(g.fake, parent.ts, "Running")

        await proxy.stop()
        await force_phase(emu, created.workload_id, "Failed", "node lost")
        seen = len(g.fake.messages)
        await g.bot.driver.command("/inference", "status midway")
        await plain_reply(g, "Failed", after=seen)  # still serving
        seen = len(g.fake.messages)
        await g.bot.driver.command("/inference", "unwatch midway")
        await plain_reply(g, "database does not answer", after=seen)
        await g.bot.driver.command("/inference", "list")
        await plain_reply(g, "midway", after=seen + 1)
        assert not any("Failed" in t for t in transitions(g.fake, parent.ts))

        await proxy.start()
        await told_once(g.fake, parent.ts, "Failed")
        entry = await g.wait_entry("ok", "watch")
        assert entry.workload_id == created.workload_id


async def test_slack_refusing_the_parent_is_said_plainly(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    async with guarded_bot(emulator, fake_slack, tmp_path, real_watch=True) as g:
        await g.bot.create("unwelcome", project_id="1")
        g.fake.fail_next("chat.postMessage", error="channel_not_found", count=5)
        seen = len(g.fake.messages)
        await g.bot.driver.command("/inference", "watch unwelcome")
        reply = await plain_reply(g, "Slack would not take", after=seen)
        assert "channel_not_found" in reply.text
        assert await g.runtime.watcher.watched_in(CHANNEL) == set()  # type: ignore[union-attr]
