"""What the fake Slack workspace remembers: calls, messages, views, files, triggers, faults."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

T = TypeVar("T")

BOT_USER_ID = "UBOT0001"
BOT_ID = "B0001"
APP_ID = "A0001"
TEAM_ID = "T0001"
TEAM_DOMAIN = "fake"

TRIGGER_TTL_SECONDS = 3.0
RESPONSE_URL_MAX_USES = 5
RESPONSE_URL_TTL_SECONDS = 30 * 60
VIEW_STACK_LIMIT = 3

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
USER_ID = _USER_ID
"""A well-formed user id (`U…`/`W…`)."""


def texts_of(value: Any) -> list[str]:
    """Every `text` string inside Block Kit JSON (text objects, fields, options, rich text)."""
    out: list[str] = []
    if isinstance(value, dict):
        text = value.get("text")
        if isinstance(text, str):
            out.append(text)
        for key, item in value.items():
            if key != "text" or not isinstance(item, str):
                out.extend(texts_of(item))
    elif isinstance(value, list):
        for item in value:
            out.extend(texts_of(item))
    return out


class WaitTimeout(AssertionError):
    """`FakeSlack.wait_for` ran out of time; the message lists what Slack received."""


@dataclass(frozen=True)
class RecordedCall:
    """One Web API call as the fake received it (args normalised: JSON fields decoded)."""

    method: str
    args: dict[str, Any]
    time: float
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)
    token: str | None = None

    @property
    def ok(self) -> bool:
        """Whether Slack answered `ok: true`."""
        return self.status == 200 and bool(self.response.get("ok"))


@dataclass
class MessageRecord:
    """A message as it stands in a channel (or shown ephemerally to one user)."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    reply_broadcast: bool = False
    user: str = BOT_USER_ID
    bot: bool = True
    ephemeral_to: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    files: list[FileRecord] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    source: str = "api"
    deleted: bool = False
    edits: list[dict[str, Any]] = field(default_factory=list)

    def all_text(self) -> str:
        """The fallback text and every text inside the blocks and attachments, one per line."""
        return "\n".join([self.text, *texts_of(self.blocks), *texts_of(self.attachments)])

    @property
    def ephemeral(self) -> bool:
        """Whether only one user sees this message."""
        return self.ephemeral_to is not None

    @property
    def is_reply(self) -> bool:
        """Whether this message lives in a thread under another message."""
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_slack(self, fake: FakeSlack | None = None) -> dict[str, Any]:
        """The message object as Slack's API returns it."""
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text}
        if self.bot:
            out.update({"user": BOT_USER_ID, "bot_id": BOT_ID, "app_id": APP_ID})
        else:
            out["user"] = self.user
        out["team"] = TEAM_ID
        if self.blocks:
            out["blocks"] = self.blocks
        if self.attachments:
            out["attachments"] = self.attachments
        if self.files:
            out["files"] = [f.to_slack() for f in self.files]
            out["upload"] = False
        if self.metadata:
            out["metadata"] = self.metadata
        if self.edits:
            out["edited"] = {"user": BOT_USER_ID, "ts": self.edits[-1]["edited_ts"]}
        if self.thread_ts is not None:
            out["thread_ts"] = self.thread_ts
            if self.is_reply:
                out["parent_user_id"] = BOT_USER_ID
                if self.reply_broadcast:
                    out["subtype"] = "thread_broadcast"
        if fake is not None and not self.is_reply:
            replies = fake.thread_replies(self.channel, self.ts)
            if replies:
                out["thread_ts"] = self.ts
                out["reply_count"] = len(replies)
                out["latest_reply"] = replies[-1].ts
                out["reply_users"] = sorted({r.user for r in replies})
        return out


@dataclass
class ViewRecord:
    """A modal opened through views.open/push (and changed by views.update or acks)."""

    id: str
    view: dict[str, Any]
    hash: str
    user_id: str
    team_id: str = TEAM_ID
    root_view_id: str | None = None
    previous_view_id: str | None = None
    external_id: str | None = None
    trigger_id: str | None = None
    opened_by: str = "views.open"
    closed: bool = False
    errors: dict[str, str] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def callback_id(self) -> str:
        """The view's callback_id ('' when none)."""
        return str(self.view.get("callback_id") or "")

    @property
    def blocks(self) -> list[dict[str, Any]]:
        """The view's blocks."""
        blocks = self.view.get("blocks") or []
        return list(blocks)

    @property
    def private_metadata(self) -> str:
        """The view's private_metadata ('' when none)."""
        return str(self.view.get("private_metadata") or "")

    def all_text(self) -> str:
        """The title and every text inside the view's blocks, one per line."""
        return "\n".join([self.title, *texts_of(self.blocks)])

    @property
    def title(self) -> str:
        """The plain text of the title."""
        title = self.view.get("title") or {}
        return str(title.get("text", "")) if isinstance(title, dict) else str(title)

    def to_slack(self, state_values: dict[str, Any] | None = None) -> dict[str, Any]:
        """The view object as Slack returns it from views.* and sends it in payloads."""
        v = self.view
        return {
            "id": self.id,
            "team_id": self.team_id,
            "type": v.get("type", "modal"),
            "blocks": self.blocks,
            "private_metadata": self.private_metadata,
            "callback_id": self.callback_id,
            "state": {"values": state_values or {}},
            "hash": self.hash,
            "title": v.get("title"),
            "clear_on_close": bool(v.get("clear_on_close", False)),
            "notify_on_close": bool(v.get("notify_on_close", False)),
            "close": v.get("close"),
            "submit": v.get("submit"),
            "previous_view_id": self.previous_view_id,
            "root_view_id": self.root_view_id or self.id,
            "app_id": APP_ID,
            "external_id": self.external_id or "",
            "app_installed_team_id": self.team_id,
            "bot_id": BOT_ID,
        }


@dataclass
class FileRecord:
    """A file uploaded through the v2 flow (getUploadURLExternal → POST → complete)."""

    id: str
    filename: str
    length: int
    upload_token: str
    alt_txt: str | None = None
    title: str | None = None
    content: bytes | None = None
    completed: bool = False
    channels: list[str] = field(default_factory=list)
    initial_comment: str | None = None
    thread_ts: str | None = None

    @property
    def mimetype(self) -> str:
        """A mimetype guessed from the content (PNG magic) or the name."""
        if self.content is not None and self.content.startswith(b"\x89PNG\r\n\x1a\n"):
            return "image/png"
        if self.filename.endswith(".png"):
            return "image/png"
        return "application/octet-stream"

    def to_slack(self) -> dict[str, Any]:
        """The file object as Slack returns it."""
        return {
            "id": self.id,
            "name": self.filename,
            "title": self.title or self.filename,
            "mimetype": self.mimetype,
            "filetype": "png" if self.mimetype == "image/png" else "binary",
            "size": len(self.content or b""),
            "user": BOT_USER_ID,
            "channels": list(self.channels),
            "url_private": f"https://files.fake.slack/{self.id}/{self.filename}",
            "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{BOT_USER_ID}/{self.id}",
        }


@dataclass
class ResponseContext:
    """Where a response_url's messages go."""

    id: str
    channel: str
    user: str
    message_ts: str | None = None
    issued_at: float = 0.0
    uses: int = 0


@dataclass(frozen=True)
class ResponseRecord:
    """One POST to a response_url."""

    response_id: str
    body: dict[str, Any]
    time: float
    status: int
    context: ResponseContext | None


@dataclass
class TriggerRecord:
    """A trigger_id the driver handed to the bot."""

    id: str
    user_id: str
    channel_id: str | None
    issued_at: float
    used: bool = False
    expired: bool = False


RESPONSE_URL = "response_url"
"""The pseudo-method a fault names to hit posts to response_urls (not Web API calls)."""


@dataclass
class Fault:
    """An injected failure for the next `count` calls of `method` ('*' = any)."""

    method: str
    error: str
    status: int
    retry_after: int | None
    count: int
    delay: float = 0.0

    def matches(self, method: str) -> bool:
        """Whether this fault applies to `method` ('*' covers Web API methods only)."""
        if self.count <= 0:
            return False
        return self.method == method or (self.method == "*" and method != RESPONSE_URL)


@dataclass(frozen=True)
class FakeEvent:
    """Something a user of the workspace would notice (for the demo console)."""

    kind: Literal[
        "message",
        "message_changed",
        "message_deleted",
        "view_opened",
        "view_pushed",
        "view_updated",
        "view_closed",
        "file_shared",
        "home_published",
    ]
    message: MessageRecord | None = None
    view: ViewRecord | None = None
    file: FileRecord | None = None


@dataclass
class Channel:
    """A conversation the workspace knows."""

    id: str
    name: str
    is_member: bool = True
    is_private: bool = False
    is_im: bool = False


@dataclass
class User:
    """A workspace member."""

    id: str
    name: str
    real_name: str
    email: str | None = None
    is_bot: bool = False
    tz: str = "Europe/Berlin"


class FakeSlack:
    """State of one fake Slack workspace; served by `create_fake_slack_app`."""

    def __init__(
        self,
        *,
        trigger_ttl: float = TRIGGER_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.trigger_ttl = trigger_ttl
        self.clock = clock
        self.base_url: str | None = None
        self.socket_mode_url: str | None = None
        self.calls: list[RecordedCall] = []
        self.messages: list[MessageRecord] = []
        self._by_ts: dict[tuple[str, str], list[MessageRecord]] = {}
        self._threads: dict[tuple[str, str], list[MessageRecord]] = {}
        self.views: dict[str, ViewRecord] = {}
        # views.publish: every Home published per user, oldest first (the last is shown;
        # `SlackDriver.click` presses its buttons like any view's).
        self.homes: dict[str, list[ViewRecord]] = {}
        # DMs opened with conversations.open (their `D…` ids).
        self.opened_dms: set[str] = set()
        self.files: dict[str, FileRecord] = {}
        self.responses: list[ResponseRecord] = []
        self.triggers: dict[str, TriggerRecord] = {}
        self.response_contexts: dict[str, ResponseContext] = {}
        self.faults: list[Fault] = []
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, User] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.valid_tokens: set[str] | None = None
        self.channel_rate_limit: float | None = None
        self._last_post: dict[str, float] = {}
        self._view_stacks: dict[str, list[str]] = {}
        self._listeners: list[Callable[[FakeEvent], None]] = []
        self._ids = itertools.count(1)
        self._last_ts = 0
        self._changed = asyncio.Event()
        self._seed()

    # ------------------------------------------------------------------ setup
    def _seed(self) -> None:
        self.add_channel("C0001", "general")
        self.add_user("U0001", "alice", "Alice Example", email="alice@example.com")
        self.add_user("U0002", "bob", "Bob Example", email="bob@example.com")
        self.users[BOT_USER_ID] = User(BOT_USER_ID, "inference-bot", "Inference Bot", is_bot=True)

    def clear(self) -> None:
        """Forget recorded calls, messages, views, files, responses, triggers and faults."""
        self.calls.clear()
        self.messages.clear()
        self._by_ts.clear()
        self._threads.clear()
        self.views.clear()
        self.homes.clear()
        self.opened_dms.clear()
        self.files.clear()
        self.responses.clear()
        self.triggers.clear()
        self.response_contexts.clear()
        self.faults.clear()
        self._last_post.clear()
        self._view_stacks.clear()
        self.notify()

    def add_channel(
        self, id: str, name: str, *, is_member: bool = True, is_private: bool = False
    ) -> Channel:
        """Make a channel known (any well-formed channel id is auto-created as a member)."""
        ch = Channel(id, name, is_member=is_member, is_private=is_private, is_im=id.startswith("D"))
        self.channels[id] = ch
        return ch

    def add_user(
        self, id: str, name: str, real_name: str | None = None, *, email: str | None = None
    ) -> User:
        """Make a user known (any well-formed user id is auto-created)."""
        user = User(id, name, real_name or name, email=email)
        self.users[id] = user
        return user

    def add_usergroup(self, id: str, user_ids: list[str]) -> None:
        """Define a user group (usergroups.users.list)."""
        self.usergroups[id] = list(user_ids)

    def channel(self, ref: str) -> Channel | None:
        """Resolve a channel id, `#name` or user id (→ DM); well-formed ids are auto-created."""
        if ref in self.channels:
            return self.channels[ref]
        name = ref.lstrip("#")
        for ch in self.channels.values():
            if ch.name == name:
                return ch
        if _CHANNEL_ID.match(ref):
            return self.add_channel(ref, f"channel-{ref.lower()}")
        if _USER_ID.match(ref) and self.user(ref) is not None:
            # Posting to a user id lands in the app's DM with that user.
            dm = f"D{ref[1:]}"
            return self.channels.get(dm) or self.add_channel(dm, ref)
        return None

    def user(self, ref: str) -> User | None:
        """Resolve a user id; unknown well-formed ids are auto-created."""
        if ref in self.users:
            return self.users[ref]
        if _USER_ID.match(ref):
            return self.add_user(ref, f"user-{ref.lower()}")
        return None

    # ------------------------------------------------------------------ ids
    def next_id(self, prefix: str) -> str:
        """A fresh Slack-looking id such as V000000000001."""
        return f"{prefix}{next(self._ids):012d}"

    def next_ts(self) -> str:
        """A unique, strictly increasing message ts like '1700000000.000100'."""
        now = int(time.time() * 1_000_000)
        self._last_ts = max(now, self._last_ts + 100)
        secs, micros = divmod(self._last_ts, 1_000_000)
        return f"{secs}.{micros:06d}"

    # ------------------------------------------------------------------ recording
    def record(self, call: RecordedCall) -> None:
        """Append a call and wake waiters."""
        self.calls.append(call)
        self.notify()

    def calls_to(self, method: str, *, ok: bool | None = None) -> list[RecordedCall]:
        """Recorded calls of one Web API method (optionally only ok / only failed ones)."""
        return [c for c in self.calls if c.method == method and (ok is None or c.ok == ok)]

    def notify(self, event: FakeEvent | None = None) -> None:
        """Wake `wait_for` and tell listeners about `event`."""
        self._changed.set()
        self._changed = asyncio.Event()
        if event is not None:
            for listener in list(self._listeners):
                listener(event)

    def add_listener(self, listener: Callable[[FakeEvent], None]) -> None:
        """Call `listener` for every visible change (messages, views, files)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[FakeEvent], None]) -> None:
        """Stop calling `listener`."""
        self._listeners.remove(listener)

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float = 10.0) -> T:  # noqa: ASYNC109
        """Poll `predicate()` until it returns something truthy; return it, or raise WaitTimeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise WaitTimeout(f"condition not met within {timeout}s; {self.summary()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=min(remaining, 0.05))

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[RecordedCall], bool] | None = None,
        *,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> RecordedCall:
        """Wait until `count` calls of `method` matching `predicate` arrived; return the last."""

        def found() -> RecordedCall | None:
            hits = [c for c in self.calls_to(method) if predicate is None or predicate(c)]
            return hits[count - 1] if len(hits) >= count else None

        return await self.wait_for(found, timeout=timeout)

    def summary(self) -> str:
        """A short description of what was received (for failure messages)."""
        counts: dict[str, int] = {}
        for c in self.calls:
            counts[c.method] = counts.get(c.method, 0) + 1
        lines = [f"calls={counts}", f"messages={len(self.messages)}"]
        for m in self.messages[-8:]:
            lines.append(f"  [{m.channel} {m.ts} thread={m.thread_ts}] {m.text[:120]!r}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ faults
    def fail_next(
        self,
        method: str,
        error: str | None = None,
        status: int | None = None,
        retry_after: int | None = 1,
        count: int = 1,
        *,
        delay: float = 0.0,
    ) -> Fault:
        """Make the next `count` calls of `method` ('*' = any) fail.

        `method` may also be `RESPONSE_URL` ("response_url"): the next posts to any
        response_url then get the status, with the error as the plain-text body.

        Defaults to 429 `ratelimited` with Retry-After; `status=500..599` gives a server
        error; an `error` with no status gives Slack's usual HTTP 200 `ok: false`.
        """
        if status is None:
            status = 429 if error in (None, "ratelimited") else 200
        if error is None:
            error = (
                "ratelimited"
                if status == 429
                else ("internal_error" if status >= 500 else "fatal_error")
            )
        fault = Fault(
            method=method,
            error=error,
            status=status,
            retry_after=retry_after if status in (429, 503) else None,
            count=count,
            delay=delay,
        )
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every pending fault and turn the per-channel rate limit off."""
        self.faults.clear()
        self.channel_rate_limit = None

    def take_fault(self, method: str) -> Fault | None:
        """Consume one pending fault for `method`, if any."""
        for fault in self.faults:
            if fault.matches(method):
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def rate_limited(self, channel: str) -> int | None:
        """Per-channel posting limit: seconds to wait, or None when the post may go."""
        if self.channel_rate_limit is None:
            return None
        now = self.clock()
        last = self._last_post.get(channel)
        if last is not None and now - last < self.channel_rate_limit:
            return max(1, math.ceil(self.channel_rate_limit - (now - last)))
        self._last_post[channel] = now
        return None

    # ------------------------------------------------------------------ triggers / response urls
    def issue_trigger(self, user_id: str, channel_id: str | None = None) -> str:
        """A fresh trigger_id valid for `trigger_ttl` seconds, single use."""
        tid = f"{next(self._ids)}.{int(time.time())}.{secrets.token_hex(16)}"
        self.triggers[tid] = TriggerRecord(tid, user_id, channel_id, self.clock())
        return tid

    def expire_triggers(self) -> None:
        """Expire every trigger issued so far (tests of `expired_trigger_id`, no sleeping)."""
        for trig in self.triggers.values():
            trig.expired = True

    def exchange_trigger(self, trigger_id: str) -> TriggerRecord:
        """Use a trigger for views.open/push; raise ApiError like Slack when it can't be."""
        from bot.fakeslack.errors import ApiError

        trig = self.triggers.get(trigger_id)
        if trig is None or trig.expired or self.clock() - trig.issued_at > self.trigger_ttl:
            raise ApiError("expired_trigger_id")
        if trig.used:
            raise ApiError("exchanged_trigger_id")
        trig.used = True
        return trig

    def issue_response_url(self, channel: str, user: str, message_ts: str | None = None) -> str:
        """A response_url on this fake (needs `base_url`, set when the fake is served)."""
        if self.base_url is None:
            raise RuntimeError("FakeSlack.base_url is unset: serve it with serve_fake_slack()")
        rid = secrets.token_hex(12)
        self.response_contexts[rid] = ResponseContext(
            rid, channel, user, message_ts, issued_at=self.clock()
        )
        return f"{self.base_url}/response/{rid}"

    # ------------------------------------------------------------------ messages
    def add_message(self, message: MessageRecord) -> MessageRecord:
        """Store a message and tell listeners."""
        self.messages.append(message)
        self._by_ts.setdefault((message.channel, message.ts), []).append(message)
        if message.thread_ts is not None:
            self._threads.setdefault((message.channel, message.thread_ts), []).append(message)
        self.notify(FakeEvent("message", message=message))
        return message

    def find_message(self, channel: str, ts: str) -> MessageRecord | None:
        """The live message `ts` in `channel` (ephemeral ones included)."""
        for m in self._by_ts.get((channel, ts), ()):
            if not m.deleted:
                return m
        return None

    def channel_messages(
        self, channel: str, *, include_replies: bool = False
    ) -> list[MessageRecord]:
        """Visible, non-ephemeral messages in `channel`, oldest first."""
        return [
            m
            for m in self.messages
            if m.channel == channel
            and not m.deleted
            and not m.ephemeral
            and (include_replies or not m.is_reply or m.reply_broadcast)
        ]

    def thread_replies(self, channel: str, thread_ts: str) -> list[MessageRecord]:
        """Replies under `thread_ts` in `channel`, oldest first."""
        return [
            m
            for m in self._threads.get((channel, thread_ts), ())
            if m.ts != thread_ts and not m.deleted and not m.ephemeral
        ]

    def ephemerals(self, user: str | None = None) -> list[MessageRecord]:
        """Ephemeral messages (to `user`, or to anyone)."""
        return [
            m for m in self.messages if m.ephemeral and (user is None or m.ephemeral_to == user)
        ]

    def last_message(self, channel: str | None = None) -> MessageRecord:
        """The newest message (optionally in one channel); AssertionError when none."""
        for m in reversed(self.messages):
            if not m.deleted and (channel is None or m.channel == channel):
                return m
        raise AssertionError(f"no message{' in ' + channel if channel else ''}; {self.summary()}")

    # ------------------------------------------------------------------ views
    def view_stack(self, user_id: str) -> list[ViewRecord]:
        """The user's open modal stack, root first."""
        return [self.views[v] for v in self._view_stacks.get(user_id, [])]

    def open_view(self, record: ViewRecord, *, push: bool) -> None:
        """Put a view on the user's stack (views.open replaces the stack)."""
        from bot.fakeslack.errors import ApiError

        stack = self._view_stacks.setdefault(record.user_id, [])
        if push:
            if not stack:
                raise ApiError("view_not_found")
            if len(stack) >= VIEW_STACK_LIMIT:
                raise ApiError("push_limit_reached")
            record.previous_view_id = stack[-1]
            record.root_view_id = stack[0]
        else:
            for vid in stack:
                self.views[vid].closed = True
            stack.clear()
            record.root_view_id = record.id
        stack.append(record.id)
        self.views[record.id] = record
        self.notify(FakeEvent("view_pushed" if push else "view_opened", view=record))

    def close_view(self, record: ViewRecord, *, all_views: bool = False) -> None:
        """Close the top view (or the whole stack) of the view's user."""
        stack = self._view_stacks.get(record.user_id, [])
        targets = list(stack) if all_views else [record.id]
        for vid in targets:
            if vid in stack:
                stack.remove(vid)
            self.views[vid].closed = True
            self.notify(FakeEvent("view_closed", view=self.views[vid]))

    def find_view(
        self, view_id: str | None = None, external_id: str | None = None
    ) -> ViewRecord | None:
        """A view by id or external_id."""
        if view_id:
            return self.views.get(view_id)
        if external_id:
            for v in self.views.values():
                if v.external_id == external_id:
                    return v
        return None

    def iter_open_views(self) -> Iterator[ViewRecord]:
        """Every view currently open, in opening order."""
        return (v for v in self.views.values() if not v.closed)
