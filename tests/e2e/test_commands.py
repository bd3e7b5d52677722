"""`/inference` end to end: signed requests to the real app in HTTP mode, the emulator behind
it, and assertions on what the fake Slack received."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.fakeslack import RESPONSE_URL, RunningFakeSlack
from bot.runai import models
from tests.conftest import RunningEmulator
from tests.e2e.slack_harness import CHANNEL, HOSTILE, USER, Bot, running_bot

pytest_plugins = ["tests.fakes.fixtures"]


@pytest.fixture
async def bot(emulator: RunningEmulator, fake_slack: RunningFakeSlack) -> AsyncIterator[Bot]:
    async with running_bot(emulator, fake_slack) as running:
        yield running


def _escaped_everywhere(text: str) -> None:
    for raw in ("<!channel>", "<@U123>", "<https://evil|click>"):
        assert raw not in text, f"{raw} reached Slack unescaped"


async def test_help_is_in_the_ack(bot: Bot) -> None:
    response = await bot.driver.command("/inference", "help")
    assert response.status_code == 200
    message = await bot.reply_with("/inference help")
    for word in (
        "model",
        "create",
        "status",
        "scale",
        "update",
        "delete",
        "metrics",
        "watch",
        "unwatch",
        "list",
    ):
        assert f"/inference {word}" in str(message.blocks)


async def test_empty_command_is_help(bot: Bot) -> None:
    await bot.driver.command("/inference", "")
    await bot.reply_with("/inference help")


async def test_unknown_subcommand_gets_short_help(bot: Bot) -> None:
    await bot.driver.command("/inference", "frobnicate now")
    message = await bot.reply_with("frobnicate")
    assert "I don't know" in message.text
    assert "`scale`" in str(message.blocks)
    assert "Traceback" not in str(message.blocks)


async def test_non_numeric_replicas_is_refused_in_the_ack(bot: Bot) -> None:
    await bot.create("llama-chat")
    await bot.driver.command("/inference", "scale llama-chat two")
    message = await bot.reply_with("whole number")
    assert "/inference scale" in str(message.blocks)
    assert bot.watcher.records == []


async def test_min_above_max_is_refused(bot: Bot) -> None:
    await bot.driver.command("/inference", "scale llama-chat 3 1")
    await bot.reply_with("can't be more than max")


async def test_hostile_command_text_is_escaped(bot: Bot) -> None:
    await bot.driver.command("/inference", f"status {HOSTILE}")
    message = await bot.reply_with("not a workload name")
    _escaped_everywhere(message.text + str(message.blocks))
    assert "&lt;!channel&gt;" in str(message.blocks)


async def test_status_of_a_named_workload(bot: Bot) -> None:
    created = await bot.create("llama-chat")
    await bot.driver.command("/inference", "status llama-chat")
    message = await bot.reply_with("llama-chat")
    blocks = str(message.blocks)
    assert "team-a" in blocks and "vllm/vllm-openai:v0.6.3" in blocks
    assert created.workload_id in blocks


async def test_status_by_id(bot: Bot) -> None:
    created = await bot.create("by-id")
    await bot.driver.command("/inference", f"status {created.workload_id}")
    await bot.reply_with("by-id")


async def test_unknown_name(bot: Bot) -> None:
    await bot.driver.command("/inference", "status ghost")
    message = await bot.reply_with("no inference named ghost")
    assert message.ephemeral_to == USER


async def test_hostile_phase_message_is_escaped(bot: Bot) -> None:
    created = await bot.create("victim")
    async with httpx.AsyncClient(base_url=bot.emu.url) as http:
        r = await http.post(
            f"/emulator/workloads/{created.workload_id}/phase",
            json={"phase": "Failed", "message": f"OOM {HOSTILE}"},
        )
        assert r.status_code == 200
    await bot.driver.command("/inference", "status victim")
    message = await bot.reply_with("OOM")
    text = message.text + str(message.blocks)
    _escaped_everywhere(text)
    assert "&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil|click&gt; &amp;" in text


async def test_hostile_labels_are_escaped(bot: Bot) -> None:
    await bot.create("labelled", labels=[models.NameValue(name="team", value=HOSTILE)])
    await bot.driver.command("/inference", "status labelled")
    message = await bot.reply_with("Labels")
    text = str(message.blocks)
    _escaped_everywhere(text)
    assert "team=&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil|click&gt; &amp;" in text


async def test_ambiguous_name_asks_which_one(bot: Bot) -> None:
    first = await bot.create("twin", project_id="1")
    second = await bot.create("twin", project_id="2")
    await bot.driver.command("/inference", "status twin")
    question = await bot.reply_with("Which one")
    blocks = str(question.blocks)
    assert "team-a" in blocks and "team-b" in blocks
    # Pick the team-b one: the command runs again with its id.
    buttons = question.blocks[1]["elements"]
    chosen = next(b for b in buttons if "team-b" in b["text"]["text"])
    await bot.driver.click(question, chosen["action_id"])
    answer = await bot.reply(lambda m: m is not question and "twin is" in m.text)
    assert second.workload_id in str(answer.blocks)
    assert first.workload_id not in str(answer.blocks)


async def test_scale_with_numbers_patches_autoscaling(bot: Bot) -> None:
    created = await bot.create("scaler")
    await bot.driver.command("/inference", "scale scaler 2")
    await bot.reply_with("Scaled scaler to 2 replicas")
    current = await bot.runai.get_inference(created.workload_id)
    assert current.spec is not None and current.spec.autoscaling is not None
    assert (current.spec.autoscaling.min_replicas, current.spec.autoscaling.max_replicas) == (2, 2)
    assert bot.watcher.records == [
        (created.workload_id, "scale", USER, "Scaled scaler to 2 replicas.")
    ]


async def test_scale_to_a_range_needs_a_metric(bot: Bot) -> None:
    await bot.create("ranged")
    await bot.driver.command("/inference", "scale ranged 1 4")
    await bot.reply_with("need an autoscaling metric")
    assert bot.watcher.records == []


async def test_scale_keeps_the_current_metric(bot: Bot) -> None:
    created = await bot.create(
        "metered",
        autoscaling=models.AutoScaling(
            min_replicas=1, max_replicas=2, metric="concurrency", metric_threshold=8
        ),
    )
    await bot.driver.command("/inference", "scale metered 1 5")
    await bot.reply_with("Scaled metered to 1-5 replicas (concurrency 8)")
    current = await bot.runai.get_inference(created.workload_id)
    assert current.spec is not None and current.spec.autoscaling is not None
    assert current.spec.autoscaling.max_replicas == 5


async def test_delete_asks_first_then_deletes(bot: Bot) -> None:
    created = await bot.create("doomed")
    await bot.driver.command("/inference", "delete doomed")
    confirm = await bot.reply_with("Delete *doomed*")
    button = confirm.blocks[1]["elements"][0]
    assert button["style"] == "danger" and "confirm" in button
    # Nothing is deleted before the click.
    still = await bot.runai.get_workload(created.workload_id)
    assert still.phase != models.Phase.DELETING
    # The confirm dialog cancelled: nothing is sent.
    assert await bot.driver.click(confirm, button["action_id"], confirm=False) is None
    await bot.driver.click(confirm, button["action_id"])

    def replaced() -> bool:
        return "Deleting doomed" in confirm.text

    await bot.fake.wait_for(replaced, timeout=10)
    assert bot.watcher.records[-1][:3] == (created.workload_id, "delete", USER)
    gone = await bot.runai.get_inference(created.workload_id)
    assert gone.desired_phase == models.DesiredPhase.DELETED or gone.actual_phase in (
        models.Phase.DELETING,
        None,
    )


async def test_delete_cancel_keeps_it(bot: Bot) -> None:
    created = await bot.create("kept")
    await bot.driver.command("/inference", "delete kept")
    confirm = await bot.reply_with("Delete *kept*")
    await bot.driver.click(confirm, "inference_cancel_delete")
    await bot.fake.wait_for(lambda: "nothing was deleted" in confirm.text, timeout=10)
    still = await bot.runai.get_workload(created.workload_id)
    assert still.phase != models.Phase.DELETING
    assert bot.watcher.records == []


async def test_metrics_uploads_a_png_and_says_the_numbers(bot: Bot) -> None:
    await bot.create("busy")
    await bot.driver.command("/inference", "metrics busy --since 2h")
    numbers = await bot.reply_with("p95")
    assert "Throughput" in str(numbers.blocks) and "Latency" in str(numbers.blocks)

    def uploaded() -> object:
        return [f for f in bot.fake.files.values() if f.completed and f.content]

    files = await bot.fake.wait_for(uploaded, timeout=10)
    png = files[0]
    assert png.content is not None and png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert CHANNEL in png.channels
    assert png.initial_comment and "p95" in png.initial_comment


async def test_a_partial_metrics_answer_says_which_series_is_missing(bot: Bot) -> None:
    created = await bot.create("half-measured")
    path = f"/api/v1/workloads/inferences/{created.workload_id}/metrics"
    async with httpx.AsyncClient(base_url=bot.emu.url) as http:
        armed = await http.post(
            "/emulator/faults", json={"status": 207, "count": 1, "pathPrefix": path}
        )
        armed.raise_for_status()
    await bot.driver.command("/inference", "metrics half-measured")
    message = await bot.reply_with("No latency samples in this window.")
    assert "Throughput" in str(message.blocks) and "p95" in str(message.blocks)
    assert "*Latency*" not in str(message.blocks)


async def test_metrics_of_a_pod(bot: Bot) -> None:
    created = await bot.create("podded")
    record = bot.emu.state.get(created.workload_id)

    def pods() -> object:
        return record.pod_ids(bot.emu.state.now())

    pod = sorted(await bot.fake.wait_for(pods, timeout=10))[0]  # type: ignore[call-overload]
    await bot.driver.command("/inference", f"metrics podded --pod {pod}")
    message = await bot.reply_with("Chart posted")
    assert pod in message.text
    await bot.driver.command("/inference", "metrics podded --pod no-such-pod")
    await bot.reply_with("podded has no pod no-such-pod")


async def test_watch_and_unwatch_call_the_watcher(bot: Bot) -> None:
    created = await bot.create("followed")
    await bot.driver.command("/inference", "watch followed")
    await bot.reply_with("Following followed here")
    assert bot.watcher.watched == [(created.workload_id, CHANNEL, USER, "watch")]
    await bot.driver.command("/inference", "unwatch followed")
    await bot.reply_with("Stopped following followed")
    assert bot.watcher.unwatched == [(created.workload_id, CHANNEL)]


async def test_list_marks_what_this_channel_follows(bot: Bot) -> None:
    followed = await bot.create("alpha")
    await bot.create("beta")
    bot.watcher.following[CHANNEL] = {followed.workload_id}
    await bot.driver.command("/inference", "list")
    message = await bot.reply_with("Inference workloads")
    lines = [str(b) for b in message.blocks if b["type"] == "section"]
    alpha = next(line for line in lines if "alpha" in line)
    beta = next(line for line in lines if "beta" in line)
    assert "followed here" in alpha and "followed here" not in beta


async def poll_phase(bot: Bot, name: str, phase: str, within: float = 10.0) -> None:
    """Wait until the emulator shows workload `name` in `phase`."""
    [found] = await bot.runai.find_inferences(name)
    for _ in range(int(within / 0.05)):
        if (await bot.runai.get_workload(found.id)).phase == phase:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never reached {phase}")


async def test_list_narrowed_by_name_phase_and_project_keeps_its_filters_on_every_page(
    bot: Bot,
) -> None:
    bot.deps.list_page_size = 2
    for name in ("llama-1", "llama-2", "llama-3", "qwen-1"):
        await bot.create(name)
    await bot.create("llama-other", project_id="2")
    await bot.create("llama-broken", image="registry.example/fail-on-start:1")
    await bot.driver.command("/inference", "list llama --project team-a")
    first = await bot.reply_with("named *llama* · in team-a")
    shown = str(first.blocks)
    assert "llama-1" in shown and "llama-2" in shown
    assert "qwen-1" not in shown and "llama-other" not in shown
    await bot.driver.click(first, "inference_list_page")
    await bot.fake.wait_for(lambda: "llama-3" in str(first.blocks), timeout=10)
    later = str(first.blocks)
    assert "llama-other" not in later and "qwen-1" not in later  # page 2 kept the filters
    assert "named *llama* · in team-a" in later

    await poll_phase(bot, "llama-broken", "Failed")
    await bot.driver.command("/inference", "list --phase failed")
    failed = await bot.reply_with("Failed")
    assert "llama-broken" in str(failed.blocks) and "llama-1" not in str(failed.blocks)

    await bot.driver.command("/inference", "list nothing-like-it")
    await bot.reply_with("No inference workloads named *nothing-like-it*")


async def test_list_pages(bot: Bot) -> None:
    bot.deps.list_page_size = 2
    for name in ("p-a", "p-b", "p-c"):
        await bot.create(name)
    await bot.driver.command("/inference", "list")
    first = await bot.reply_with("Next page")
    assert "p-c" not in str(first.blocks)
    await bot.driver.click(first, "inference_list_page")
    await bot.fake.wait_for(lambda: "p-c" in str(first.blocks), timeout=10)
    await bot.driver.click(first, "inference_list_page_prev")
    await bot.fake.wait_for(lambda: "p-a" in str(first.blocks), timeout=10)


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (401, "credentials were refused"),
        (403, "service account may not read ghostly"),
        (404, "no inference named ghostly"),
        (503, "Run:ai is unavailable"),
    ],
)
async def test_runai_errors_become_one_sentence(bot: Bot, status: int, words: str) -> None:
    # Warm the token first, then fail the workloads API itself.
    await bot.runai.list_projects()
    await bot.fault(status, path_prefix="/api/v1/workloads")
    await bot.driver.command("/inference", "status ghostly")
    message = await bot.reply_with(words)
    assert "Traceback" not in message.text + str(message.blocks)
    await bot.clear_faults()


async def test_slack_429_on_the_chart_upload_is_retried(bot: Bot) -> None:
    await bot.create("limited")
    bot.fake.fail_next("files.getUploadURLExternal", status=429, retry_after=1)
    await bot.driver.command("/inference", "metrics limited")
    await bot.reply_with("Chart posted in the channel")
    calls = bot.fake.calls_to("files.getUploadURLExternal")
    assert [c.status for c in calls] == [429, 200]
    assert 1 <= bot.slack_sleep.waits[0] < 2  # Retry-After: 1, plus jitter
    assert bot.fake.calls_to("files.completeUploadExternal", ok=True)


async def test_slack_429_on_a_response_url_reply_is_retried(bot: Bot) -> None:
    await bot.create("throttled")
    bot.fake.fail_next(RESPONSE_URL, status=429, retry_after=1)
    await bot.driver.command("/inference", "status throttled")
    message = await bot.reply_with("throttled")
    assert message.source == "response_url"
    assert [r.status for r in bot.fake.responses] == [429, 200]
    assert not bot.fake.calls_to("chat.postEphemeral")  # answered once, where asked
    assert 1 <= bot.slack_sleep.waits[0] < 2  # Retry-After: 1, plus jitter


async def test_a_response_url_that_keeps_failing_still_answers_once(bot: Bot) -> None:
    await bot.create("unlucky")
    bot.fake.fail_next(RESPONSE_URL, status=503, retry_after=0, count=10)
    await bot.driver.command("/inference", "status unlucky")
    message = await bot.reply_with("unlucky")
    assert message.source != "response_url"  # the fallback: chat.postEphemeral
    assert [r.status for r in bot.fake.responses] == [503, 503, 503]  # first try, 2 retries
    assert len(bot.slack_sleep.waits) == 2  # a backoff before each retry
    assert len([m for m in bot.fake.messages if "unlucky" in str(m.blocks)]) == 1


async def test_an_expired_response_url_falls_back_to_an_ephemeral(bot: Bot) -> None:
    await bot.create("late")
    bot.fake.fail_next(RESPONSE_URL, error="expired_url", status=404)
    await bot.driver.command("/inference", "status late")
    message = await bot.reply_with("late")
    assert message.ephemeral_to == USER
    assert [c.status for c in bot.fake.calls_to("chat.postEphemeral")] == [200]


async def test_slack_500_on_the_channel_post_is_retried(bot: Bot) -> None:
    await bot.create("five-hundred")
    bot.fake.fail_next("files.completeUploadExternal", status=500)
    await bot.driver.command("/inference", "metrics five-hundred")
    await bot.reply_with("Chart posted in the channel")
    statuses = [c.status for c in bot.fake.calls_to("files.completeUploadExternal")]
    assert statuses == [500, 200]
    assert len(bot.slack_sleep.waits) == 1  # a backoff before the retry


async def test_chart_refused_by_slack_still_gives_the_numbers(bot: Bot) -> None:
    await bot.create("outsider")
    bot.fake.fail_next("files.getUploadURLExternal", error="not_in_channel")
    await bot.driver.command("/inference", "metrics outsider")
    message = await bot.reply_with("invite me")
    assert "p95" in str(message.blocks)
