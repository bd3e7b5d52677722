"""A tiny Bolt app (one command, one modal) used to prove the fake Slack round trip."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.serving import serve

SIGNING_SECRET = "smoke-signing-secret"
MODAL_CALLBACK = "smoke_create"


def modal(channel: str) -> dict[str, Any]:
    """The smoke bot's create modal."""
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "private_metadata": json.dumps({"channel": channel}),
        "title": {"type": "plain_text", "text": "Create"},
        "submit": {"type": "plain_text", "text": "Create"},
        "blocks": [
            {
                "type": "input",
                "block_id": "name",
                "label": {"type": "plain_text", "text": "Name"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            },
            {
                "type": "input",
                "block_id": "size",
                "label": {"type": "plain_text", "text": "Size"},
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": [
                        {"text": {"type": "plain_text", "text": "Small"}, "value": "s"},
                        {"text": {"type": "plain_text", "text": "Large"}, "value": "l"},
                    ],
                    "initial_option": {
                        "text": {"type": "plain_text", "text": "Small"},
                        "value": "s",
                    },
                },
            },
            {
                "type": "input",
                "block_id": "replicas",
                "label": {"type": "plain_text", "text": "Replicas"},
                "element": {
                    "type": "number_input",
                    "is_decimal_allowed": False,
                    "action_id": "value",
                },
            },
            {
                "type": "input",
                "block_id": "flags",
                "optional": True,
                "label": {"type": "plain_text", "text": "Flags"},
                "element": {
                    "type": "checkboxes",
                    "action_id": "value",
                    "options": [
                        {"text": {"type": "plain_text", "text": "Watch"}, "value": "watch"},
                        {"text": {"type": "plain_text", "text": "Public"}, "value": "public"},
                    ],
                },
            },
        ],
    }


@dataclass
class SmokeBot:
    """What the smoke bot saw, for assertions."""

    url: str
    client: AsyncWebClient
    errors: list[str] = field(default_factory=list)
    submissions: list[dict[str, Any]] = field(default_factory=list)
    retry_nums: list[str | None] = field(default_factory=list)


def build_app(client: AsyncWebClient, bot: SmokeBot) -> AsyncApp:
    """The Bolt app: `/inference create|hello|public|confirm`, the create modal, a button."""
    app = AsyncApp(client=client, signing_secret=SIGNING_SECRET)

    @app.command("/inference")
    async def inference(
        ack: Any, body: dict[str, Any], respond: Any, client: AsyncWebClient
    ) -> None:
        text = body.get("text", "").strip()
        if text == "create":
            await ack()
            try:
                await client.views_open(
                    trigger_id=body["trigger_id"], view=modal(body["channel_id"])
                )
            except SlackApiError as exc:
                bot.errors.append(str(exc.response["error"]))
        elif text == "hello":
            await ack("working on it")
            await respond(text="hello from respond")
        elif text == "public":
            await ack()
            await respond(text="everyone sees this", response_type="in_channel")
        elif text == "confirm":
            await ack()
            await client.chat_postMessage(
                channel=body["channel_id"],
                text="Delete it?",
                blocks=[
                    {
                        "type": "actions",
                        "block_id": "confirm",
                        "elements": [
                            {
                                "type": "button",
                                "action_id": "delete",
                                "text": {"type": "plain_text", "text": "Delete"},
                                "value": "w-1",
                                "style": "danger",
                                "confirm": {
                                    "title": {"type": "plain_text", "text": "Sure?"},
                                    "text": {"type": "plain_text", "text": "It goes away."},
                                    "confirm": {"type": "plain_text", "text": "Delete"},
                                    "deny": {"type": "plain_text", "text": "Keep"},
                                },
                            }
                        ],
                    }
                ],
            )
        else:
            await ack(f"unknown: {text}")

    @app.action("delete")
    async def delete(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        value = body["actions"][0]["value"]
        await respond(text=f"deleted {value}", replace_original=True)

    @app.view(MODAL_CALLBACK)
    async def submitted(
        ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        values = view["state"]["values"]
        name = values["name"]["value"]["value"]
        if not name or " " in name:
            await ack(response_action="errors", errors={"name": "No spaces in a name"})
            return
        await ack()
        submission = {
            "name": name,
            "size": values["size"]["value"]["selected_option"]["value"],
            "replicas": values["replicas"]["value"]["value"],
            "flags": [o["value"] for o in values["flags"]["value"]["selected_options"]],
            "user": body["user"]["id"],
        }
        bot.submissions.append(submission)
        channel = json.loads(view["private_metadata"])["channel"]
        await client.chat_postMessage(channel=channel, text=f"created {name}")

    @app.middleware
    async def note_retries(req: Any, resp: Any, next: Any) -> Any:
        bot.retry_nums.append(req.headers.get("x-slack-retry-num", [None])[0])
        return await next()

    return app


@contextlib.asynccontextmanager
async def serve_smoke_bot(api_url: str, **client_kw: Any) -> AsyncIterator[SmokeBot]:
    """Serve the smoke bot's `/slack/events` on a loopback port, Web API at `api_url`."""
    client = AsyncWebClient(token="xoxb-test", base_url=api_url, **client_kw)
    bot = SmokeBot(url="", client=client)
    handler = AsyncSlackRequestHandler(build_app(client, bot))

    async def events(request: Request) -> Response:
        response: Response = await handler.handle(request)
        return response

    async with serve(Starlette(routes=[Route("/slack/events", events, methods=["POST"])])) as srv:
        bot.url = srv.url
        yield bot
