"""Wiring: the Bolt `AsyncApp` with every listener, and the Starlette app serving it.

Registration only; the listeners' logic lives in `commands`, `modals/` and `actions`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.config import Settings
from bot.modelinfo.source import build_source
from bot.runai import RunaiCalls
from bot.slack import actions, actions_explain, commands, idle_buttons, intake
from bot.slack.commands import alerts as alert_commands
from bot.slack.commands import schedules as schedule_commands
from bot.slack.deps import AccessLike, CareLike, Deps, OrgCache, OrgsLike, WatcherLike
from bot.slack.ids import Action, Callback, Field
from bot.slack.modals import create as create_modal
from bot.slack.modals import hf_token as hf_token_modal
from bot.slack.modals import scale as scale_modal
from bot.slack.modals import update as update_modal
from bot.slack.reply import Replier, Sleep, retry_handlers
from bot.slack.tasks import Background

logger = logging.getLogger(__name__)

Listeners = Callable[[AsyncApp, Deps, Replier], None]
"""More listeners for `build_app` (the Home, approvals): registered before the catch-all."""

COMMAND = "/inference"
DEV_BOT_TOKEN = "xoxb-not-configured"
DEV_SIGNING_SECRET = "not-configured-signing-secret"


def make_slack_client(
    settings: Settings,
    session: aiohttp.ClientSession | None = None,
    *,
    sleep: Sleep = asyncio.sleep,
) -> AsyncWebClient:
    """The one Web API client: base URL from settings, retries on 429 and 5xx.

    Pass a long-lived `session` (closed by the caller) to keep connections alive; without
    one slack_sdk opens a new connection per call. `sleep` waits between retries.
    """
    token = (
        settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else DEV_BOT_TOKEN
    )
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        retry_handlers=retry_handlers(sleep),
        session=session,
    )


def signing_secret(settings: Settings) -> str:
    """The signing secret, or a development placeholder (logged) when none is set."""
    if settings.slack_signing_secret is None:
        logger.warning(
            "Slack is not configured: SLACK_SIGNING_SECRET unset, using a development secret"
        )
        return DEV_SIGNING_SECRET
    return settings.slack_signing_secret.get_secret_value()


def build_app(
    settings: Settings,
    runai: RunaiCalls,
    slack_client: AsyncWebClient,
    watcher: WatcherLike,
    *,
    orgs: OrgsLike | None = None,
    access: AccessLike | None = None,
    tasks: Background | None = None,
    care: CareLike | None = None,
    submit_budget: float = 1.5,
    background_limit: int = 8,
    listeners: Sequence[Listeners] = (),
) -> AsyncApp:
    """The Bolt app with `/inference`, its modals and buttons; `app.deps` holds the parts.

    With `access` (`bot.access.build_access`), `runai`, `watcher` and `orgs` are its
    policed parts, and its middleware names each request's asker.
    """
    deps = Deps(
        runai=runai,
        slack=slack_client,
        watcher=watcher,
        tasks=tasks or Background(background_limit),
        orgs=orgs if orgs is not None else OrgCache(runai),
        model_info=build_source(settings, runai),
        submit_budget=submit_budget,
        access=access,
        care=care,
    )
    replier = Replier(slack_client)
    secret = signing_secret(settings)
    app = AsyncApp(
        client=slack_client,
        signing_secret=secret,
        # Listeners return right after ack() (work goes to tracked tasks), so Bolt can answer
        # when the listener returns instead of polling for the ack every 10 ms.
        process_before_response=True,
        request_verification_enabled=True,
        logger=logging.getLogger("bot.slack.bolt"),
        # The name Bolt would give itself (this file's), given so that it does not find it
        # with inspect.stack(), which reads every frame's source: ~0.1 s of start-up.
        name="app.py",
    )
    app.use(parse_once)
    if access is not None:
        app.use(access.middleware(deps))
    register(app, deps, replier, listeners)
    app.deps = deps  # type: ignore[attr-defined]
    app.signing_secret = secret  # type: ignore[attr-defined]  # for build_http_app's check
    return app


async def parse_once(
    body: dict[str, Any],
    context: dict[str, Any],
    response: BoltResponse,
    next: Callable[[], Awaitable[None]],
) -> BoltResponse:
    """Parse the command text once, for every middleware and listener after this one:
    `/inference`'s text, or the command a which-one button runs (`context["command"]`)."""
    parsed = commands.parse_body(body)
    if parsed is not None:
        context["command"] = parsed
    await next()
    return response


Handler = Callable[[Deps, Replier, Any, Any], Awaitable[None]]
"""A modal submission's or a button's handler: bound parts, replier, ack, body."""


def register(
    app: AsyncApp, deps: Deps, replier: Replier, listeners: Sequence[Listeners] = ()
) -> None:
    """Attach every listener to `app`; each works with the parts bound to its request's
    asker (`Deps.bound`)."""

    @app.command(COMMAND)
    async def _command(ack: Any, body: dict[str, Any], context: dict[str, Any]) -> None:
        await commands.on_command(deps.bound(context), replier, ack, body, context["command"])

    def on(kind: str, ident: str | re.Pattern[str], handler: Handler) -> None:
        # One shape for every modal submission and button: the parts bound to the asker.
        async def listener(ack: Any, body: dict[str, Any], context: dict[str, Any]) -> None:
            await handler(deps.bound(context), replier, ack, body)

        register_as = app.view_submission if kind == "view" else app.action
        register_as(ident)(listener)

    def idle(press: str) -> Handler:
        return lambda d, r, ack, body: idle_buttons.on_idle_button(d, r, ack, body, press)

    for callback, submit in (
        (Callback.CREATE, create_modal.on_create_submit),
        (Callback.SCALE, scale_modal.on_scale_submit),
        (Callback.UPDATE, update_modal.on_update_submit),
        (Callback.HF_TOKEN, hf_token_modal.on_hf_token_submit),
    ):
        on("view", callback.value, submit)

    @app.view_submission(re.compile(f"^({Callback.LOADING}|{Callback.RESULT})$"))
    async def _passive(ack: Any) -> None:
        await ack()

    @app.options(Field.PROJECT.value)
    async def _projects(ack: Any, body: dict[str, Any], context: dict[str, Any]) -> None:
        await create_modal.on_project_options(deps.bound(context), ack, body)

    @app.action(re.compile(f"^{Action.CHOOSE_WORKLOAD}(_\\d+)?$"))
    async def _choose(ack: Any, body: dict[str, Any], context: dict[str, Any]) -> None:
        await actions.on_choose(deps.bound(context), replier, ack, body, context["command"])

    buttons: tuple[tuple[str | re.Pattern[str], Handler], ...] = (
        (Action.DEPLOY.value, actions.on_deploy),
        (Action.ENTER_HF_TOKEN.value, actions.on_enter_hf_token),
        (Action.CONFIRM_DELETE.value, actions.on_confirm_delete),
        (Action.CANCEL_DELETE.value, actions.on_cancel_delete),
        (re.compile(f"^{Action.LIST_PAGE}(_prev)?$"), actions.on_list_page),
        (Action.IDLE_SCALE_TO_ZERO.value, idle("scale")),
        (Action.IDLE_DELETE.value, idle("delete")),
        (Action.IDLE_KEEP.value, idle("keep")),
        (Action.REMOVE_SCHEDULE.value, schedule_commands.on_remove_schedule),
        (Action.WHY.value, actions_explain.on_why),
        (Action.ROLLBACK.value, actions_explain.on_rollback),
        (Action.CONFIRM_ROLLBACK.value, actions_explain.on_confirm_rollback),
        (Action.CANCEL_ROLLBACK.value, actions_explain.on_cancel_rollback),
        (Action.REMOVE_ALERT.value, alert_commands.on_remove_alert),
        (re.compile(f"^({Action.SNOOZE_1H}|{Action.SNOOZE_24H})$"), alert_commands.on_snooze),
    )
    for action, handler in buttons:
        on("action", action, handler)

    for more in listeners:
        more(app, deps, replier)

    @app.action(re.compile(".*"))
    async def _other(ack: Any) -> None:
        # URL buttons and anything else interactive still need an ack.
        await ack()


def build_http_app(
    app: AsyncApp, *, drain_seconds: float = 10.0, extra_routes: Sequence[BaseRoute] = ()
) -> Starlette:
    """Starlette serving `POST /slack/events` (signed), `GET /healthz` and `extra_routes`.

    Events are checked before Bolt sees them (`intake`): unsigned 401, malformed 400.
    """
    handler = AsyncSlackRequestHandler(app)
    deps: Deps = app.deps  # type: ignore[attr-defined]
    secret: str = app.signing_secret  # type: ignore[attr-defined]

    async def events(request: Request) -> Response:
        raw = await request.body()  # kept by Starlette: Bolt's handler reads it again
        if not intake.signed(secret, raw, request.headers):
            logger.info("request with a bad or missing signature refused")
            return JSONResponse({"error": "invalid request"}, status_code=401)
        _, problem = intake.read_payload(raw, request.headers.get("content-type"))
        if problem:
            logger.warning("malformed Slack request refused", extra={"reason": problem})
            return JSONResponse({"error": "malformed request"}, status_code=400)
        response: Response = await handler.handle(request)
        return response

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True, "background_tasks": len(deps.tasks)})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await deps.tasks.drain(drain_seconds)

    return Starlette(
        routes=[
            Route("/slack/events", events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            *extra_routes,
        ],
        lifespan=lifespan,
    )
