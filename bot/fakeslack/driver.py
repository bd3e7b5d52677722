"""SlackDriver: plays a Slack user against a bot's `POST /slack/events`, like Slack's servers do."""

from __future__ import annotations

import functools
import json
import secrets
import ssl
import time
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.fakeslack.errors import SlackDriverError
from bot.fakeslack.methods import new_view_hash, update_view, with_slack_ids
from bot.fakeslack.payloads import action_payload, block_elements, find_element, state_values
from bot.fakeslack.signing import sign_request
from bot.fakeslack.socket_mode import SocketModeServer
from bot.fakeslack.state import (
    APP_ID,
    TEAM_DOMAIN,
    FakeSlack,
    MessageRecord,
    ViewRecord,
)
from bot.slack.blockkit import block_problems, view_problems

VERIFICATION_TOKEN = "fake-verification-token"
SLACK_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


def input_block_ids(view: dict[str, Any]) -> set[str]:
    """block_ids of the view's input blocks (where response_action errors may point)."""
    return {
        str(b["block_id"])
        for b in view.get("blocks") or []
        if isinstance(b, dict) and b.get("type") == "input" and b.get("block_id")
    }


@functools.cache
def _tls() -> ssl.SSLContext:
    """One verifying TLS context for every driver: building one loads the CA store, ~20 ms
    of CPU, and tests start a driver per story."""
    return ssl.create_default_context()


class SlackDriver:
    """Sends signed slash commands, block actions, view submissions and events to a bot.

    Trigger ids and response_urls it hands out are registered with `fake`, so the bot's
    views.open and respond() land there. Acks are applied as Slack would: a command's
    ack body becomes an ephemeral (or in_channel) message, a view_submission's
    `response_action` closes, updates, pushes or annotates the modal. `ack_times` records
    every ack's latency; `ack_deadline=3.0` turns a late ack into SlackDriverError
    (Slack's operation_timeout). With `socket_mode=SocketModeServer`, payloads travel as
    Socket Mode envelopes instead of signed HTTP posts (bot_url and secret are unused).
    """

    def __init__(
        self,
        bot_url: str,
        signing_secret: str,
        fake: FakeSlack,
        *,
        team_id: str = "T0001",
        user_id: str = "U0001",
        channel_id: str = "C0001",
        path: str = "/slack/events",
        timeout: float = 10.0,
        ack_deadline: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        socket_mode: SocketModeServer | None = None,
    ) -> None:
        self.bot_url = bot_url.rstrip("/")
        self.signing_secret = signing_secret
        self.fake = fake
        self.team_id = team_id
        self.user_id = user_id
        self.channel_id = channel_id
        self.path = path
        self.ack_deadline = ack_deadline
        self.timeout = timeout
        self.socket_mode = socket_mode
        self.ack_times: list[float] = []
        self.last_trigger_id: str | None = None
        self.last_response_url: str | None = None
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport, verify=_tls())

    async def __aenter__(self) -> SlackDriver:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    # ------------------------------------------------------------------ transport
    async def post(
        self,
        body: bytes,
        content_type: str,
        *,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> httpx.Response:
        """POST a signed body to the bot (retry headers optional); record the ack time."""
        headers = {"Content-Type": content_type, "User-Agent": SLACK_USER_AGENT}
        headers.update(sign_request(body, signing_secret or self.signing_secret, timestamp))
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        started = time.perf_counter()
        response = await self._client.post(
            f"{self.bot_url}{self.path}", content=body, headers=headers
        )
        self._note_ack(time.perf_counter() - started)
        return response

    def _note_ack(self, elapsed: float) -> None:
        self.ack_times.append(elapsed)
        if self.ack_deadline is not None and elapsed > self.ack_deadline:
            raise SlackDriverError(
                f"the bot acked after {elapsed:.2f}s (deadline {self.ack_deadline}s): "
                "Slack would show the user operation_timeout"
            )

    async def _deliver(
        self,
        kind: str,
        payload: dict[str, Any],
        body: bytes,
        content_type: str,
        *,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> httpx.Response:
        """Over HTTP: POST the signed body. Over Socket Mode: push an envelope, await the ack."""
        if self.socket_mode is None:
            return await self.post(
                body,
                content_type,
                retry_num=retry_num,
                retry_reason=retry_reason,
                timestamp=timestamp,
                signing_secret=signing_secret,
            )
        started = time.perf_counter()
        ack = await self.socket_mode.send(
            kind,
            payload,
            accepts_response_payload=kind != "events_api",
            retry_attempt=retry_num or 0,
            retry_reason=(retry_reason or "http_timeout") if retry_num else "",
            timeout=self.timeout,
        )
        if ack is None:
            return httpx.Response(504, text=f"no Socket Mode ack within {self.timeout}s")
        self._note_ack(time.perf_counter() - started)
        inner = ack.get("payload")
        return httpx.Response(200) if inner is None else httpx.Response(200, json=inner)

    async def _post_payload(self, payload: dict[str, Any], **kw: Any) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self._deliver(
            "interactive", payload, body, "application/x-www-form-urlencoded", **kw
        )

    def _user(self, user: str | None) -> dict[str, Any]:
        uid = user or self.user_id
        known = self.fake.user(uid)
        name = known.name if known else uid.lower()
        return {"id": uid, "username": name, "name": name, "team_id": self.team_id}

    def _channel(self, channel: str | None) -> dict[str, str]:
        cid = channel or self.channel_id
        known = self.fake.channel(cid)
        return {"id": cid, "name": known.name if known else cid.lower()}

    def _trigger(self, user: str, channel: str | None) -> str:
        self.last_trigger_id = self.fake.issue_trigger(user, channel)
        return self.last_trigger_id

    def _response_url(self, channel: str, user: str, message_ts: str | None = None) -> str:
        self.last_response_url = self.fake.issue_response_url(channel, user, message_ts)
        return self.last_response_url

    # ------------------------------------------------------------------ slash commands
    async def command(
        self,
        command: str = "/inference",
        text: str = "",
        *,
        user: str | None = None,
        channel: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> httpx.Response:
        """Invoke a slash command like Slack (form-encoded); the ack body is shown to the user."""
        u = self._user(user)
        ch = self._channel(channel)
        form = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "team_domain": TEAM_DOMAIN,
            "channel_id": ch["id"],
            "channel_name": ch["name"],
            "user_id": u["id"],
            "user_name": u["name"],
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": self._response_url(ch["id"], u["id"]),
            "trigger_id": self._trigger(u["id"], ch["id"]),
        }
        response = await self._deliver(
            "slash_commands",
            form,
            urlencode(form).encode(),
            "application/x-www-form-urlencoded",
            retry_num=retry_num,
            retry_reason=retry_reason,
            timestamp=timestamp,
            signing_secret=signing_secret,
        )
        if response.status_code == 200:
            self._show_command_ack(response, ch["id"], u["id"])
        return response

    def _show_command_ack(self, response: httpx.Response, channel: str, user: str) -> None:
        raw = response.content.strip()
        if not raw:
            return
        body: dict[str, Any]
        if response.headers.get("content-type", "").startswith("application/json"):
            parsed = json.loads(raw)
            body = parsed if isinstance(parsed, dict) else {"text": str(parsed)}
        else:
            body = {"text": raw.decode()}
        blocks = body.get("blocks")
        if blocks is not None:
            problems = block_problems(blocks)
            if problems:
                raise SlackDriverError(f"Slack would refuse the command ack's blocks: {problems}")
        if not (body.get("text") or blocks):
            return
        self.fake.add_message(
            MessageRecord(
                channel=channel,
                ts=self.fake.next_ts(),
                text=str(body.get("text") or ""),
                blocks=list(blocks or []),
                ephemeral_to=None if body.get("response_type") == "in_channel" else user,
                source="ack",
            )
        )

    # ------------------------------------------------------------------ block actions
    async def click(
        self,
        target: MessageRecord | ViewRecord,
        action_id: str,
        value: Any = None,
        *,
        block_id: str | None = None,
        user: str | None = None,
        values: dict[str, Any] | None = None,
        confirm: bool = True,
        retry_num: int | None = None,
    ) -> httpx.Response | None:
        """Use the element `action_id` in a message or modal (button, select, overflow, ...).

        `value` is the button value (default: the element's own) or the option value(s)
        chosen; `values` sets other inputs of a modal. With `confirm=False` a button
        with a confirm dialog is cancelled: nothing is sent and None is returned.
        """
        blocks = target.blocks
        block, el = find_element(blocks, action_id, block_id)
        if el.get("confirm") and not confirm:
            return None
        u = self._user(user)
        given = value is not None
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": u,
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": "",
            "team": {"id": self.team_id, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "actions": [action_payload(block, el, value, given=given)],
        }
        if isinstance(target, ViewRecord):
            if target.closed:
                raise SlackDriverError(f"view {target.id} is closed")
            payload["trigger_id"] = self._trigger(u["id"], None)
            payload["container"] = {"type": "view", "view_id": target.id}
            payload["view"] = target.to_slack(state_values(target.blocks, values))
        else:
            if target.deleted:
                raise SlackDriverError(f"message {target.ts} was deleted")
            payload["trigger_id"] = self._trigger(u["id"], target.channel)
            container: dict[str, Any] = {
                "type": "message",
                "message_ts": target.ts,
                "channel_id": target.channel,
                "is_ephemeral": target.ephemeral,
            }
            if target.thread_ts:
                container["thread_ts"] = target.thread_ts
            payload["container"] = container
            payload["channel"] = self._channel(target.channel)
            if not target.ephemeral:
                payload["message"] = target.to_slack(self.fake)
            payload["state"] = {"values": state_values(target.blocks, values) if values else {}}
            payload["response_url"] = self._response_url(target.channel, u["id"], target.ts)
        return await self._post_payload(payload, retry_num=retry_num)

    async def suggest(
        self, view: ViewRecord, action_id: str, value: str, *, user: str | None = None
    ) -> httpx.Response:
        """Type into an external_select: a block_suggestion payload; the ack carries options."""
        block, _ = find_element(view.blocks, action_id)
        payload = {
            "type": "block_suggestion",
            "user": self._user(user),
            "container": {"type": "view", "view_id": view.id},
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "action_id": action_id,
            "block_id": block.get("block_id"),
            "value": value,
            "team": {"id": self.team_id, "domain": TEAM_DOMAIN},
            "view": view.to_slack(state_values(view.blocks)),
        }
        return await self._post_payload(payload)

    # ------------------------------------------------------------------ modals
    @property
    def open_views(self) -> list[ViewRecord]:
        """The driver user's modal stack, root first."""
        return self.fake.view_stack(self.user_id)

    def last_view(self, user: str | None = None) -> ViewRecord:
        """The top open modal of the user, else the newest view ever opened."""
        stack = self.fake.view_stack(user or self.user_id)
        if stack:
            return stack[-1]
        if self.fake.views:
            return list(self.fake.views.values())[-1]
        raise SlackDriverError(f"no view was ever opened; {self.fake.summary()}")

    async def submit_view(
        self,
        view: ViewRecord | None = None,
        values: dict[str, Any] | None = None,
        *,
        user: str | None = None,
        retry_num: int | None = None,
    ) -> httpx.Response:
        """Press Submit on a modal with `values[block_id][action_id] = value`; apply the ack."""
        uid = user or self.user_id
        record = view or self.last_view(uid)
        if record.closed:
            raise SlackDriverError(f"view {record.id} ({record.callback_id}) is closed")
        state = state_values(record.blocks, values)
        payload: dict[str, Any] = {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": TEAM_DOMAIN},
            "user": self._user(uid),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self._trigger(uid, None),
            "view": record.to_slack(state),
            "response_urls": self._response_urls(record, state, uid),
            "is_enterprise_install": False,
            "enterprise": None,
        }
        response = await self._post_payload(payload, retry_num=retry_num)
        if response.status_code == 200:
            self._apply_submission_ack(record, response)
        return response

    def _response_urls(
        self, record: ViewRecord, state: dict[str, dict[str, dict[str, Any]]], user: str
    ) -> list[dict[str, str]]:
        urls: list[dict[str, str]] = []
        for block in record.blocks:
            for el in block_elements(block):
                if not el.get("response_url_enabled"):
                    continue
                entry = state.get(str(block.get("block_id")), {}).get(str(el.get("action_id")), {})
                channel = entry.get("selected_conversation") or entry.get("selected_channel")
                if channel:
                    urls.append(
                        {
                            "block_id": str(block.get("block_id")),
                            "action_id": str(el.get("action_id")),
                            "channel_id": str(channel),
                            "response_url": self._response_url(str(channel), user),
                        }
                    )
        return urls

    def _apply_submission_ack(self, record: ViewRecord, response: httpx.Response) -> None:
        raw = response.content.strip()
        if not raw:
            self.fake.close_view(record)
            return
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise SlackDriverError(f"view_submission ack is not JSON: {raw[:200]!r}") from exc
        action = body.get("response_action") if isinstance(body, dict) else None
        if action is None:
            self.fake.close_view(record)
        elif action == "errors":
            errors = body.get("errors") or {}
            unknown = set(errors) - input_block_ids(record.view)
            if unknown:
                raise SlackDriverError(
                    "response_action errors name block_ids that are not inputs of the view: "
                    f"{sorted(unknown)}"
                )
            record.errors = {str(k): str(v) for k, v in errors.items()}
            self.fake.notify()
        elif action == "update":
            new_view = self._checked_view(body.get("view"))
            update_view(self.fake, record, new_view)
        elif action == "push":
            new_view = with_slack_ids(self._checked_view(body.get("view")))
            pushed = ViewRecord(
                id=self.fake.next_id("V"),
                view=new_view,
                hash=new_view_hash(),
                user_id=record.user_id,
                opened_by="response_action:push",
            )
            self.fake.open_view(pushed, push=True)
        elif action == "clear":
            self.fake.close_view(record, all_views=True)
        else:
            raise SlackDriverError(f"unknown response_action {action!r}")

    @staticmethod
    def _checked_view(view: Any) -> dict[str, Any]:
        problems = view_problems(view)
        if problems or not isinstance(view, dict):
            raise SlackDriverError(f"Slack would refuse the view in the ack: {problems}")
        return view

    async def close_view(
        self, view: ViewRecord | None = None, *, user: str | None = None
    ) -> httpx.Response | None:
        """Press Close (sends view_closed only when the view asked for notify_on_close)."""
        uid = user or self.user_id
        record = view or self.last_view(uid)
        self.fake.close_view(record, all_views=bool(record.view.get("clear_on_close")))
        if not record.view.get("notify_on_close"):
            return None
        payload = {
            "type": "view_closed",
            "team": {"id": self.team_id, "domain": TEAM_DOMAIN},
            "user": self._user(uid),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "view": record.to_slack(state_values(record.blocks)),
            "is_cleared": bool(record.view.get("clear_on_close")),
            "is_enterprise_install": False,
        }
        return await self._post_payload(payload)

    # ------------------------------------------------------------------ events
    async def event(
        self,
        event: dict[str, Any],
        *,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> httpx.Response:
        """Deliver an Events API `event_callback` (e.g. app_mention) as JSON."""
        envelope = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "api_app_id": APP_ID,
            "event": {"event_ts": f"{time.time():.6f}", **event},
            "type": "event_callback",
            "event_id": f"Ev{secrets.token_hex(5).upper()}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": "UBOT0001",
                    "is_bot": True,
                }
            ],
            "is_ext_shared_channel": False,
        }
        return await self._deliver(
            "events_api",
            envelope,
            json.dumps(envelope).encode(),
            "application/json",
            retry_num=retry_num,
            retry_reason=retry_reason,
        )
