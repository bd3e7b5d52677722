"""The App Home and approvals over the real service (`run_service`: watch room, access
control, the lease holder's jobs), the fake Slack and the emulator (whose call counts tell
what reached Run:ai)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import update

from bot.fakeslack import FakeSlack, MessageRecord, RunningFakeSlack, SlackDriver
from bot.runai import RunaiClient, models
from bot.utc import utcnow
from bot.watch.db.schema import approvals
from bot.watch.store import Store
from tests.conftest import EmulatorFactory, RunningEmulator, free_port
from tests.e2e.service_harness import SECRET, running_service, service_settings, wait_healthy
from tests.e2e.slack_harness import CREATE_FORM

pytest_plugins = ["tests.fakes.fixtures"]

USER = "U0001"  # the requester
APPROVER = "U0002"
OTHER_APPROVER = "U0003"
STRANGER = "U0004"
CHANNEL = "C0001"
PATCH = ("PATCH", "/api/v1/workloads/inferences/{workloadId}")
POLICY = f"""
channels:
  {CHANNEL}:
    projects: [team-a]
    approval: {{replicas_over: 4, approvers: [{APPROVER}, "@{OTHER_APPROVER}"]}}
projects:
  team-a: {{read: ["*"], create: ["*"], scale: ["*"], update: ["*"], delete: ["*"]}}
default: {{read: [{APPROVER}]}}
"""


@dataclass
class Service:
    """A running bot, the fake Slack it talks to, and the emulator behind it."""

    driver: SlackDriver
    fake: FakeSlack
    emu: RunningEmulator
    runai: RunaiClient
    db: str

    async def create(self, name: str, project_id: str = "1") -> models.Inference:
        """An inference made straight through the API (test setup)."""
        return await self.runai.create_inference(
            models.InferenceCreationRequest(
                name=name,
                project_id=project_id,
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

    async def phase(self, workload_id: str, phase: str) -> None:
        """Force a phase at the emulator."""
        async with httpx.AsyncClient(base_url=self.emu.url) as http:
            r = await http.post(f"/emulator/workloads/{workload_id}/phase", json={"phase": phase})
            r.raise_for_status()

    def patches(self) -> int:
        """PATCHes of inferences the emulator received."""
        return self.emu.state.stats.count(*PATCH)

    async def said_to(self, user: str, text: str, wait: float = 15) -> MessageRecord:
        """The first private message to `user` containing `text`."""

        def found() -> MessageRecord | None:
            for m in self.fake.messages:
                if m.ephemeral_to == user and text in m.all_text():
                    return m
            return None

        return await self.fake.wait_for(found, timeout=wait)

    async def posted(self, text: str, wait: float = 15) -> MessageRecord:
        """The first channel message containing `text`."""

        def found() -> MessageRecord | None:
            for m in self.fake.channel_messages(CHANNEL):
                if text in m.all_text():
                    return m
            return None

        return await self.fake.wait_for(found, timeout=wait)

    def current(self, message: MessageRecord) -> MessageRecord:
        """A message as it is now (after edits)."""
        found = self.fake.find_message(message.channel, message.ts)
        assert found is not None
        return found

    def homes(self, user: str = USER) -> list[dict[str, Any]]:
        """Every Home published for `user`, oldest first."""
        return [record.view for record in self.fake.homes.get(user, [])]

    async def wait(self, check: Callable[[], object], wait: float = 15) -> Any:
        """Wait until `check()` is truthy."""
        return await self.fake.wait_for(lambda: check() or None, timeout=wait)


@pytest.fixture
async def service(
    emulator_factory: EmulatorFactory, fake_slack: RunningFakeSlack, tmp_path: Path
) -> AsyncIterator[Service]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    port = free_port()
    async with emulator_factory(phase_seconds=0.1) as emu:
        settings = service_settings(
            fake_slack,
            tmp_path,
            port=port,
            policy_file=str(policy),
            home_republish_seconds=1,
            poll_interval_seconds=0.3,
        ).model_copy(
            update={
                "runai_url": emu.url,
                "runai_client_id": emu.client_id,
                "runai_client_secret": SecretStr(emu.client_secret),
            }
        )
        async with (
            running_service(settings) as task,
            RunaiClient(emu.url, emu.client_id, emu.client_secret) as runai,
        ):
            url = f"http://127.0.0.1:{port}"
            await wait_healthy(url, task)
            async with SlackDriver(url, SECRET, fake_slack.fake) as driver:
                yield Service(driver, fake_slack.fake, emu, runai, settings.database_url)


def _section(home: dict[str, Any], title: str) -> str:
    """The text of one Home section (from its header to the next)."""
    out: list[str] = []
    inside = False
    for block in home["blocks"]:
        if block["type"] == "header":
            inside = block["text"]["text"] == title
            continue
        if inside:
            out.append(str(block))
    return "\n".join(out)


# Real watch-room pacing (poll interval, Retry-After, republish pace): seconds of waiting.
@pytest.mark.slow
async def test_home_lists_a_failed_endpoint_and_a_phase_change_republishes_it_once(
    service: Service,
) -> None:
    broken = await service.create("home-broken")
    await service.phase(broken.workload_id, "Failed")
    # Failed too, in team-b, which only U0002 may read under the policy.
    hidden = await service.create("home-hidden", project_id="2")
    await service.phase(hidden.workload_id, "Failed")
    # The user follows it in a channel: the Home shows what is followed where they work.
    await follow(service, "home-broken")

    await service.driver.event({"type": "app_home_opened", "user": USER, "tab": "home"})
    await service.wait(lambda: service.homes())
    first = service.homes()[0]
    assert first["type"] == "home"
    assert "home-broken" in _section(first, "Needs attention")
    assert "inference_home_status" in _section(first, "Needs attention")
    assert "home-hidden" not in str(first)
    # The one who may read team-b sees it.
    await service.driver.event({"type": "app_home_opened", "user": APPROVER, "tab": "home"})
    await service.wait(lambda: service.homes(APPROVER))
    assert "home-hidden" in _section(service.homes(APPROVER)[0], "Needs attention")

    await service.phase(broken.workload_id, "Running")
    await service.wait(
        lambda: "home-broken" not in _section(service.homes()[-1], "Needs attention")
    )
    shown = len(service.homes())
    await asyncio.sleep(3)  # three republish intervals: nothing more comes
    assert len(service.homes()) == shown
    assert "home-broken" in _section(service.homes()[-1], "Followed in your channels")


async def test_home_status_button_answers_in_the_dm(service: Service) -> None:
    await service.create("home-status")
    await follow(service, "home-status")
    await service.driver.event({"type": "app_home_opened", "user": USER, "tab": "home"})
    await service.wait(lambda: service.homes())
    await service.driver.click(service.fake.homes[USER][-1], "inference_home_status", user=USER)
    # The Home has no channel: the answer comes in the app's DM with the user.
    reply = await service.fake.wait_for(
        lambda: next(
            (m for m in service.fake.messages if m.channel.startswith("D") and m.blocks), None
        ),
        timeout=15,
    )
    assert "home-status" in reply.all_text()

    # Deploy a model: the create form, as from a command.
    await service.driver.click(service.fake.homes[USER][-1], "inference_home_deploy", user=USER)
    await service.fake.wait_for(
        lambda: next(
            (v for v in service.fake.iter_open_views() if v.callback_id == "inference_create"), None
        ),
        timeout=15,
    )


async def follow(service: Service, name: str) -> MessageRecord:
    """`watch <name>` in the channel; its parent message, once the watch is stored (the
    "Following" answer comes after the row: notes made before it would find no thread)."""
    await service.driver.command("/inference", f"watch {name}", user=USER, channel=CHANNEL)
    await service.said_to(USER, f"Following {name} here")
    return await service.posted(name)


async def _deny(service: Service, request: MessageRecord, reason: str) -> None:
    """Another approver presses Deny on the request and gives `reason` in its modal."""
    await service.driver.click(request, "inference_deny", user=OTHER_APPROVER)
    view = await service.fake.wait_for(
        lambda: next(
            (
                v
                for v in service.fake.iter_open_views()
                if v.callback_id == "inference_approval_deny"
            ),
            None,
        ),
        timeout=15,
    )
    await service.driver.submit_view(view, {"f_reason": reason}, user=OTHER_APPROVER)
    await service.wait(lambda: "Denied" in service.current(request).all_text())


async def _request(service: Service, text: str) -> MessageRecord:
    await service.driver.command("/inference", text, user=USER, channel=CHANNEL)
    await service.said_to(USER, "needs approval")
    return await service.posted("Approval needed")


async def test_an_over_threshold_scale_waits_for_another_approver(service: Service) -> None:
    big = await service.create("big-model")
    parent = await follow(service, "big-model")
    before = service.patches()
    request = await _request(service, "scale big-model 1 8")
    text = request.all_text()
    assert f"<@{USER}>" in text and "big-model" in text and "8 replicas (over 4)" in text
    assert "expires in 24 h" in text and "<!date^" in text
    assert service.patches() == before  # nothing reached Run:ai

    # The requester can't approve their own request; a stranger isn't an approver.
    await service.driver.click(request, "inference_approve", user=USER)
    await service.said_to(USER, "another approver has to")
    await service.driver.click(request, "inference_approve", user=STRANGER)
    await service.said_to(STRANGER, "approval.approvers")
    assert service.patches() == before

    # Two presses at once by an approver: one PATCH.
    await asyncio.gather(
        service.driver.click(request, "inference_approve", user=APPROVER),
        service.driver.click(request, "inference_approve", user=APPROVER),
    )
    await service.wait(lambda: "Approved" in service.current(request).all_text())
    await service.said_to(USER, "was approved by")
    await asyncio.sleep(1)
    assert service.patches() == before + 1
    current = await service.runai.get_inference(big.workload_id)
    assert current.spec is not None and current.spec.autoscaling is not None
    assert current.spec.autoscaling.max_replicas == 8
    assert "inference_approve" not in str(service.current(request).blocks)

    # Every step is noted in the workload's thread and kept in the audit trail.
    def thread() -> str:
        return "\n".join(m.all_text() for m in service.fake.thread_replies(CHANNEL, parent.ts))

    await service.wait(lambda: "asked for approval" in thread() and "sent to Run:ai" in thread())
    assert "approved r" in thread()
    await service.driver.command("/inference", "audit big-model", user=USER, channel=CHANNEL)
    trail = await service.said_to(USER, "approval-approved")
    assert "approval-requested" in trail.all_text()


async def test_deny_changes_nothing_and_an_expired_request_refuses(service: Service) -> None:
    await service.create("deny-model")
    before = service.patches()
    request = await _request(service, "scale deny-model 1 6")
    await _deny(service, request, "<!channel> too big")
    assert "&lt;!channel&gt; too big" in str(service.current(request).blocks)
    await service.said_to(USER, "was denied by")
    assert service.patches() == before

    # A second request, then time passes beyond APPROVAL_TTL (moved in the database: the
    # service's own clock is real).
    late = await _request(service, "scale deny-model 1 7")
    store = Store(service.db)
    try:
        async with store.engine.begin() as conn:
            await conn.execute(
                update(approvals)
                .where(approvals.c.state == "pending")
                .values(expires_at=utcnow() - timedelta(minutes=1))
            )
    finally:
        await store.close()
    await service.driver.click(late, "inference_approve", user=APPROVER)
    await service.said_to(APPROVER, "has expired")
    assert service.patches() == before
    # The lease holder's job marks it expired in the channel, and tells the requester.
    await service.wait(lambda: "Expired" in service.current(late).all_text())
    assert "inference_approve" not in str(service.current(late).blocks)
    await service.said_to(USER, "expired without a decision")


# Real watch-room pacing (poll interval, Retry-After, republish pace): seconds of waiting.
@pytest.mark.slow
async def test_a_rate_limited_publish_waits_for_retry_after(service: Service) -> None:
    flaky = await service.create("home-flaky")
    await follow(service, "home-flaky")
    await service.driver.event({"type": "app_home_opened", "user": USER, "tab": "home"})
    await service.wait(lambda: service.homes())
    service.fake.fail_next("views.publish", retry_after=2)
    await service.phase(flaky.workload_id, "Failed")
    await service.wait(lambda: "home-flaky" in _section(service.homes()[-1], "Needs attention"))
    calls = service.fake.calls_to("views.publish")
    refused = [c for c in calls if c.status == 429]
    assert len(refused) == 1
    after = [c for c in calls if c.ok and c.time > refused[0].time]
    assert after and after[0].time - refused[0].time >= 1.9  # Retry-After honoured


async def test_buttons_with_bad_values_change_nothing(service: Service) -> None:
    await service.create("odd-model")
    await follow(service, "odd-model")
    before = service.patches()
    request = await _request(service, "scale odd-model 1 8")
    # A request id that does not exist (an old message, a forged payload).
    await service.driver.click(request, "inference_approve", "rNOPE", user=APPROVER)
    await service.said_to(APPROVER, "no longer exists")
    await service.driver.click(request, "inference_deny", "rNOPE", user=APPROVER)
    await service.wait(
        lambda: len([m for m in service.fake.ephemerals(APPROVER) if "no longer" in m.text]) == 2
    )
    # A Home button whose value is not a workload id.
    await service.driver.event({"type": "app_home_opened", "user": USER, "tab": "home"})
    await service.wait(lambda: service.homes())
    home = service.fake.homes[USER][-1]
    await service.driver.click(home, "inference_home_scale", "not an id", user=USER)
    await service.fake.wait_for(
        lambda: next((m for m in service.fake.messages if "older Home" in m.text), None),
        timeout=15,
    )
    assert service.patches() == before
    assert "Approval needed" in service.current(request).all_text()  # still pending


async def test_an_over_threshold_create_from_the_form_becomes_a_request(service: Service) -> None:
    form = {**CREATE_FORM, "f_name": "big-create", "f_max_replicas": "8"}
    posts = service.emu.state.stats.count("POST", "/api/v1/workloads/inferences")
    await service.driver.command("/inference", "create", user=USER, channel=CHANNEL)
    view = await service.fake.wait_for(
        lambda: next(
            (v for v in service.fake.iter_open_views() if v.callback_id == "inference_create"), None
        ),
        timeout=15,
    )
    # Literal env values can't wait in a request (it is stored): refused, with the names.
    await service.driver.submit_view(view, form, user=USER)
    await service.fake.wait_for(lambda: "HF_HUB_OFFLINE" in view.all_text() or None, timeout=15)
    assert "secret" in view.all_text()
    assert not [m for m in service.fake.channel_messages(CHANNEL) if "big-create" in m.text]

    await service.driver.command("/inference", "create", user=USER, channel=CHANNEL)
    view = await service.fake.wait_for(
        lambda: next(
            (
                v
                for v in service.fake.iter_open_views()
                if v.callback_id == "inference_create" and "HF_HUB_OFFLINE" not in v.all_text()
            ),
            None,
        ),
        timeout=15,
    )
    await service.driver.submit_view(view, {**form, "f_env": ""}, user=USER)
    request = await service.posted("big-create")
    assert "Approval needed" in request.all_text() and "8 replicas (over 4)" in request.all_text()
    assert service.emu.state.stats.count("POST", "/api/v1/workloads/inferences") == posts

    await service.driver.click(request, "inference_approve", user=OTHER_APPROVER)
    await service.wait(lambda: "Approved" in service.current(request).all_text())
    found = await service.runai.find_inferences("big-create")
    assert len(found) == 1
    assert service.emu.state.stats.count("POST", "/api/v1/workloads/inferences") == posts + 1


# --- actions from unbound places: the owning channels' thresholds -----------------------

DM = "D0001DM01"  # a DM between the requester and someone: bound by no channel binding


async def _home_scale(service: Service, workload_id: str, low: int, high: int) -> Any:
    """Press Scale on the user's Home and submit the scale form; the form (a ViewRecord)."""
    await service.driver.event({"type": "app_home_opened", "user": USER, "tab": "home"})
    home = await service.wait(
        lambda: next(
            (h for h in reversed(service.fake.homes.get(USER, [])) if workload_id in str(h.view)),
            None,
        )
    )
    await service.driver.click(home, "inference_home_scale", workload_id, user=USER)
    view = await service.fake.wait_for(
        lambda: next(
            (
                v
                for v in service.fake.iter_open_views()
                if v.callback_id == "inference_scale" and v.user_id == USER
            ),
            None,
        ),
        timeout=15,
    )
    await service.driver.submit_view(
        view,
        {
            "f_min_replicas": str(low),
            "f_max_replicas": str(high),
            "f_metric": "concurrency",
            "f_threshold": "4",
        },
        user=USER,
    )
    return view


async def _followed(service: Service, name: str) -> None:
    """Wait until the channel follows `name` (its "Following" reply comes after the watch
    is stored; the parent message comes before)."""
    await service.fake.wait_for(
        lambda: next((m for m in service.fake.messages if f"Following {name}" in m.text), None),
        timeout=15,
    )


def _requests_for(service: Service, name: str) -> list[MessageRecord]:
    return [
        m
        for m in service.fake.messages
        if not m.ephemeral and "Approval needed" in m.all_text() and name in m.all_text()
    ]


async def test_a_home_scale_over_the_owning_channels_threshold_waits_for_an_approver(
    service: Service,
) -> None:
    big = await service.create("home-big")
    await follow(service, "home-big")
    await _followed(service, "home-big")
    before = service.patches()

    view = await _home_scale(service, big.workload_id, 1, 8)
    # The request goes to the channel that follows the workload, not the Home's DM; the
    # requester reads that it waits, privately, in the form they submitted.
    request = await service.posted("Approval needed")
    assert f"<@{USER}>" in request.all_text() and "8 replicas (over 4)" in request.all_text()
    await service.fake.wait_for(lambda: "needs approval" in view.all_text() or None, timeout=15)
    assert "in the channel that owns home-big (https://" in view.all_text()
    assert f"/archives/{CHANNEL}/p{request.ts.replace('.', '')}" in view.all_text()
    assert not [
        m for m in service.fake.messages if m.channel.startswith("D") and "Approval" in m.text
    ]
    await asyncio.sleep(0.5)
    assert service.patches() == before

    # As for a channel's request: the requester can't approve it, another approver can.
    await service.driver.click(request, "inference_approve", user=USER)
    await service.said_to(USER, "another approver has to")
    assert service.patches() == before
    await service.driver.click(request, "inference_approve", user=APPROVER)
    await service.wait(lambda: "Approved" in service.current(request).all_text())
    await service.wait(lambda: service.patches() == before + 1)
    current = await service.runai.get_inference(big.workload_id)
    assert current.spec is not None and current.spec.autoscaling is not None
    assert current.spec.autoscaling.max_replicas == 8
    # The requester asked from the Home: told in their DM with the app, not in the channel.
    told = await service.fake.wait_for(
        lambda: next(
            (
                m
                for m in service.fake.messages
                if m.channel.startswith("D") and "was approved by" in m.all_text()
            ),
            None,
        ),
        timeout=15,
    )
    assert "sent to Run:ai" in told.all_text()
    assert not [m for m in service.fake.ephemerals(USER) if "was approved by" in m.text]


async def test_a_scale_typed_in_a_dm_is_held_for_the_owning_channel(service: Service) -> None:
    await service.create("dm-big")
    await follow(service, "dm-big")
    await _followed(service, "dm-big")
    before = service.patches()

    await service.driver.command("/inference", "scale dm-big 1 6", user=USER, channel=DM)
    waiting = await service.said_to(USER, "needs approval")
    assert waiting.channel == DM and "in the channel that owns dm-big" in waiting.all_text()
    request = await service.posted("Approval needed")
    assert "dm-big" in request.all_text() and "6 replicas (over 4)" in request.all_text()
    await asyncio.sleep(0.5)
    assert service.patches() == before

    await _deny(service, request, "not today")
    await service.fake.wait_for(
        lambda: next(
            (
                m
                for m in service.fake.messages
                if m.channel.startswith("D") and "was denied by" in m.all_text()
            ),
            None,
        ),
        timeout=15,
    )
    assert service.patches() == before
    # Within the threshold, the same DM acts at once: no new request.
    posts = len(service.fake.channel_messages(CHANNEL))
    await service.driver.command("/inference", "scale dm-big 1 3", user=USER, channel=DM)
    await service.wait(lambda: service.patches() == before + 1)
    await service.said_to(USER, "Scaled dm-big to 1-3")
    assert len(service.fake.channel_messages(CHANNEL)) == posts


async def test_an_unfollowed_workload_scaled_from_the_home_needs_no_approval(
    service: Service,
) -> None:
    free = await service.create("home-free")
    # Failed: on the user's Home under Needs attention, though no channel follows it.
    await service.phase(free.workload_id, "Failed")
    before = service.patches()
    view = await _home_scale(service, free.workload_id, 1, 8)
    # No bound channel owns it: no threshold applies, as before (the rights and caps do).
    await service.wait(lambda: service.patches() == before + 1)
    current = await service.runai.get_inference(free.workload_id)
    assert current.spec is not None and current.spec.autoscaling is not None
    assert current.spec.autoscaling.max_replicas == 8
    assert not _requests_for(service, "home-free")
    assert "needs approval" not in view.all_text()


async def test_home_metrics_uploads_the_chart_into_the_dm_it_opens(service: Service) -> None:
    charted = await service.create("home-chart")
    await follow(service, "home-chart")
    await _followed(service, "home-chart")
    await service.driver.event({"type": "app_home_opened", "user": USER, "tab": "home"})
    home = await service.wait(
        lambda: next(
            (h for h in reversed(service.fake.homes.get(USER, [])) if "home-chart" in str(h.view)),
            None,
        )
    )
    await service.driver.click(home, "inference_home_metrics", charted.workload_id, user=USER)
    said = await service.said_to(USER, "Chart posted")
    # Slack takes no user id as an upload's channel_id: the app's DM is opened, and the
    # chart is shared there, where the numbers are said too.
    opened = service.fake.calls_to("conversations.open", ok=True)
    assert opened and opened[0].args.get("users") == USER
    dm = opened[0].response["channel"]["id"]
    assert dm.startswith("D") and said.channel == dm
    assert "Chart posted in this DM" in said.all_text()
    uploads = service.fake.calls_to("files.completeUploadExternal")
    assert [c.args.get("channel_id") for c in uploads] == [dm] and uploads[0].ok
    shared = [m for m in service.fake.messages if m.files]
    assert [m.channel for m in shared] == [dm]
    assert shared[0].files[0].filename == "home-chart-metrics.png"
