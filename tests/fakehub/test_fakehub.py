"""The fake Hub answered through the real huggingface_hub client, over a socket."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from bot.emulator.catalog import CATALOG, lookup
from tests.fakehub.harness import (
    GATED_MODEL,
    GRANTED_TOKEN,
    UNGRANTED_TOKEN,
    RunningHub,
    running_fake_hub,
)


async def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """huggingface_hub is synchronous: keep the event loop (and the server) running."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def test_full_model_info_has_the_hub_shape(hub: RunningHub) -> None:
    api = HfApi(endpoint=hub.url)
    info = await call(api.model_info, "Qwen/Qwen2.5-7B-Instruct", token=False)
    assert info.id == "Qwen/Qwen2.5-7B-Instruct"
    assert info.author == "Qwen"
    assert info.pipeline_tag == "text-generation"
    assert info.library_name == "transformers"
    assert info.gated is False
    assert info.private is False
    assert info.safetensors is not None
    assert info.safetensors.total == 7_615_616_512
    assert info.safetensors.parameters == {"BF16": 7_615_616_512}
    assert info.config == {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2"}
    assert "license:apache-2.0" in info.tags and "qwen2" in info.tags
    assert info.card_data is not None and info.card_data.license == "apache-2.0"
    assert isinstance(info.last_modified, datetime) and isinstance(info.created_at, datetime)
    assert info.sha is not None and len(info.sha) == 40
    files = {s.rfilename for s in info.siblings}
    assert {"config.json", "model.safetensors.index.json"} <= files
    assert sum(f.endswith(".safetensors") for f in files) == 4  # 15.2 GB in 5 GB shards
    assert info.transformers_info is not None
    assert info.transformers_info.auto_model == "AutoModelForCausalLM"


async def test_raw_body_has_legacy_and_private_keys(hub: RunningHub) -> None:
    async with httpx.AsyncClient(base_url=hub.url) as client:
        body = (await client.get("/api/models/BAAI/bge-m3")).json()
    assert body["modelId"] == body["id"] == "BAAI/bge-m3"
    assert len(body["_id"]) == 24
    assert body["library_name"] == "sentence-transformers"
    assert body["pipeline_tag"] == "sentence-similarity"


async def test_expand_returns_only_what_was_asked(hub: RunningHub) -> None:
    api = HfApi(endpoint=hub.url)
    info = await call(
        api.model_info, "openai/whisper-small", token=False, expand=["pipeline_tag", "safetensors"]
    )
    assert info.pipeline_tag == "automatic-speech-recognition"
    assert info.safetensors is not None and info.safetensors.total == 241_734_912
    assert info.config is None and info.gated is None and info.siblings is None
    async with httpx.AsyncClient(base_url=hub.url) as client:
        bad = await client.get("/api/models/openai/whisper-small", params={"expand": "nonsense"})
    assert bad.status_code == 400
    assert "nonsense" in bad.json()["error"]


async def test_revision_route(hub: RunningHub) -> None:
    api = HfApi(endpoint=hub.url)
    latest = await call(api.model_info, "microsoft/phi-2", token=False)
    pinned = await call(api.model_info, "microsoft/phi-2", revision=latest.sha, token=False)
    assert pinned.sha == latest.sha
    main = await call(api.model_info, "microsoft/phi-2", revision="main", token=False)
    assert main.id == "microsoft/phi-2"
    with pytest.raises(RevisionNotFoundError):
        await call(api.model_info, "microsoft/phi-2", revision="v9.9", token=False)


async def test_gated_metadata_is_public_but_files_are_not(hub: RunningHub) -> None:
    api = HfApi(endpoint=hub.url)
    info = await call(api.model_info, GATED_MODEL, token=False)
    assert info.gated == "manual"
    assert info.card_data is not None and "extra_gated_prompt" in info.card_data
    with pytest.raises(GatedRepoError) as anonymous:
        await call(api.auth_check, GATED_MODEL, token=False)
    assert anonymous.value.response.status_code == 401
    assert "You must have access to it and be authenticated" in str(anonymous.value)
    with pytest.raises(GatedRepoError) as ungranted:
        await call(api.auth_check, GATED_MODEL, token=UNGRANTED_TOKEN)
    assert ungranted.value.response.status_code == 403
    assert "not in the authorized list" in str(ungranted.value)
    assert await call(api.auth_check, GATED_MODEL, token=GRANTED_TOKEN) is None
    # An open model: anyone may read it.
    assert await call(api.auth_check, "Qwen/Qwen3-8B", token=False) is None


async def test_unknown_repository_is_repository_not_found(hub: RunningHub) -> None:
    api = HfApi(endpoint=hub.url)
    with pytest.raises(RepositoryNotFoundError) as anonymous:
        await call(api.model_info, "nobody/nothing-7b", token=False)
    assert not isinstance(anonymous.value, GatedRepoError)
    assert anonymous.value.response.status_code == 401  # the Hub hides private repos so
    with pytest.raises(RepositoryNotFoundError) as authenticated:
        await call(api.model_info, "nobody/nothing-7b", token=GRANTED_TOKEN)
    assert authenticated.value.response.status_code == 404


async def test_a_token_the_hub_does_not_know_is_refused_everywhere(hub: RunningHub) -> None:
    api = HfApi(endpoint=hub.url)
    with pytest.raises(HfHubHTTPError) as caught:
        await call(api.model_info, "Qwen/Qwen3-8B", token="hf_not_a_real_token_000")
    assert not isinstance(caught.value, RepositoryNotFoundError)
    assert caught.value.response.status_code == 401
    assert caught.value.server_message == "Invalid credentials in Authorization header"
    assert [c[2] for c in hub.state.calls] == ["invalid"]


async def test_default_tokens_any_hf_token_reads_everything() -> None:
    async with running_fake_hub(tokens=None) as open_hub:
        api = HfApi(endpoint=open_hub.url)
        assert await call(api.auth_check, GATED_MODEL, token="hf_anything") is None
        with pytest.raises(HfHubHTTPError):
            await call(api.model_info, "Qwen/Qwen3-8B", token="not-hf")


async def test_every_catalog_model_is_served_as_catalogued(hub: RunningHub) -> None:
    api = HfApi(endpoint=hub.url)
    for model in CATALOG:
        info = await call(api.model_info, model.name, token=False)
        assert info.pipeline_tag == model.pipeline_tag
        assert info.config["architectures"] == list(model.architectures)
        assert info.safetensors.total == model.parameters
        assert info.gated == model.gated
        assert lookup(info.id) == model


async def test_names_match_case_insensitively(hub: RunningHub) -> None:
    info = await call(HfApi(endpoint=hub.url).model_info, "qwen/qwen3-8b", token=False)
    assert info.id == "Qwen/Qwen3-8B"
