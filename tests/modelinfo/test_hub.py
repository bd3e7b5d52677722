"""The Hub model-info source against the fake Hub, through the real huggingface_hub."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from huggingface_hub import ModelInfo as HfModelInfo
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.config import Settings
from bot.emulator import catalog
from bot.modelinfo import hub as hub_source
from bot.modelinfo.hub import HubModelInfo, HubUnavailableError
from bot.modelinfo.source import build_source
from bot.runai import errors
from bot.serving import serve
from bot.slack.errors import is_gated_refusal
from tests.conftest import free_port
from tests.fakehub.harness import (
    GATED_MODEL,
    GRANTED_TOKEN,
    UNGRANTED_TOKEN,
    RunningHub,
    running_fake_hub,
)


@pytest.mark.parametrize(
    "name",
    [
        "Qwen/Qwen2.5-7B-Instruct",
        "microsoft/phi-4",
        "BAAI/bge-m3",
        "openai/whisper-large-v3",
        "google/vit-base-patch16-224",
        "Qwen/Qwen3-30B-A3B",
    ],
)
async def test_hub_answer_equals_the_emulators(hub: RunningHub, name: str) -> None:
    # One rule for memory and one table for vLLM: both paths must say the same.
    info = await HubModelInfo(hub.url).model_info(name)
    emulated = catalog.model_info({"modelName": name})
    assert info.to_api() == emulated


async def test_lookup_reports_what_only_the_hub_knows() -> None:
    async with running_fake_hub(tokens=None) as open_hub:  # any hf_ token reads everything
        answer = await HubModelInfo(open_hub.url).lookup(
            "mistralai/Mixtral-8x7B-Instruct-v0.1", "hf_any"
        )
    assert answer.gated == "auto"
    assert answer.parameters == 46_702_792_704
    assert answer.info.min_memory_requirements_mb == 106_895  # ceil(46.7e9 * 2.4 / 2**20)
    assert answer.library_name == "transformers"


async def test_gated_without_token_is_the_run_ai_gated_refusal(hub: RunningHub) -> None:
    with pytest.raises(errors.UnauthorizedError) as caught:
        await HubModelInfo(hub.url).model_info(GATED_MODEL)
    assert is_gated_refusal(caught.value)
    assert not isinstance(caught.value, errors.ModelInfoUnavailableError)
    assert caught.value.message.startswith(f"Access to model {GATED_MODEL} is restricted")
    # Metadata first, then the access check: the Hub was asked both, anonymously.
    assert [(path, who) for _, path, who in hub.state.calls] == [
        (f"/api/models/{GATED_MODEL}", "anonymous"),
        (f"/api/models/{GATED_MODEL}/auth-check", "anonymous"),
    ]


async def test_gated_with_a_token_not_granted_is_forbidden(hub: RunningHub) -> None:
    with pytest.raises(errors.ForbiddenError) as caught:
        await HubModelInfo(hub.url).model_info(GATED_MODEL, UNGRANTED_TOKEN)
    assert is_gated_refusal(caught.value)
    assert "not in the authorized list" in caught.value.message


async def test_gated_with_a_granted_token_answers(hub: RunningHub) -> None:
    info = await HubModelInfo(hub.url).model_info(GATED_MODEL, GRANTED_TOKEN)
    assert info.model_name == GATED_MODEL
    assert info.architectures == ["LlamaForCausalLM"]
    assert info.min_memory_requirements_mb == 18_380


async def test_a_token_the_hub_refuses_reads_as_a_refused_hf_token(hub: RunningHub) -> None:
    with pytest.raises(errors.UnauthorizedError) as caught:
        await HubModelInfo(hub.url).model_info("Qwen/Qwen3-8B", "hf_unknown_token_1234")
    # The Slack side must say "Hugging Face refused that token", not "Run:ai's credentials".
    assert is_gated_refusal(caught.value)
    assert "hf_unknown_token_1234" not in str(caught.value)


@pytest.mark.parametrize("name", ["nobody/nothing-7b", "not a repo id", "a/b/c"])
async def test_unknown_or_invalid_repository_is_not_found(hub: RunningHub, name: str) -> None:
    with pytest.raises(errors.NotFoundError) as caught:
        await HubModelInfo(hub.url).model_info(name)
    assert not isinstance(caught.value, errors.ModelInfoUnavailableError)


async def test_hub_down_is_unavailable() -> None:
    with pytest.raises(HubUnavailableError) as caught:
        await HubModelInfo(f"http://127.0.0.1:{free_port()}", timeout=2).model_info("a/b")
    assert isinstance(caught.value, errors.UnavailableError)


async def test_hub_errors_are_unavailable() -> None:
    async def busy(request: Any) -> JSONResponse:
        return JSONResponse({"error": "overloaded"}, status_code=503)

    async with serve(Starlette(routes=[Route("/api/models/{rest:path}", busy)])) as server:
        with pytest.raises(HubUnavailableError) as caught:
            await HubModelInfo(server.url, timeout=2).model_info("Qwen/Qwen3-8B")
    assert caught.value.code == 503
    assert "overloaded" in caught.value.message


def test_a_repository_without_safetensors_has_unknown_memory() -> None:
    answer = hub_source.to_answer(HfModelInfo(id="someone/old-bin-model", pipeline_tag=None))
    assert answer.info.min_memory_requirements_mb is None
    assert answer.info.architectures == [] and answer.info.vllm_supporting_versions == []
    assert answer.gated is False and answer.parameters is None


async def test_hf_endpoint_setting_points_at_the_hub(
    hub: RunningHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("MODEL_INFO_SOURCE", "huggingface")
    settings = Settings()
    assert settings.hf_endpoint == hub.url
    found = await build_source(settings, runai=None).model_info("Qwen/Qwen3-0.6B")
    assert found.info.model_name == "Qwen/Qwen3-0.6B"
    assert hub.state.calls


def test_model_info_source_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().model_info_source == "auto"
    monkeypatch.setenv("MODEL_INFO_SOURCE", " HuggingFace ")
    assert Settings().model_info_source == "huggingface"
    monkeypatch.setenv("MODEL_INFO_SOURCE", "somewhere")
    with pytest.raises(ValueError, match="model_info_source"):
        Settings()


async def test_the_token_is_never_logged_kept_or_shown(
    hub: RunningHub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # huggingface_hub's own debug lines included
    source = HubModelInfo(hub.url)
    seen: list[str] = []
    for token in (GRANTED_TOKEN, UNGRANTED_TOKEN, "hf_unknown_token_1234"):
        try:
            info = await source.model_info(GATED_MODEL, token)
            seen.append(repr(info))
        except errors.RunaiError as exc:
            seen += [str(exc), repr(exc), repr(exc.args)]
            assert exc.__cause__ is None and exc.__suppress_context__
    assert caplog.records, "the lookups should have been logged"
    text = "\n".join(
        [r.getMessage() + repr(vars(r)) for r in caplog.records] + seen + [repr(vars(source))]
    )
    kept = repr(vars(source._api))
    for token in (GRANTED_TOKEN, UNGRANTED_TOKEN, "hf_unknown_token_1234"):
        assert token not in text
        assert token not in kept
