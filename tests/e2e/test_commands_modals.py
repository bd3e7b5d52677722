"""Modals end to end: create, scale, update, Hugging Face token; inline errors; slow Run:ai;
Slack refusing or rate-limiting views."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.emulator.org import ProjectInfo
from bot.fakeslack import RunningFakeSlack, ViewRecord
from bot.runai import RunaiClient, models
from bot.slack.app import make_slack_client
from bot.slack.threads import thread_message
from bot.watch.runtime import WatchTuning, start_watch
from tests.conftest import RunningEmulator
from tests.e2e.slack_harness import CHANNEL, CREATE_FORM, USER, Bot, running_bot

pytest_plugins = ["tests.fakes.fixtures"]

CLUSTER = "71f69d83-ba66-4822-adf5-55ce55efd210"
VALID = CREATE_FORM


@pytest.fixture
async def bot(emulator: RunningEmulator, fake_slack: RunningFakeSlack) -> AsyncIterator[Bot]:
    async with running_bot(emulator, fake_slack) as running:
        yield running


def _input(view: ViewRecord, block_id: str) -> dict[str, object]:
    return next(b for b in view.blocks if b.get("block_id") == block_id)


async def _create_form(bot: Bot) -> ViewRecord:
    await bot.driver.command("/inference", "create")
    return await bot.view("inference_create")


async def _slow_next_create(bot: Bot, latency_ms: int) -> None:
    """The emulator answers the next create (POST /inferences) after `latency_ms`."""
    async with httpx.AsyncClient(base_url=bot.emu.url) as http:
        r = await http.post(
            "/emulator/faults",
            json={
                "count": 1,
                "latencyMs": latency_ms,
                "pathPrefix": "/api/v1/workloads/inferences",
                "method": "POST",
            },
        )
        r.raise_for_status()


async def test_create_modal_lists_projects_and_preselects_the_cluster(bot: Bot) -> None:
    view = await _create_form(bot)
    project = _input(view, "f_project")["element"]
    assert {o["text"]["text"] for o in project["options"]} >= {"team-a", "team-b"}  # type: ignore[index]
    cluster = _input(view, "f_cluster")["element"]
    assert cluster["initial_option"]["value"] == CLUSTER  # type: ignore[index]
    assert bot.fake.calls_to("views.open")[0].args["view"]["callback_id"] in (
        "inference_loading",
        "inference_create",
    )


def _many_projects(emulator: RunningEmulator, count: int) -> None:
    for i in range(count):
        pid = str(100 + i)
        emulator.state.projects[pid] = ProjectInfo(pid, f"ml-{i:03d}")


async def test_more_projects_than_a_select_holds_are_searched_as_you_type(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack
) -> None:
    _many_projects(emulator, 150)  # 152 with team-a and team-b; Slack's select holds 100
    async with running_bot(emulator, fake_slack) as bot:
        view = await _create_form(bot)
        element = _input(view, "f_project")["element"]
        assert element["type"] == "external_select"  # type: ignore[index]
        assert "152 projects" in view.all_text()

        async def offered(typed: str) -> list[str]:
            ack = await bot.driver.suggest(view, "f_project", typed)
            assert ack.status_code == 200
            return [o["text"]["text"] for o in ack.json()["options"]]

        assert len(await offered("")) == 100  # the first 100, by name
        assert await offered("ML-14") == [f"ml-14{i}" for i in range(10)]  # case ignored
        assert await offered("team") == ["team-a", "team-b"]
        assert await offered("nothing-like-it") == []

        await bot.driver.submit_view(view, {**VALID, "f_project": "149"})  # ml-049
        await bot.fake.wait_for(lambda: view.closed or None)
        [created] = await bot.runai.find_inferences(VALID["f_name"])
        assert created.project_id == "149"


async def test_a_few_projects_stay_a_plain_select(bot: Bot) -> None:
    view = await _create_form(bot)
    element = _input(view, "f_project")["element"]
    assert element["type"] == "static_select"  # type: ignore[index]
    assert "min_query_length" not in element


async def test_project_search_while_run_ai_is_away_offers_nothing(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack
) -> None:
    _many_projects(emulator, 120)
    async with running_bot(emulator, fake_slack) as bot:
        view = await _create_form(bot)
        bot.deps.orgs._value = None  # the cache expired: the search must ask Run:ai
        await bot.fault(503)
        ack = await bot.driver.suggest(view, "f_project", "ml")
        assert ack.status_code == 200 and ack.json() == {"options": []}


async def test_create_inline_errors_then_success(bot: Bot) -> None:
    view = await _create_form(bot)
    await bot.driver.submit_view(
        view,
        {
            **VALID,
            "f_name": "Bad Name",
            "f_min_replicas": "3",
            "f_max_replicas": "1",
            "f_env": "1BAD=x",
        },
    )
    assert set(view.errors) == {"f_name", "f_max_replicas", "f_env"}
    assert not view.closed
    assert await bot.runai.find_inferences("qwen-small") == []

    await bot.driver.submit_view(view, VALID)
    assert view.closed
    created = await bot.runai.find_inferences("qwen-small")
    assert len(created) == 1
    spec = (await bot.runai.get_inference(created[0].id)).spec
    assert spec is not None and spec.compute is not None and spec.autoscaling is not None
    assert spec.compute.gpu_memory_request == "2Gi" and spec.compute.gpu_request_type == "memory"
    assert spec.autoscaling.metric == "concurrency"
    assert spec.environment_variables and spec.environment_variables[0].name == "HF_HUB_OFFLINE"

    def watched() -> object:
        return bot.watcher.watched

    await bot.fake.wait_for(watched, timeout=10)
    assert bot.watcher.watched == [(created[0].id, CHANNEL, USER, "create")]


async def test_create_name_taken_comes_back_inline(bot: Bot) -> None:
    await bot.create("taken")
    view = await _create_form(bot)
    await bot.driver.submit_view(view, {**VALID, "f_name": "taken"})
    assert not view.closed
    assert "Already used" in view.errors["f_name"]


async def test_create_api_400_keeps_the_form_with_the_reason(bot: Bot) -> None:
    view = await _create_form(bot)
    await bot.runai.list_projects()
    await bot.fault(400, count=1, path_prefix="/api/v1/workloads/inferences")
    await bot.driver.submit_view(view, VALID)
    assert not view.closed
    top = str(view.blocks[0])
    assert "Run:ai refused the request" in top
    assert _input(view, "f_name")["element"]["initial_value"] == "qwen-small"  # type: ignore[index]
    assert bot.watcher.watched == []


async def test_create_when_runai_is_slow_finishes_in_the_modal(bot: Bot) -> None:
    bot.deps.submit_budget = 0.2
    view = await _create_form(bot)
    await bot.runai.list_projects()
    await _slow_next_create(bot, latency_ms=600)  # thrice the budget: too late for it
    await bot.driver.submit_view(view, VALID)
    assert not view.closed and view.callback_id == "inference_loading"
    await bot.fake.wait_for(lambda: view.callback_id == "inference_result", timeout=10)
    assert "submitted" in str(view.blocks)
    await bot.fake.wait_for(lambda: bot.watcher.watched, timeout=10)


async def test_create_with_an_expired_trigger_says_so(bot: Bot) -> None:
    bot.fake.trigger_ttl = 0.0
    await bot.driver.command("/inference", "create")
    message = await bot.reply_with("allows 3 seconds")
    assert "run the command again" in message.text


async def test_views_open_rate_limited_is_retried(bot: Bot) -> None:
    bot.fake.fail_next("views.open", status=429, retry_after=1)
    view = await _create_form(bot)
    assert view.callback_id == "inference_create"
    opens = bot.fake.calls_to("views.open")
    assert [c.status for c in opens] == [429, 200]
    assert 1 <= bot.slack_sleep.waits[0] < 2  # Retry-After: 1, plus jitter


async def test_scale_modal_prefilled_validated_and_applied(bot: Bot) -> None:
    created = await bot.create("scaler")
    await bot.driver.command("/inference", "scale scaler")
    view = await bot.view("inference_scale")
    assert _input(view, "f_min_replicas")["element"]["initial_value"] == "1"  # type: ignore[index]
    await bot.driver.submit_view(view, {"f_min_replicas": "3", "f_max_replicas": "1"})
    assert "f_max_replicas" in view.errors and not view.closed
    await bot.driver.submit_view(view, {"f_min_replicas": "x"})
    assert "whole number" in view.errors["f_min_replicas"]
    await bot.driver.submit_view(
        view,
        {
            "f_min_replicas": "1",
            "f_max_replicas": "3",
            "f_metric": "throughput",
            "f_threshold": "20",
        },
    )
    assert view.closed
    spec = (await bot.runai.get_inference(created.workload_id)).spec
    assert spec is not None and spec.autoscaling is not None
    assert (spec.autoscaling.max_replicas, spec.autoscaling.metric) == (3, "throughput")
    await bot.fake.wait_for(lambda: bot.watcher.records, timeout=10)
    assert bot.watcher.records[0][:2] == (created.workload_id, "scale")


async def test_update_modal_sends_only_what_changed(bot: Bot) -> None:
    created = await bot.create("upd", args="--model a")
    await bot.driver.command("/inference", "update upd")
    view = await bot.view("inference_update")
    image = _input(view, "f_image")["element"]["initial_value"]  # type: ignore[index]
    assert image == "vllm/vllm-openai:v0.6.3"
    await bot.driver.submit_view(view, {})
    assert "Nothing changed" in view.errors["f_image"]
    await bot.driver.submit_view(view, {"f_image": "vllm/vllm-openai:v0.7.0"})
    assert view.closed
    spec = (await bot.runai.get_inference(created.workload_id)).spec
    assert spec is not None and spec.image == "vllm/vllm-openai:v0.7.0" and spec.args == "--model a"
    await bot.fake.wait_for(lambda: bot.watcher.records, timeout=10)
    assert bot.watcher.records[0][1] == "update" and "image" in bot.watcher.records[0][3]


async def test_model_info_then_deploy_opens_a_prefilled_form(bot: Bot) -> None:
    await bot.driver.command("/inference", "model Qwen/Qwen2.5-0.5B-Instruct")
    card = await bot.reply_with("Qwen2ForCausalLM")
    blocks = str(card.blocks)
    assert "text-generation" in blocks and "GiB" in blocks
    await bot.driver.click(card, "inference_deploy")
    view = await bot.view("inference_create")
    image = _input(view, "f_image")["element"]["initial_value"]  # type: ignore[index]
    assert str(image).startswith("vllm/vllm-openai:v")
    assert _input(view, "f_args")["element"]["initial_value"] == (  # type: ignore[index]
        "--model Qwen/Qwen2.5-0.5B-Instruct"
    )
    assert str(_input(view, "f_gpu_memory")["element"]["initial_value"]).endswith("Gi")  # type: ignore[index]


async def test_unknown_model(bot: Bot) -> None:
    await bot.driver.command("/inference", "model nobody/nothing-here")
    await bot.reply_with("Hugging Face has no model nobody/nothing-here")


async def test_gated_model_asks_for_a_token_and_never_echoes_it(bot: Bot) -> None:
    secret = "hf_TopSecretToken123"
    await bot.driver.command("/inference", "model meta-llama/Llama-3.1-8B-Instruct")
    view = await bot.view("inference_hf_token")
    await bot.driver.submit_view(view, {"f_hf_token": "not a token"})
    assert "f_hf_token" in view.errors
    await bot.driver.submit_view(view, {"f_hf_token": secret})
    assert view.closed
    card = await bot.reply_with("LlamaForCausalLM")
    assert "Gated" in str(card.blocks)
    for call in bot.fake.calls:
        assert secret not in str(call.args)
    for message in bot.fake.messages:
        assert secret not in message.text + str(message.blocks)


async def test_create_posts_the_parent_through_the_real_watch_room(
    emulator: RunningEmulator, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    settings = Settings(
        slack_bot_token="xoxb-e2e",
        slack_api_url=fake_slack.api_url,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'watch.db'}",
        poll_interval_seconds=0.5,
    )
    async with RunaiClient(emulator.url, emulator.client_id, emulator.client_secret) as runai:
        runtime = await start_watch(
            settings,
            runai,
            make_slack_client(settings),
            WatchTuning(lease_renew_every=0.5),
            render=thread_message,
        )
        try:
            async with running_bot(emulator, fake_slack, watcher=runtime.watcher) as bot:
                view = await _create_form(bot)
                await bot.driver.submit_view(view, VALID)
                assert view.closed

                def parent() -> object:
                    return [m for m in bot.fake.channel_messages(CHANNEL) if "qwen-small" in m.text]

                messages = await bot.fake.wait_for(parent, timeout=15)
                assert messages[0].ephemeral_to is None
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 10
                while not await runtime.watcher.watched_in(CHANNEL):
                    assert loop.time() < deadline, "the watch was never stored"
                    await asyncio.sleep(0.05)
                assert len(await runtime.watcher.watched_in(CHANNEL)) == 1
        finally:
            await runtime.stop()


async def test_phases_in_list_after_create(bot: Bot) -> None:
    created = await bot.create("lister")
    await bot.driver.command("/inference", "list")
    message = await bot.reply_with("lister")
    assert any(p.value in str(message.blocks) for p in models.Phase)
    assert created.workload_id not in str(message.blocks)


async def test_slack_429_on_the_ephemeral_after_a_modal_is_retried(bot: Bot) -> None:
    await bot.create("ephemeral-limited")
    await bot.driver.command("/inference", "scale ephemeral-limited")
    view = await bot.view("inference_scale")
    bot.fake.fail_next("chat.postEphemeral", status=429, retry_after=1)
    await bot.driver.submit_view(view, {"f_min_replicas": "2", "f_max_replicas": "2"})
    assert view.closed
    await bot.reply_with("Scaled ephemeral-limited to 2 replicas")
    assert [c.status for c in bot.fake.calls_to("chat.postEphemeral")] == [429, 200]
    assert 1 <= bot.slack_sleep.waits[0] < 2  # Retry-After: 1, plus jitter


async def test_gated_model_with_a_stale_trigger_offers_a_button(bot: Bot) -> None:
    bot.fake.trigger_ttl = 0.0
    await bot.driver.command("/inference", "model google/gemma-2-9b-it")
    offer = await bot.reply_with("Enter a Hugging Face token")
    assert "gated" in offer.text
    bot.fake.trigger_ttl = 3.0
    await bot.driver.click(offer, "inference_enter_hf_token")
    view = await bot.view("inference_hf_token")
    assert "google/gemma-2-9b-it" in str(view.blocks)


async def test_unknown_name_in_a_modal_flow_is_told_in_the_modal(bot: Bot) -> None:
    await bot.driver.command("/inference", "scale ghost")
    view = await bot.view("inference_result")
    assert "There is no inference named ghost" in str(view.blocks)


async def test_ambiguous_name_in_a_modal_flow(bot: Bot) -> None:
    await bot.create("twin-up", project_id="1")
    second = await bot.create("twin-up", project_id="2")
    await bot.driver.command("/inference", "update twin-up")
    waiting = await bot.view("inference_result")
    assert "pick one" in str(waiting.blocks)
    question = await bot.reply_with("Which one")
    buttons = question.blocks[1]["elements"]
    chosen = next(b for b in buttons if "team-b" in b["text"]["text"])
    assert second.workload_id in chosen["value"]
    await bot.driver.click(question, chosen["action_id"])
    form = await bot.view("inference_update")
    assert second.workload_id in form.private_metadata


async def test_double_submit_creates_once(bot: Bot) -> None:
    bot.deps.submit_budget = 0.2
    view = await _create_form(bot)
    await bot.runai.list_projects()
    await _slow_next_create(bot, latency_ms=600)
    # The same form delivered twice at once (a double click, a retried delivery).
    await asyncio.gather(bot.driver.submit_view(view, VALID), bot.driver.submit_view(view, VALID))
    await bot.fake.wait_for(lambda: view.callback_id == "inference_result", timeout=10)
    assert len(await bot.runai.find_inferences("qwen-small")) == 1
    assert bot.emu.state.stats.count("POST", "/api/v1/workloads/inferences") == 1


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (403, "service account may not create inference workloads in this project"),
        (503, "Run:ai is unavailable"),
    ],
)
async def test_create_refused_by_runai_keeps_the_form(bot: Bot, status: int, words: str) -> None:
    view = await _create_form(bot)
    await bot.runai.list_projects()
    await bot.fault(status, count=10, path_prefix="/api/v1/workloads/inferences")
    await bot.driver.submit_view(view, VALID)
    assert not view.closed
    assert words in str(view.blocks[0])
    assert _input(view, "f_image")["element"]["initial_value"] == VALID["f_image"]  # type: ignore[index]
    await bot.clear_faults()
    assert await bot.runai.find_inferences("qwen-small") == []


async def test_update_never_cuts_a_value_too_long_for_slack(bot: Bot) -> None:
    long_args = "--flag value " * 300  # 3,900 characters: more than an input holds
    created = await bot.create("verbose", args=long_args)
    await bot.driver.command("/inference", "update verbose")
    view = await bot.view("inference_update")
    args = _input(view, "f_args")
    assert "initial_value" not in args["element"]  # type: ignore[operator]
    assert "kept as it is" in str(args["hint"])
    await bot.driver.submit_view(view, {"f_image": "vllm/vllm-openai:v0.7.0"})
    assert view.closed
    spec = (await bot.runai.get_inference(created.workload_id)).spec
    assert spec is not None and spec.image == "vllm/vllm-openai:v0.7.0"
    assert spec.args == long_args
