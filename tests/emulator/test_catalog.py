"""The offline Hugging Face model catalog behind model-info."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest

from tests.contract import assert_request_matches
from tests.emulator.conftest import MODEL_INFO, MODULE_LOOP, Api

pytestmark = MODULE_LOOP


async def info(api: Api, body: dict[str, Any]) -> Any:
    return await api.call("POST", MODEL_INFO, json=body)


@pytest.mark.parametrize(
    ("name", "tag", "architecture"),
    [
        ("Qwen/Qwen2.5-7B-Instruct", "text-generation", "Qwen2ForCausalLM"),
        ("BAAI/bge-large-en-v1.5", "feature-extraction", "BertModel"),
        ("sentence-transformers/all-MiniLM-L6-v2", "sentence-similarity", "BertModel"),
        ("google/vit-base-patch16-224", "image-classification", "ViTForImageClassification"),
        ("microsoft/Phi-3-mini-4k-instruct", "text-generation", "Phi3ForCausalLM"),
        ("openai/whisper-small", "automatic-speech-recognition", "WhisperForConditionalGeneration"),
    ],
)
async def test_public_models(api: Api, name: str, tag: str, architecture: str) -> None:
    body = {"modelName": name, "requestMinMemoryRequirements": True}
    assert_request_matches("POST", MODEL_INFO, body)
    response = await info(api, body)
    assert response.status_code == 200
    answer = response.json()
    assert answer["modelName"] == name
    assert answer["pipelineTag"] == tag
    assert answer["architectures"] == [architecture]
    assert isinstance(answer["minMemoryRequirementsMb"], int)


async def test_memory_follows_parameter_count(api: Api) -> None:
    answer = (await info(api, {"modelName": "Qwen/Qwen2.5-7B-Instruct"})).json()
    assert answer["minMemoryRequirementsMb"] == math.ceil(7_615_616_512 * 2 * 1.2 / 2**20)
    small = (await info(api, {"modelName": "facebook/opt-125m"})).json()
    assert small["minMemoryRequirementsMb"] < answer["minMemoryRequirementsMb"]
    skipped = await info(
        api, {"modelName": "facebook/opt-125m", "requestMinMemoryRequirements": False}
    )
    assert "minMemoryRequirementsMb" not in skipped.json()


async def test_vllm_versions(api: Api) -> None:
    llm = (await info(api, {"modelName": "Qwen/Qwen2.5-7B-Instruct"})).json()
    assert "0.6.4" in llm["vllmSupportingVersions"]
    vit = (await info(api, {"modelName": "google/vit-base-patch16-224"})).json()
    assert vit["vllmSupportingVersions"] == []


async def test_names_match_case_insensitively(api: Api) -> None:
    answer = (await info(api, {"modelName": "qwen/qwen2.5-7b-instruct"})).json()
    assert answer["modelName"] == "Qwen/Qwen2.5-7B-Instruct"


@pytest.mark.parametrize(
    "name",
    [
        "meta-llama/Llama-3.1-8B-Instruct",
        "google/gemma-2-9b-it",
        "mistralai/Mistral-7B-Instruct-v0.3",
    ],
)
async def test_gated_models_need_a_token(api: Api, name: str) -> None:
    refused = await info(api, {"modelName": name})
    assert refused.status_code == 401
    assert refused.json()["message"].startswith(f"Access to model {name} is restricted")
    allowed = await info(api, {"modelName": name, "hfToken": "hf_abcdefghijklmnop"})
    assert allowed.status_code == 200
    assert allowed.json()["modelName"] == name


async def test_token_that_is_not_an_hf_token_is_401(api: Api) -> None:
    response = await info(api, {"modelName": "Qwen/Qwen2.5-7B-Instruct", "hfToken": "secret"})
    assert response.status_code == 401
    assert "hf_" in response.json()["message"]
    assert "secret" not in response.json()["message"]


async def test_unknown_model_is_404(api: Api) -> None:
    response = await info(api, {"modelName": "nobody/nothing-7b"})
    assert response.status_code == 404
    assert "nobody/nothing-7b" in response.json()["message"]


async def test_model_name_required(api: Api) -> None:
    response = await info(api, {"hfToken": "hf_x"})
    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "message": "Bad request - modelName is required",
        "details": "field: modelName",
    }


async def test_model_info_needs_a_bearer(anonymous: Api) -> None:
    response = await anonymous.call("POST", MODEL_INFO, json={"modelName": "facebook/opt-125m"})
    assert response.status_code == 401


async def test_model_info_path_is_configurable(emulator_factory: Any) -> None:
    async with (
        emulator_factory(model_info_path="/api/v1/models/hugging-face") as emu,
        httpx.AsyncClient(base_url=emu.url) as client,
    ):
        api = Api(client, emu)
        await api.login()
        headers = {"Authorization": f"Bearer {api.token}"}
        body = {"modelName": "facebook/opt-125m"}
        moved = await client.post("/api/v1/models/hugging-face", json=body, headers=headers)
        assert moved.status_code == 200
        old = await client.post(MODEL_INFO, json=body, headers=headers)
        assert old.status_code in (404, 405)
