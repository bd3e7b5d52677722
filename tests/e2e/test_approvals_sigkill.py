"""An approval is performed exactly once even when the replica performing it dies:
real `inference-bot run` processes, the first SIGKILLed between the decision and the
PATCH, the next one finishing it (and not repeating it)."""

from __future__ import annotations

import asyncio
import copy
import os
import re
import signal
import sys
from pathlib import Path

import httpx
import pytest

from bot.fakeslack import MessageRecord, RunningFakeSlack, SlackDriver
from bot.runai import RunaiClient, models
from bot.watch.approval_store import ApprovalState
from bot.watch.store import Store
from tests.conftest import RunningEmulator, free_port

pytest_plugins = ["tests.fakes.fixtures"]
# Real processes, a real SIGKILL, a real lease expiry and the recovery delay.
pytestmark = pytest.mark.slow

SECRET = "sigkill-secret"
CHANNEL = "C0001"
REQUESTER = "U0001"
APPROVER = "U0002"
PATCH = ("PATCH", "/api/v1/workloads/inferences/{workloadId}")
POLICY = f"""
channels:
  {CHANNEL}:
    projects: [team-a]
    approval: {{replicas_over: 4, approvers: [{APPROVER}]}}
projects:
  team-a: {{read: ["*"], create: ["*"], scale: ["*"], update: ["*"], delete: ["*"]}}
"""


async def _start(env: dict[str, str], port: int) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env={**env, "PORT": str(port)},
        stderr=asyncio.subprocess.DEVNULL,
    )
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            assert proc.returncode is None, f"bot exited early with {proc.returncode}"
            try:
                if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return proc
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("bot never answered /healthz")


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


async def test_an_approval_survives_a_sigkill_and_acts_once(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    db = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RUNAI_"))}
    env.update(
        {
            "SLACK_BOT_TOKEN": "xoxb-sigkill",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake_slack.api_url,
            "RUNAI_URL": emulator.url,
            "RUNAI_CLIENT_ID": emulator.client_id,
            "RUNAI_CLIENT_SECRET": emulator.client_secret,
            "DATABASE_URL": db,
            "POLICY_FILE": str(policy),
            "POLL_INTERVAL_SECONDS": "0.5",
        }
    )
    fake = fake_slack.fake
    async with RunaiClient(emulator.url, emulator.client_id, emulator.client_secret) as runai:
        big = await runai.create_inference(
            models.InferenceCreationRequest(
                name="kill-model",
                project_id="1",
                cluster_id="71f69d83-ba66-4822-adf5-55ce55efd210",
                spec=models.InferenceSpecSpec(
                    image="vllm/vllm-openai:v0.6.3",
                    serving_port=models.ServingPort(container=8000),
                    autoscaling=models.AutoScaling(
                        min_replicas=1, max_replicas=2, metric="concurrency", metric_threshold=4
                    ),
                ),
            )
        )
        port_a = free_port()
        first = await _start(env, port_a)
        try:
            async with SlackDriver(f"http://127.0.0.1:{port_a}", SECRET, fake) as driver:
                await driver.command(
                    "/inference", "scale kill-model 1 8", user=REQUESTER, channel=CHANNEL
                )

                def request_message() -> MessageRecord | None:
                    return next(
                        (
                            m
                            for m in fake.channel_messages(CHANNEL)
                            if "Approval needed" in m.all_text()
                        ),
                        None,
                    )

                request = await fake.wait_for(request_message, timeout=20)
                stale = copy.deepcopy(request)  # as a client that missed the edit shows it
                found = re.search(r"\((r\w+)\)", request.all_text())
                assert found is not None
                approval_id = found.group(1)
                patches = emulator.state.stats.count(*PATCH)
                # Performing starts with a lookup of the workload as the requester: every
                # such read now hangs, so the replica dies after the decision and before
                # the PATCH (whatever else of this replica reads the workload first: a
                # fault for one read only could be taken by another loop on a slow host).
                emulator.state.add_fault(
                    None,
                    1000,
                    latency_ms=30_000,
                    path_prefix=f"/api/v1/workloads/inferences/{big.workload_id}",
                    method="GET",
                )
                await driver.click(request, "inference_approve", user=APPROVER)
                store = Store(db)
                try:
                    for _ in range(200):
                        approval = await store.get_approval(approval_id)
                        if approval is not None and approval.state is ApprovalState.APPROVED:
                            break
                        await asyncio.sleep(0.05)
                    else:
                        raise AssertionError("the approval was never decided")
                finally:
                    await store.close()
            first.send_signal(signal.SIGKILL)
            await first.wait()
        finally:
            await _stop(first)
        emulator.state.faults.clear()
        assert emulator.state.stats.count(*PATCH) == patches  # nothing sent yet

        port_b = free_port()
        second = await _start(env, port_b)
        try:
            store = Store(db)
            try:
                for _ in range(1200):  # the lease expires, then the recovery delay passes
                    approval = await store.get_approval(approval_id)
                    assert approval is not None
                    if approval.performed_at is not None:
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError("the approved request was never performed")
            finally:
                await store.close()
            assert approval.outcome == "ok"
            assert emulator.state.stats.count(*PATCH) == patches + 1
            current = await runai.get_inference(big.workload_id)
            assert current.spec is not None and current.spec.autoscaling is not None
            assert current.spec.autoscaling.max_replicas == 8
            await fake.wait_for(  # the message is edited: decided, no buttons
                lambda: "inference_approve" not in str(request.blocks) or None, timeout=20
            )
            # A late second press (a stale client), now on the other replica, does nothing.
            async with SlackDriver(f"http://127.0.0.1:{port_b}", SECRET, fake) as driver:
                await driver.click(stale, "inference_approve", user=APPROVER)
                await fake.wait_for(
                    lambda: (
                        [m for m in fake.ephemerals(APPROVER) if "already approved" in m.text]
                        or None
                    ),
                    timeout=20,
                )
            await asyncio.sleep(1)
            assert emulator.state.stats.count(*PATCH) == patches + 1
        finally:
            await _stop(second)
