"""The fake Hub's routes: what `huggingface_hub.HfApi` calls for model info and access.

- `GET /api/models/{repo_id}` and `GET /api/models/{repo_id}/revision/{rev}`
  (`HfApi.model_info`): the repository's JSON, `expand=` narrowing it to the named
  properties (plus `_id` and `id`), as the Hub does. Gated repositories answer too, with
  `gated: "auto" | "manual"`: the Hub shows a gated model's card and metadata to anyone and
  gates its files.
- `GET /api/models/{repo_id}/auth-check` (`HfApi.auth_check`): 200 when the caller may
  read the files; for a gated repository 401 without a token and 403 with a token that has
  not been granted access, each with `X-Error-Code: GatedRepo` (→ `GatedRepoError`).
- An unknown repository: 401 to an anonymous caller, 404 to an authenticated one, with
  `X-Error-Code: RepoNotFound` (→ `RepositoryNotFoundError`); an unknown revision 404
  `RevisionNotFound`; a token that is not valid 401 "Invalid credentials in Authorization
  header" on every route. Error bodies are `{"error": "…"}`, the message repeated in
  `X-Error-Message`.

Valid tokens: by default any `hf_…` token, with access to every gated repository; or the
`tokens` given to `create_app`, each with the repositories it was granted.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.emulator.catalog import CATALOG, CatalogModel

Caller = Literal["anonymous", "valid", "invalid"]

# The properties `expand=` may name (huggingface_hub's ExpandModelProperty_T).
EXPANDABLE = frozenset(
    {
        "author",
        "baseModels",
        "cardData",
        "childrenModelCount",
        "config",
        "createdAt",
        "disabled",
        "downloads",
        "downloadsAllTime",
        "evalResults",
        "gated",
        "gguf",
        "inference",
        "inferenceProviderMapping",
        "lastModified",
        "library_name",
        "likes",
        "mask_token",
        "model-index",
        "pipeline_tag",
        "private",
        "resourceGroup",
        "safetensors",
        "sha",
        "siblings",
        "spaces",
        "tags",
        "transformersInfo",
        "trendingScore",
        "usedStorage",
        "widgetData",
    }
)
# Fixed dates: the catalog keeps no history, and answers must not change between runs.
CREATED_AT = "2024-01-01T00:00:00.000Z"
LAST_MODIFIED = "2025-01-01T00:00:00.000Z"
SHARD_BYTES = 5 * 10**9  # transformers' default max_shard_size ("5GB")
_DTYPE_BYTES = {"F32": 4, "F16": 2, "BF16": 2}
_AUTO_MODEL = {
    "text-generation": ("AutoModelForCausalLM", "AutoTokenizer"),
    "image-text-to-text": ("AutoModelForImageTextToText", "AutoProcessor"),
    "automatic-speech-recognition": ("AutoModelForSpeechSeq2Seq", "AutoProcessor"),
    "image-classification": ("AutoModelForImageClassification", "AutoImageProcessor"),
}
_CHAT_SUFFIXES = ("-instruct", "-it", "-chat", "-chat-hf", "-chat-v1.0", "-2407")
INVALID_CREDENTIALS = "Invalid credentials in Authorization header"


@dataclass
class FakeHubState:
    """The catalog served, the valid tokens, and the calls seen (never the tokens)."""

    models: Sequence[CatalogModel] = CATALOG
    # None: any `hf_` token is valid and may read every gated repo.
    tokens: Mapping[str, Collection[str]] | None = None
    calls: list[tuple[str, str, Caller]] = field(default_factory=list)

    def find(self, repo_id: str) -> CatalogModel | None:
        """A repository by id, case-insensitively (the Hub redirects other casings)."""
        wanted = repo_id.lower()
        return next((m for m in self.models if m.name.lower() == wanted), None)

    def caller(self, authorization: str | None) -> tuple[Caller, str | None]:
        """Who is calling: anonymous, a valid token, or a token the Hub refuses."""
        if not authorization:
            return "anonymous", None
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return "invalid", None
        if self.tokens is None:
            valid = token.startswith("hf_") and len(token) > len("hf_")
        else:
            valid = token in self.tokens
        return ("valid", token) if valid else ("invalid", None)

    def may_read(self, token: str | None, model: CatalogModel) -> bool:
        """Whether `token` may read the files of `model` (always, unless it is gated)."""
        if not model.gated:
            return True
        if token is None:
            return False
        if self.tokens is None:
            return True
        return model.name.lower() in {name.lower() for name in self.tokens.get(token, ())}


def _sha(model: CatalogModel) -> str:
    return hashlib.sha1(model.name.encode(), usedforsecurity=False).hexdigest()


def _siblings(model: CatalogModel) -> list[dict[str, str]]:
    names = [".gitattributes", "README.md", "config.json"]
    if model.pipeline_tag == "text-generation":
        names.append("generation_config.json")
    size = model.parameters * _DTYPE_BYTES.get(model.dtype, 2)
    shards = max(1, math.ceil(size / SHARD_BYTES))
    if shards == 1:
        names.append("model.safetensors")
    else:
        names += [f"model-{i:05d}-of-{shards:05d}.safetensors" for i in range(1, shards + 1)]
        names.append("model.safetensors.index.json")
    if model.library_name == "sentence-transformers":
        names += ["modules.json", "sentence_bert_config.json"]
    if model.pipeline_tag in {"automatic-speech-recognition", "image-classification"}:
        names.append("preprocessor_config.json")
    if model.pipeline_tag != "image-classification":
        names += ["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]
    return [{"rfilename": name} for name in sorted(names)]


def _tags(model: CatalogModel) -> list[str]:
    tags = [model.library_name, "safetensors", model.model_type, model.pipeline_tag]
    if model.library_name == "sentence-transformers":
        tags.append("transformers")
    if model.name.lower().endswith(_CHAT_SUFFIXES):
        tags.append("conversational")
    tags += [f"license:{model.license}", "endpoints_compatible", "region:us"]
    return list(dict.fromkeys(tags))


def model_json(model: CatalogModel) -> dict[str, Any]:
    """The full `GET /api/models/{repo_id}` body for a catalog model."""
    owner = model.name.split("/", 1)[0]
    card: dict[str, Any] = {
        "license": model.license,
        "library_name": model.library_name,
        "pipeline_tag": model.pipeline_tag,
        "tags": [t for t in _tags(model) if ":" not in t and t != "region"],
    }
    if model.gated:
        card["extra_gated_prompt"] = (
            f"You need to agree to share your contact information to access {model.name}."
        )
        card["extra_gated_button_content"] = "Submit"
    body: dict[str, Any] = {
        "_id": hashlib.md5(model.name.encode(), usedforsecurity=False).hexdigest()[:24],
        "id": model.name,
        "modelId": model.name,
        "author": owner,
        "sha": _sha(model),
        "lastModified": LAST_MODIFIED,
        "createdAt": CREATED_AT,
        "private": False,
        "disabled": False,
        "gated": model.gated,
        "downloads": 0,
        "likes": 0,
        "library_name": model.library_name,
        "pipeline_tag": model.pipeline_tag,
        "tags": _tags(model),
        "config": {"architectures": list(model.architectures), "model_type": model.model_type},
        "cardData": card,
        "siblings": _siblings(model),
        "spaces": [],
        "safetensors": {"parameters": {model.dtype: model.parameters}, "total": model.parameters},
        "usedStorage": model.parameters * _DTYPE_BYTES.get(model.dtype, 2),
    }
    auto = _AUTO_MODEL.get(model.pipeline_tag, ("AutoModel", "AutoTokenizer"))
    body["transformersInfo"] = {
        "auto_model": auto[0],
        "pipeline_tag": model.pipeline_tag,
        "processor": auto[1],
    }
    return body


def _error(status: int, message: str, code: str | None = None) -> JSONResponse:
    headers = {"X-Error-Message": message}
    if code:
        headers["X-Error-Code"] = code
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _repo_not_found(caller: Caller) -> JSONResponse:
    # Anonymous callers get 401, so that a private repo's existence does not leak.
    return _error(401 if caller == "anonymous" else 404, "Repository not found", "RepoNotFound")


def _expand(request: Request) -> list[str] | JSONResponse:
    wanted = request.query_params.getlist("expand") + request.query_params.getlist("expand[]")
    unknown = sorted(set(wanted) - EXPANDABLE)
    if unknown:
        return _error(400, f'"expand" contains unknown properties: {", ".join(unknown)}')
    if wanted and ({"blobs", "securityStatus"} & set(request.query_params)):
        return _error(400, '"expand" cannot be combined with "blobs" or "securityStatus"')
    return wanted


def create_app(
    *,
    models: Sequence[CatalogModel] = CATALOG,
    tokens: Mapping[str, Collection[str]] | None = None,
) -> Starlette:
    """The fake Hub over `models`; `tokens`: valid token → repositories it may read."""
    state = FakeHubState(models=models, tokens=tokens)

    async def models_route(request: Request) -> Response:
        rest = request.path_params["rest"]
        caller, token = state.caller(request.headers.get("authorization"))
        state.calls.append((request.method, f"/api/models/{rest}", caller))
        if caller == "invalid":
            return _error(401, INVALID_CREDENTIALS)
        if rest.endswith("/auth-check"):
            return _auth_check(rest.removesuffix("/auth-check"), caller, token)
        repo_id, _, revision = rest.partition("/revision/")
        model = state.find(repo_id)
        if model is None:
            return _repo_not_found(caller)
        if revision and revision not in {"main", _sha(model)}:
            return _error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        expand = _expand(request)
        if isinstance(expand, Response):
            return expand
        body = model_json(model)
        if expand:
            body = {k: v for k, v in body.items() if k in {"_id", "id", *expand}}
        return JSONResponse(body)

    def _auth_check(repo_id: str, caller: Caller, token: str | None) -> Response:
        model = state.find(repo_id)
        if model is None:
            return _repo_not_found(caller)
        if state.may_read(token, model):
            return JSONResponse({})
        if token is None:
            message = (
                f"Access to model {model.name} is restricted. You must have access to it "
                "and be authenticated to access it. Please log in."
            )
            return _error(401, message, "GatedRepo")
        message = (
            f"Access to model {model.name} is restricted and you are not in the authorized "
            f"list. Visit https://huggingface.co/{model.name} to ask for access."
        )
        return _error(403, message, "GatedRepo")

    app = Starlette(routes=[Route("/api/models/{rest:path}", models_route, methods=["GET"])])
    app.state.hub = state
    return app
