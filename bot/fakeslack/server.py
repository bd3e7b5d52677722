"""The fake's HTTP surface: Web API at /api/<method>, upload and response URLs, test controls."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.fakeslack.errors import ApiError
from bot.fakeslack.methods import METHODS, ApiCall, normalise_args
from bot.fakeslack.state import (
    RESPONSE_URL,
    RESPONSE_URL_MAX_USES,
    RESPONSE_URL_TTL_SECONDS,
    FakeEvent,
    FakeSlack,
    MessageRecord,
    RecordedCall,
    ResponseRecord,
)
from bot.serving import serve
from bot.slack.blockkit import block_problems

logger = logging.getLogger(__name__)


async def _read_args(request: Request) -> dict[str, Any]:
    args: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if not body:
        return args
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise ApiError("invalid_json") from exc
        if not isinstance(data, dict):
            raise ApiError("json_not_object")
        args.update(data)
    elif ctype == "application/x-www-form-urlencoded" or not ctype:
        args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    else:
        raise ApiError("invalid_form_data")
    return args


def _token(request: Request, args: dict[str, Any]) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        return auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else auth
    token = args.pop("token", None)
    return str(token) if token else None


def _check_token(fake: FakeSlack, token: str | None, method: str) -> None:
    if not token:
        raise ApiError("not_authed")
    if method == "apps.connections.open" or token.startswith("xapp-"):
        # App-level tokens open sockets and nothing else; bot tokens can't open sockets.
        if (method == "apps.connections.open") != token.startswith("xapp-"):
            raise ApiError("not_allowed_token_type")
        return
    if fake.valid_tokens is not None:
        if token not in fake.valid_tokens:
            raise ApiError("invalid_auth")
    elif not token.startswith("xoxb-"):
        raise ApiError("invalid_auth")


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _fake(request: Request) -> FakeSlack:
    fake: FakeSlack = request.app.state.fake
    if fake.base_url is None:
        fake.base_url = _base_url(request)
    return fake


async def api_method(request: Request) -> Response:
    """POST/GET /api/<method>."""
    fake = _fake(request)
    method = request.path_params["method"]
    token: str | None = None
    args: dict[str, Any] = {}
    status, body, headers = 200, {}, {}
    try:
        args = normalise_args(await _read_args(request))
        token = _token(request, args)
        _check_token(fake, token, method)
        fault = fake.take_fault(method)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            fault_headers = (
                {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            )
            raise ApiError(fault.error, status=fault.status, headers=fault_headers)
        handler = METHODS.get(method)
        if handler is None:
            raise ApiError("unknown_method", req_method=method)
        body = handler(fake, ApiCall(method, args, _base_url(request)))
    except ApiError as err:
        status, body, headers = err.status, err.body(), err.headers
    fake.record(RecordedCall(method, args, time.time(), status, body, token))
    logger.debug(
        "fake slack call", extra={"method": method, "status": status, "ok": body.get("ok")}
    )
    return JSONResponse(body, status_code=status, headers=headers)


async def upload(request: Request) -> Response:
    """POST /upload/v1/<token>: the bytes of a file announced by files.getUploadURLExternal."""
    fake = _fake(request)
    token = request.path_params["token"]
    data = await request.body()
    for rec in fake.files.values():
        if rec.upload_token == token:
            rec.content = data
            fake.notify()
            return PlainTextResponse(f"OK - {len(data)}")
    return PlainTextResponse("not_found", status_code=404)


async def response_url(request: Request) -> Response:
    """POST /response/<id>: what Bolt's respond() sends."""
    fake = _fake(request)
    rid = request.path_params["rid"]
    raw = await request.body()
    ctype = request.headers.get("content-type", "")
    try:
        if ctype.startswith("application/x-www-form-urlencoded"):
            form = dict(parse_qsl(raw.decode("utf-8")))
            body = json.loads(form.get("payload", "{}"))
        else:
            body = json.loads(raw or b"{}")
    except ValueError:
        return PlainTextResponse("invalid_payload", status_code=400)
    if not isinstance(body, dict):
        return PlainTextResponse("invalid_payload", status_code=400)
    ctx = fake.response_contexts.get(rid)
    status, answer = 200, "ok"
    fault = fake.take_fault(RESPONSE_URL)
    if fault is not None:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        fake.responses.append(ResponseRecord(rid, body, time.time(), fault.status, ctx))
        fake.notify()
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        return PlainTextResponse(fault.error, status_code=fault.status, headers=headers)
    if ctx is None or fake.clock() - ctx.issued_at > RESPONSE_URL_TTL_SECONDS:
        status, answer = 404, "expired_url"
    elif ctx.uses >= RESPONSE_URL_MAX_USES:
        status, answer = 404, "used_url"
    elif body.get("blocks") is not None and block_problems(body["blocks"]):
        status, answer = 400, "invalid_blocks"
    elif not (
        body.get("text")
        or body.get("blocks")
        or body.get("attachments")
        or body.get("delete_original")
    ):
        status, answer = 400, "no_text"
    else:
        ctx.uses += 1
        _apply_response(fake, ctx.channel, ctx.user, ctx.message_ts, body)
    fake.responses.append(ResponseRecord(rid, body, time.time(), status, ctx))
    fake.notify()
    return PlainTextResponse(answer, status_code=status)


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("1", "true"))


def _apply_response(
    fake: FakeSlack, channel: str, user: str, message_ts: str | None, body: dict[str, Any]
) -> None:
    original = fake.find_message(channel, message_ts) if message_ts else None
    if _truthy(body.get("delete_original")):
        if original is not None:
            original.deleted = True
            fake.notify(FakeEvent("message_deleted", message=original))
        return
    text = str(body.get("text") or "")
    blocks = list(body.get("blocks") or [])
    if _truthy(body.get("replace_original")) and original is not None:
        original.edits.append(
            {"text": original.text, "blocks": original.blocks, "edited_ts": fake.next_ts()}
        )
        original.text, original.blocks = text, blocks
        fake.notify(FakeEvent("message_changed", message=original))
        return
    in_channel = body.get("response_type") == "in_channel"
    fake.add_message(
        MessageRecord(
            channel=channel,
            ts=fake.next_ts(),
            text=text,
            blocks=blocks,
            attachments=list(body.get("attachments") or []),
            thread_ts=str(body["thread_ts"]) if body.get("thread_ts") else None,
            ephemeral_to=None if in_channel else user,
            source="response_url",
        )
    )


# ----------------------------------------------------------------------------- test controls
async def get_calls(request: Request) -> Response:
    """GET /fake/calls[?method=chat.postMessage]."""
    fake = _fake(request)
    method = request.query_params.get("method")
    calls = fake.calls_to(method) if method else fake.calls
    return JSONResponse(
        [
            {
                "method": c.method,
                "args": c.args,
                "time": c.time,
                "status": c.status,
                "response": c.response,
            }
            for c in calls
        ]
    )


async def post_faults(request: Request) -> Response:
    """POST /fake/faults {"method","error","status","retryAfter","count","delayMs"}."""
    fake = _fake(request)
    data = await request.json()
    fault = fake.fail_next(
        str(data.get("method", "*")),
        error=data.get("error"),
        status=data.get("status"),
        retry_after=data.get("retryAfter", 1),
        count=int(data.get("count", 1)),
        delay=float(data.get("delayMs", 0)) / 1000,
    )
    return JSONResponse(
        {"method": fault.method, "error": fault.error, "status": fault.status, "count": fault.count}
    )


async def delete_faults(request: Request) -> Response:
    """DELETE /fake/faults: no more injected failures, channel rate limit off."""
    _fake(request).clear_faults()
    return JSONResponse({"ok": True})


async def post_rate_limit(request: Request) -> Response:
    """POST /fake/rate-limit {"seconds": 1.0} (null turns it off): per-channel posting limit."""
    fake = _fake(request)
    data = await request.json()
    seconds = data.get("seconds")
    fake.channel_rate_limit = float(seconds) if seconds is not None else None
    return JSONResponse({"ok": True, "seconds": fake.channel_rate_limit})


async def post_reset(request: Request) -> Response:
    """POST /fake/reset: forget everything recorded."""
    _fake(request).clear()
    return JSONResponse({"ok": True})


async def get_messages(request: Request) -> Response:
    """GET /fake/messages[?channel=C0001]: every message incl. ephemeral and deleted ones."""
    fake = _fake(request)
    channel = request.query_params.get("channel")
    out = []
    for m in fake.messages:
        if channel and m.channel != channel:
            continue
        item = m.to_slack(fake)
        item.update({"channel": m.channel, "ephemeral_to": m.ephemeral_to, "deleted": m.deleted})
        out.append(item)
    return JSONResponse(out)


async def get_views(request: Request) -> Response:
    """GET /fake/views: every view with its open/closed state."""
    fake = _fake(request)
    return JSONResponse(
        [
            {**v.to_slack(), "closed": v.closed, "user_id": v.user_id, "errors": v.errors}
            for v in fake.views.values()
        ]
    )


async def get_file(request: Request) -> Response:
    """GET /fake/files/<id>: the uploaded bytes."""
    rec = _fake(request).files.get(request.path_params["file_id"])
    if rec is None or rec.content is None:
        return PlainTextResponse("not_found", status_code=404)
    return Response(rec.content, media_type=rec.mimetype)


def create_fake_slack_app(fake: FakeSlack | None = None) -> Starlette:
    """A Starlette app serving a fake Slack workspace (state at `app.state.fake`)."""
    routes = [
        Route("/api/{method}", api_method, methods=["GET", "POST"]),
        Route("/upload/v1/{token}", upload, methods=["POST"]),
        Route("/response/{rid}", response_url, methods=["POST"]),
        Route("/fake/calls", get_calls, methods=["GET"]),
        Route("/fake/faults", post_faults, methods=["POST"]),
        Route("/fake/faults", delete_faults, methods=["DELETE"]),
        Route("/fake/rate-limit", post_rate_limit, methods=["POST"]),
        Route("/fake/reset", post_reset, methods=["POST"]),
        Route("/fake/messages", get_messages, methods=["GET"]),
        Route("/fake/views", get_views, methods=["GET"]),
        Route("/fake/files/{file_id}", get_file, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.fake = fake if fake is not None else FakeSlack()
    return app


@dataclass
class RunningFakeSlack:
    """A served fake: `url` (no trailing slash), `api_url` (= url + '/api/'), `fake`."""

    url: str
    fake: FakeSlack

    @property
    def api_url(self) -> str:
        """Web API base URL for `AsyncWebClient(base_url=...)`."""
        return f"{self.url}/api/"


@contextlib.asynccontextmanager
async def serve_fake_slack(
    fake: FakeSlack | None = None, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningFakeSlack]:
    """Serve a fake Slack on a loopback port for the duration of the block."""
    fake = fake if fake is not None else FakeSlack()
    async with serve(create_fake_slack_app(fake), host, port) as srv:
        fake.base_url = srv.url
        yield RunningFakeSlack(srv.url, fake)
