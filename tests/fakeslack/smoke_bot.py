"""A tiny Bolt app (one command, one modal) used to prove the fake Slack round trip."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
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


def wizard(step: int) -> dict[str, Any]:
    """A modal whose submission picks the response_action to answer with."""
    choices = ["update", "push", "clear", "close", "bad-errors"]
    return {
        "type": "modal",
        "callback_id": "wizard",
        "notify_on_close": True,
        "title": {"type": "plain_text", "text": f"Step {step}"},
        "submit": {"type": "plain_text", "text": "Next"},
        "blocks": [
            {
                "type": "section",
                "block_id": "more",
                "text": {"type": "mrkdwn", "text": f"step {step}"},
                "accessory": {
                    "type": "button",
                    "action_id": "more",
                    "text": {"type": "plain_text", "text": "More"},
                    "value": str(step),
                },
            },
            {
                "type": "section",
                "block_id": "model",
                "text": {"type": "mrkdwn", "text": "Model"},
                "accessory": {
                    "type": "external_select",
                    "action_id": "model",
                    "min_query_length": 1,
                    "placeholder": {"type": "plain_text", "text": "Search"},
                },
            },
            {
                "type": "input",
                "block_id": "choice",
                "label": {"type": "plain_text", "text": "Then"},
                "element": {
                    "type": "radio_buttons",
                    "action_id": "value",
                    "options": [
                        {"text": {"type": "plain_text", "text": c}, "value": c} for c in choices
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
    seen_views: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)


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
                            },
                            {
                                "type": "button",
                                "action_id": "dismiss",
                                "text": {"type": "plain_text", "text": "Dismiss"},
                            },
                        ],
                    }
                ],
            )
        elif text == "wizard":
            await ack()
            await client.views_open(trigger_id=body["trigger_id"], view=wizard(1))
        elif text == "blocks":
            await ack(
                text="fallback",
                blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*block ack*"}}],
            )
        elif text == "respond-bad":
            await ack()
            result = await respond(blocks=[{"type": "nope"}], text="x")
            bot.errors.append(f"{result.status_code} {result.body}")
        else:
            await ack(f"unknown: {text}")

    @app.action("more")
    async def more(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        bot.seen_views.append(body["view"]["id"])
        await client.views_push(trigger_id=body["trigger_id"], view=wizard(9))

    @app.options("model")
    async def model_options(ack: Any, payload: dict[str, Any]) -> None:
        query = payload["value"]
        names = [
            n for n in ("Qwen/Qwen2.5-7B", "meta-llama/Llama-3-8B") if query.lower() in n.lower()
        ]
        await ack(options=[{"text": {"type": "plain_text", "text": n}, "value": n} for n in names])

    @app.view("wizard")
    async def wizard_submitted(ack: Any, view: dict[str, Any]) -> None:
        choice = view["state"]["values"]["choice"]["value"]["selected_option"]["value"]
        if choice in ("update", "push"):
            await ack(response_action=choice, view=wizard(2))
        elif choice == "clear":
            await ack(response_action="clear")
        elif choice == "bad-errors":
            await ack(response_action="errors", errors={"nonexistent": "x"})
        else:
            await ack()

    @app.view_closed("wizard")
    async def wizard_closed(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        bot.closed.append(body["view"]["id"])

    @app.action("dismiss")
    async def dismiss(ack: Any, respond: Any) -> None:
        await ack()
        await respond(delete_original=True)

    @app.event("app_mention")
    async def mentioned(event: dict[str, Any], say: Any) -> None:
        await say(text=f"you said {event['text']}", thread_ts=event["ts"])

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


@contextlib.asynccontextmanager
async def connect_smoke_bot(
    api_url: str, app_token: str = "xapp-1-test"
) -> AsyncIterator[SmokeBot]:
    """Run the smoke bot in Socket Mode: apps.connections.open on the fake, then its socket."""
    client = AsyncWebClient(token="xoxb-test", base_url=api_url)
    bot = SmokeBot(url="socket-mode", client=client)
    handler = AsyncSocketModeHandler(build_app(client, bot), app_token)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    try:
        yield bot
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
