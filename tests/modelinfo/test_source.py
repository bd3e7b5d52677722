"""MODEL_INFO_SOURCE: Run:ai, the Hub, or Run:ai falling back to the Hub on 404/405.

Against the real emulator (whose model-info route can be moved away) and the fake Hub,
both over sockets.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.config import Settings
from bot.modelinfo.hub import HubModelInfo
from bot.modelinfo.source import Mode, ModelInfoSource, Origin, build_source
from bot.runai import RunaiClient, errors
from bot.slack.errors import is_gated_refusal
from tests.conftest import EmulatorFactory, RunningEmulator
from tests.fakehub.harness import GATED_MODEL, GRANTED_TOKEN, RunningHub

MOVED = "/api/v2/somewhere-else/model-info"  # where an older control plane has nothing


@contextlib.asynccontextmanager
async def runai_of(emu: RunningEmulator) -> AsyncIterator[RunaiClient]:
    client = RunaiClient(emu.url, emu.client_id, emu.client_secret, timeout=5, max_retries=0)
    try:
        yield client
    finally:
        await client.aclose()


async def model_info_calls(emu: RunningEmulator) -> int:
    async with httpx.AsyncClient(base_url=emu.url) as control:
        calls: dict[str, int] = (await control.get("/emulator/stats")).json()["calls"]
    return sum(n for route, n in calls.items() if "model-info" in route)


async def test_auto_falls_back_to_the_hub_when_run_ai_answers_404(
    emulator_factory: EmulatorFactory, hub: RunningHub
) -> None:
    async with emulator_factory(model_info_path=MOVED) as emu, runai_of(emu) as runai:
        source = ModelInfoSource(Mode.AUTO, runai=runai, hub=HubModelInfo(hub.url))
        found = await source.model_info("Qwen/Qwen2.5-7B-Instruct")
    assert found.origin is Origin.HUGGINGFACE and found.fell_back
    assert found.origin.label == "the Hugging Face Hub"
    assert found.info.min_memory_requirements_mb == 17_431
    assert found.gated is False and found.parameters == 7_615_616_512
    assert [path for _, path, _ in hub.state.calls] == ["/api/models/Qwen/Qwen2.5-7B-Instruct"]


async def test_auto_falls_back_when_run_ai_answers_405(
    emulator: RunningEmulator, hub: RunningHub
) -> None:
    async with httpx.AsyncClient(base_url=emulator.url) as control:
        armed = await control.post(
            "/emulator/faults",
            json={"status": 405, "count": 1, "pathPrefix": "/api/v1/workloads/inferences/model"},
        )
        assert armed.status_code == 201, armed.text
    async with runai_of(emulator) as runai:
        source = ModelInfoSource("auto", runai=runai, hub=HubModelInfo(hub.url))
        found = await source.model_info("openai/whisper-small")
    assert found.origin is Origin.HUGGINGFACE
    assert found.info.pipeline_tag == "automatic-speech-recognition"


async def test_auto_uses_run_ai_when_it_answers(emulator: RunningEmulator, hub: RunningHub) -> None:
    async with runai_of(emulator) as runai:
        source = ModelInfoSource(Mode.AUTO, runai=runai, hub=HubModelInfo(hub.url))
        found = await source.model_info("Qwen/Qwen2.5-7B-Instruct")
    assert found.origin is Origin.RUNAI and not found.fell_back
    assert found.origin.label == "Run:ai"
    assert found.info.min_memory_requirements_mb == 17_431
    assert found.gated is None
    assert hub.state.calls == []


async def test_run_ai_saying_no_such_model_is_not_a_reason_to_ask_the_hub(
    emulator: RunningEmulator, hub: RunningHub
) -> None:
    async with runai_of(emulator) as runai:
        source = ModelInfoSource(Mode.AUTO, runai=runai, hub=HubModelInfo(hub.url))
        with pytest.raises(errors.NotFoundError) as caught:
            await source.model_info("nobody/nothing-7b")
    assert not isinstance(caught.value, errors.ModelInfoUnavailableError)
    assert hub.state.calls == []


async def test_runai_mode_never_asks_the_hub(
    emulator_factory: EmulatorFactory, hub: RunningHub
) -> None:
    async with emulator_factory(model_info_path=MOVED) as emu, runai_of(emu) as runai:
        source = ModelInfoSource(Mode.RUNAI, runai=runai, hub=HubModelInfo(hub.url))
        with pytest.raises(errors.ModelInfoUnavailableError):
            await source.model_info("Qwen/Qwen2.5-7B-Instruct")
    assert hub.state.calls == []


async def test_huggingface_mode_never_asks_run_ai(
    emulator: RunningEmulator, hub: RunningHub
) -> None:
    async with runai_of(emulator) as runai:
        source = ModelInfoSource(Mode.HUGGINGFACE, runai=runai, hub=HubModelInfo(hub.url))
        found = await source.model_info("google/vit-base-patch16-224")
    assert found.origin is Origin.HUGGINGFACE and not found.fell_back
    assert found.info.vllm_supporting_versions == []
    assert await model_info_calls(emulator) == 0


async def test_gated_after_fallback_asks_for_the_token_the_same_way(
    emulator_factory: EmulatorFactory, hub: RunningHub
) -> None:
    async with emulator_factory(model_info_path=MOVED) as emu, runai_of(emu) as runai:
        source = ModelInfoSource(Mode.AUTO, runai=runai, hub=HubModelInfo(hub.url))
        with pytest.raises(errors.UnauthorizedError) as refused:
            await source.model_info(GATED_MODEL)
        found = await source.model_info(GATED_MODEL, GRANTED_TOKEN)
        # Run:ai's own gated refusal, for comparison: the same type, both "gated" to Slack.
        async with emulator_factory() as plain, runai_of(plain) as plain_runai:
            with pytest.raises(errors.UnauthorizedError) as runai_refused:
                await plain_runai.model_info(GATED_MODEL)
    assert is_gated_refusal(refused.value) and is_gated_refusal(runai_refused.value)
    assert found.origin is Origin.HUGGINGFACE and found.gated == "manual"
    assert found.info.model_name == GATED_MODEL


def test_a_mode_needs_its_parts() -> None:
    with pytest.raises(ValueError, match="needs the Hub"):
        ModelInfoSource(Mode.AUTO, runai=object(), hub=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs the Run:ai client"):
        ModelInfoSource(Mode.RUNAI, runai=None, hub=None)
    with pytest.raises(ValueError):
        ModelInfoSource("elsewhere", runai=None, hub=None)


def test_build_source_follows_the_settings() -> None:
    runai: Any = object()
    assert build_source(Settings(model_info_source="runai"), runai).mode is Mode.RUNAI
    auto = build_source(Settings(hf_endpoint="http://hub.internal:8080"), runai)
    assert auto.mode is Mode.AUTO
    assert auto._hub is not None and auto._hub.endpoint == "http://hub.internal:8080"
    assert build_source(Settings(model_info_source="huggingface"), None).mode is Mode.HUGGINGFACE
