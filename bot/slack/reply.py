"""Everything the app sends to Slack after the ack: replies, channel posts, modals, files.

Web API calls go through the one `AsyncWebClient` (its retry handlers honour 429
`Retry-After` and retry 5xx); response_url posts use a webhook client with the same
handlers. A reply that can't be delivered is logged, never raised into a handler.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.slack import render
from bot.slack.deps import Invocation

logger = logging.getLogger(__name__)

TRIGGER_ERRORS = ("expired_trigger_id", "exchanged_trigger_id", "invalid_trigger_id")
_NOT_THERE = ("not_in_channel", "channel_not_found", "is_archived")


# Waits between attempts; `asyncio.sleep` in the app, a recording stand-in in tests.
Sleep = Callable[[float], Awaitable[None]]


def retry_after_seconds(response: HttpResponse | None) -> float:
    """The whole seconds a 429 asks for (`Retry-After`), 1 when it says nothing usable."""
    if response is not None:
        for name, values in response.headers.items():
            if name.lower() == "retry-after" and values:
                try:
                    return max(0.0, float(int(values[0])))
                except ValueError:
                    break
    return 1.0


class _SleepsThrough:
    """Mixin for slack_sdk's retry handlers: wait through `self.sleep`, not `asyncio.sleep`.

    slack_sdk sleeps inside its handlers; injecting the sleep lets tests see how long a
    retry would wait (the Retry-After honoured) without spending that time.
    """

    sleep: Sleep
    interval_calculator: RetryIntervalCalculator

    def _pause(self, state: RetryState, response: HttpResponse | None) -> float:
        """Seconds to wait before the next attempt: the handler's backoff with jitter."""
        return self.interval_calculator.calculate_sleep_duration(state.current_attempt)

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        """Wait, then let the client send the next attempt."""
        state.next_attempt_requested = True
        await self.sleep(self._pause(state, response))
        state.increment_current_attempt()


class ConnectionErrorRetry(_SleepsThrough, AsyncConnectionErrorRetryHandler):
    """Retry a call whose connection broke, after slack_sdk's backoff."""

    def __init__(self, max_retry_count: int, sleep: Sleep = asyncio.sleep) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.sleep = sleep


class ServerErrorRetry(_SleepsThrough, AsyncServerErrorRetryHandler):
    """Retry a 500/503, after slack_sdk's backoff."""

    def __init__(self, max_retry_count: int, sleep: Sleep = asyncio.sleep) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.sleep = sleep


class RateLimitRetry(_SleepsThrough, AsyncRateLimitErrorRetryHandler):
    """Retry a 429 after its `Retry-After`, plus up to a second of jitter (as slack_sdk)."""

    def __init__(self, max_retry_count: int, sleep: Sleep = asyncio.sleep) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.sleep = sleep

    def _pause(self, state: RetryState, response: HttpResponse | None) -> float:
        return retry_after_seconds(response) + random.random()


def retry_handlers(sleep: Sleep = asyncio.sleep) -> list[AsyncRetryHandler]:
    """Retry connection errors, 429 (after `Retry-After`) and 500/503, a few times.

    `sleep` does the waiting between attempts (tests inject one that records and returns).
    """
    return [
        ConnectionErrorRetry(2, sleep),
        RateLimitRetry(3, sleep),
        ServerErrorRetry(2, sleep),
    ]


def slack_error(exc: SlackApiError) -> str:
    """The `error` code of a Web API failure (`ratelimited`, `expired_trigger_id`, …)."""
    data = getattr(exc.response, "data", None)
    if isinstance(data, Mapping):
        return str(data.get("error", ""))
    return ""


def is_user_id(ref: str) -> bool:
    """Whether `ref` is a user id (`U…`/`W…`) rather than a conversation id."""
    return len(ref) > 1 and ref[0] in "UW" and ref[1:].isalnum() and ref.isupper()


async def open_dm(slack: AsyncWebClient, user: str) -> str:
    """The `D…` id of the app's DM with `user` (conversations.open, `im:write`); the user
    id itself when Slack won't open it (chat.postMessage still takes that, files.*
    uploads do not)."""
    try:
        response = await slack.conversations_open(users=user)
    except SlackApiError as exc:
        logger.warning("DM not opened", extra={"error": slack_error(exc)})
        return user
    return str((response.get("channel") or {}).get("id") or user)


class TriggerExpired(Exception):
    """Slack refused views.open: the trigger_id was too old or already used."""


class Replier:
    """Sends the app's answers; one per app, sharing the one Web API client."""

    def __init__(self, slack: AsyncWebClient) -> None:
        self.slack = slack
        # response_url posts retry as the Web API client does (and wait through its sleep).
        self._handlers: list[AsyncRetryHandler] = list(slack.retry_handlers)
        self._dms: dict[str, str] = {}  # user → the app's DM with them (never changes)

    async def dm(self, user: str) -> str:
        """The app's DM with `user` (opened once per process; `open_dm`)."""
        found = self._dms.get(user)
        if found is None:
            found = await open_dm(self.slack, user)
            if found != user:
                self._dms[user] = found
        return found

    async def respond(
        self,
        inv: Invocation,
        payload: Mapping[str, Any],
        *,
        replace_original: bool = False,
        in_channel: bool = False,
    ) -> None:
        """Answer the user where they asked: response_url, else an ephemeral message."""
        if inv.response_url:
            body = dict(payload)
            body["response_type"] = "in_channel" if in_channel else "ephemeral"
            body["replace_original"] = replace_original
            hook = AsyncWebhookClient(
                inv.response_url, session=self.slack.session, retry_handlers=self._handlers
            )
            try:
                response = await hook.send_dict(body)
            except Exception:
                logger.exception("response_url post failed", extra={"user": inv.user_id})
                return
            if response.status_code == 200:
                return
            logger.warning(
                "response_url refused",
                extra={"status": response.status_code, "body": response.body[:100]},
            )
        if inv.channel_id:
            await self.ephemeral(inv.channel_id, inv.user_id, payload)

    async def ephemeral(self, channel: str, user: str, payload: Mapping[str, Any]) -> None:
        """An ephemeral message; a DM when the bot can't post in the channel."""
        try:
            await self.slack.chat_postEphemeral(channel=channel, user=user, **payload)
            return
        except SlackApiError as exc:
            if slack_error(exc) not in _NOT_THERE:
                logger.warning("ephemeral failed", extra={"error": slack_error(exc)})
                return
        try:
            await self.slack.chat_postMessage(channel=await self.dm(user), **payload)
        except SlackApiError as exc:
            logger.warning("direct message failed", extra={"error": slack_error(exc)})

    async def post(self, channel: str, payload: Mapping[str, Any]) -> str | None:
        """A channel message; its ts, or None when Slack refused (logged)."""
        try:
            response = await self.slack.chat_postMessage(channel=channel, **payload)
        except SlackApiError as exc:
            logger.warning("post failed", extra={"channel": channel, "error": slack_error(exc)})
            return None
        return str(response.get("ts"))

    async def open_view(self, inv: Invocation, view: Mapping[str, Any]) -> str:
        """Show `view`: replace the invocation's modal, or open one with its trigger."""
        if inv.modal_id:
            await self.update_view(inv.modal_id, view)
            return inv.modal_id
        if not inv.trigger_id:
            raise TriggerExpired("no trigger_id")
        try:
            response = await self.slack.views_open(trigger_id=inv.trigger_id, view=dict(view))
        except SlackApiError as exc:
            if slack_error(exc) in TRIGGER_ERRORS:
                raise TriggerExpired(slack_error(exc)) from exc
            raise
        view_id = str(response["view"]["id"])
        inv.modal.view_id = view_id
        return view_id

    async def update_view(self, view_id: str, view: Mapping[str, Any]) -> bool:
        """Replace an open modal; False when it is gone (closed by the user)."""
        try:
            await self.slack.views_update(view_id=view_id, view=dict(view))
        except SlackApiError as exc:
            logger.info("views.update failed", extra={"error": slack_error(exc)})
            return False
        return True

    async def upload_png(
        self, channel: str, png: bytes, *, filename: str, title: str, comment: str
    ) -> bool:
        """Upload a chart to a channel (files upload v2); False when Slack refused. A user
        id means the app's DM with them: files.completeUploadExternal takes only
        conversation ids (C…/G…/D…), so the DM is opened first."""
        if is_user_id(channel):
            channel = await self.dm(channel)
        try:
            await self.slack.files_upload_v2(
                channel=channel,
                file=png,
                filename=filename,
                title=title,
                initial_comment=comment,
            )
        except SlackApiError as exc:
            logger.warning("upload failed", extra={"channel": channel, "error": slack_error(exc)})
            return False
        return True

    async def problem(self, inv: Invocation, sentence: str, detail: str | None = None) -> None:
        """Answer with the error template."""
        await self.respond(inv, render.message("error", sentence=sentence, detail=detail))
