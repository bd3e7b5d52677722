"""Web API methods of the fake: each takes the workspace state and the call's args."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.fakeslack.errors import ApiError
from bot.fakeslack.payloads import block_elements
from bot.fakeslack.state import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    USER_ID,
    Channel,
    FakeEvent,
    FakeSlack,
    FileRecord,
    MessageRecord,
    ViewRecord,
)
from bot.slack.blockkit import (
    MESSAGE_TEXT_MAX,
    MESSAGE_TEXT_TRUNCATED,
    block_problems,
    view_problems,
)

JSON_ARGS = ("blocks", "attachments", "view", "files", "metadata", "unfurls", "channels_list")
BOOL_ARGS = (
    "reply_broadcast",
    "unfurl_links",
    "unfurl_media",
    "mrkdwn",
    "as_user",
    "inclusive",
    "include_all_metadata",
    "include_locale",
    "include_num_members",
    "include_count",
    "include_disabled",
    "replace_original",
    "delete_original",
)


@dataclass
class ApiCall:
    """A decoded Web API request."""

    method: str
    args: dict[str, Any]
    base_url: str


Handler = Callable[[FakeSlack, ApiCall], dict[str, Any]]


def normalise_args(args: dict[str, Any]) -> dict[str, Any]:
    """Decode JSON-string fields and boolean strings, whatever the transport was."""
    out = dict(args)
    for key in JSON_ARGS:
        value = out.get(key)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            with contextlib.suppress(ValueError):
                out[key] = json.loads(value)
    for key in BOOL_ARGS:
        value = out.get(key)
        if isinstance(value, str):
            out[key] = value.lower() in ("1", "true", "yes")
    return out


def _require(args: dict[str, Any], *names: str) -> None:
    for name in names:
        if args.get(name) in (None, ""):
            raise ApiError(
                "invalid_arguments",
                response_metadata={"messages": [f"[ERROR] missing required field: {name}"]},
            )


def _channel_for_post(fake: FakeSlack, ref: Any) -> str:
    if not ref:
        raise ApiError("channel_not_found")
    ch = fake.channel(str(ref))
    if ch is None:
        raise ApiError("channel_not_found")
    if not ch.is_member and not ch.is_im:
        raise ApiError("not_in_channel")
    return ch.id


def _content(args: dict[str, Any]) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    text = args.get("text")
    blocks = args.get("blocks")
    attachments = args.get("attachments")
    if blocks is not None:
        problems = block_problems(blocks)
        if problems:
            raise ApiError(
                "invalid_blocks", response_metadata={"messages": [f"[ERROR] {p}" for p in problems]}
            )
    if not text and not blocks and not attachments:
        raise ApiError("no_text")
    return (
        # chat.postMessage truncates, it does not refuse (warning message_truncated).
        str(text or "")[:MESSAGE_TEXT_TRUNCATED],
        list(blocks or []) if isinstance(blocks, list) else [],
        list(attachments or []) if isinstance(attachments, list) else [],
    )


# --------------------------------------------------------------------------- auth
def auth_test(fake: FakeSlack, call: ApiCall) -> dict[str, Any]:
    """auth.test."""
    return {
        "ok": True,
        "url": f"https://{TEAM_DOMAIN}.slack.com/",
        "team": "Fake Team",
        "user": "inference-bot",
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "app_id": APP_ID,
        "is_enterprise_install": False,
    }


def apps_connections_open(fake: FakeSlack, call: ApiCall) -> dict[str, Any]:
    """apps.connections.open (app-level token): the Socket Mode WebSocket URL."""
    if fake.socket_mode_url is None:
        raise ApiError("internal_error", detail="no socket mode server is running for this fake")
    return {"ok": True, "url": f"{fake.socket_mode_url}?ticket={secrets.token_hex(8)}"}


# --------------------------------------------------------------------------- chat.*
def chat_post_message(fake: FakeSlack, call: ApiCall) -> dict[str, Any]:
    """chat.postMessage."""
    args = call.args
    channel = _channel_for_post(fake, args.get("channel"))
    text, blocks, attachments = _content(args)
    thread_ts = args.get("thread_ts") or None
    if thread_ts is not None:
        thread_ts = str(thread_ts)
        parent = fake.find_message(channel, thread_ts)
        if parent is not None and parent.is_reply:
            thread_ts = parent.thread_ts
    wait = fake.rate_limited(channel)
    if wait is not None:
        raise ApiError("ratelimited", status=429, headers={"Retry-After": str(wait)})
    msg = MessageRecord(
        channel=channel,
        ts=fake.next_ts(),
        text=text,
        blocks=blocks,
        attachments=attachments,
        thread_ts=thread_ts,
        reply_broadcast=bool(args.get("reply_broadcast")) and thread_ts is not None,
        metadata=args.get("metadata") if isinstance(args.get("metadata"), dict) else None,
    )
    fake.add_message(msg)
    return {"ok": True, "channel": channel, "ts": msg.ts, "message": msg.to_slack()}


def _posted_message(fake: FakeSlack, args: dict[str, Any]) -> tuple[Channel, MessageRecord]:
    """The channel and live, non-ephemeral message that `channel` + `ts` name."""
    _require(args, "channel", "ts")
    ch = fake.channel(str(args["channel"]))
    if ch is None:
        raise ApiError("channel_not_found")
    msg = fake.find_message(ch.id, str(args["ts"]))
    if msg is None or msg.ephemeral:
        raise ApiError("message_not_found")
    return ch, msg


def chat_update(fake: FakeSlack, call: ApiCall) -> dict[str, Any]:
    """chat.update (text/blocks replace; unknown ts → message_not_found)."""
    args = call.args
    ch, msg = _posted_message(fake, args)
    if not msg.bot:
        raise ApiError("cant_update_message")
    if "blocks" in args and args["blocks"] is not None:
        problems = block_problems(args["blocks"])
        if problems:
            raise ApiError(
                "invalid_blocks", response_metadata={"messages": [f"[ERROR] {p}" for p in problems]}
            )
    if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
        raise ApiError("no_text")
    if len(str(args.get("text") or "")) > MESSAGE_TEXT_MAX:
        raise ApiError("msg_too_long")
    msg.edits.append({"text": msg.text, "blocks": msg.blocks, "edited_ts": fake.next_ts()})
    if args.get("text") is not None:
        msg.text = str(args["text"])
    if args.get("blocks") is not None:
        msg.blocks = list(args["blocks"])
    if args.get("attachments") is not None:
        msg.attachments = list(args["attachments"])
    fake.notify(FakeEvent("message_changed", message=msg))
    return {
        "ok": True,
        "channel": ch.id,
        "ts": msg.ts,
        "text": msg.text,
        "message": msg.to_slack(fake),
    }


def chat_post_ephemeral(fake: FakeSlack, call: ApiCall) -> dict[str, Any]:
    """chat.postEphemeral (message_ts)."""
    args = call.args
    channel = _channel_for_post(fake, args.get("channel"))
    user = args.get("user")
    if not user or fake.user(str(user)) is None:
        raise ApiError("user_not_found")
    text, blocks, attachments = _content(args)
    msg = MessageRecord(
        channel=channel,
        ts=fake.next_ts(),
        text=text,
        blocks=blocks,
        attachments=attachments,
        thread_ts=str(args["thread_ts"]) if args.get("thread_ts") else None,
        ephemeral_to=str(user),
    )
    fake.add_message(msg)
    return {"ok": True, "message_ts": msg.ts}


def chat_delete(fake: FakeSlack, call: ApiCall) -> dict[str, Any]:
    """chat.delete."""
    args = call.args
    ch, msg = _posted_message(fake, args)
    msg.deleted = True
    fake.notify(FakeEvent("message_deleted", message=msg))
    return {"ok": True, "channel": ch.id, "ts": msg.ts}


def chat_get_permalink(fake: FakeSlack, call: ApiCall) -> dict[str, Any]:
    """chat.getPermalink."""
    args = call.args
    _require(args, "channel", "message_ts")
    ch = fake.channel(str(args["channel"]))
    if ch is None:
        raise ApiError("channel_not_found")
    ts = str(args["message_ts"])
    if fake.find_message(ch.id, ts) is None:
        raise ApiError("message_not_found")
    return {
        "ok": True,
        "channel": ch.id,
        "permalink": f"https://{TEAM_DOMAIN}.slack.com/archives/{ch.id}/p{ts.replace('.', '')}",
    }


# --------------------------------------------------------------------------- conversations.*
def conversations_info(fake: FakeSlack, call: ApiCall) -> dict[str, Any]:
    """conversations.info."""
    ch = fake.channel(str(call.args.get("channel") or ""))
    if ch is None:
        raise ApiError("channel_not_found")
    return {
        "ok": True,
        "channel": {
            "id": ch.id,
            "name": ch.name,
            "is_channel": not ch.is_private and not ch.is_im,
            "is_group": ch.is_private,
            "is_im": ch.is_im,
            "is_private": ch.is_private,
            "is_archived": False,
            "is_general": ch.name == "general",
            "is_member": ch.is_member,
            "created": 1_700_000_000,
            "creator": "U0001",
            "name_normalized": ch.name,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        },
    }


def _page(
    messages: list[dict[str, Any]], args: dict[str, Any], *, newest_first: bool
) -> dict[str, Any]:
    try:
        limit = int(args.get("limit") or 100)
    except ValueError as exc:
        raise ApiError("invalid_limit") from exc
    cursor = str(args.get("cursor") or "")
    start = int(cursor.removeprefix("next_ts:")) if cursor.startswith("next_ts:") else 0
    oldest = float(args["oldest"]) if args.get("oldest") else None
    latest = float(args["latest"]) if args.get("latest") else None
    inclusive = bool(args.get("inclusive"))

    def within(m: dict[str, Any]) -> bool:
        ts = float(m["ts"])
        if oldest is not None and (ts < oldest or (ts == oldest and not inclusive)):
            return False
        return not (latest is not None and (ts > latest or (ts == latest and not inclusive)))

    selected = [m for m in messages if within(m)]
    if newest_first:
        selected.reverse()
    chunk = selected[start : start + limit]
    more = start + limit < len(selected)
    return {
        "ok": True,
        "messages": chunk,
        "has_more": more,
        "response_metadata": {"next_cursor": f"next_ts:{start + limit}" if more else ""},
    }


def conversations_history(fake: FakeSlack, call: ApiCall) -> dict[str, Any]:
    """conversations.history: top-level messages (and broadcasts), newest first."""
    ch = fake.channel(str(call.args.get("channel") or ""))
    if ch is None:
        raise ApiError("channel_not_found")
    msgs = [m.to_slack(fake) for m in fake.channel_messages(ch.id)]
    out = _page(msgs, call.args, newest_first=True)
    out["pin_count"] = 0
    return out


def conversations_replies(fake: FakeSlack, call: ApiCall) -> dict[str, Any]:
    """conversations.replies: the parent then its replies, oldest first."""
    args = call.args
    ch = fake.channel(str(args.get("channel") or ""))
    if ch is None:
        raise ApiError("channel_not_found")
    ts = str(args.get("ts") or "")
    parent = fake.find_message(ch.id, ts)
    if parent is None or parent.ephemeral:
        raise ApiError("thread_not_found")
    root = parent.thread_ts if parent.is_reply and parent.thread_ts else parent.ts
    root_msg = fake.find_message(ch.id, root)
    msgs = ([root_msg.to_slack(fake)] if root_msg else []) + [
        r.to_slack(fake) for r in fake.thread_replies(ch.id, root)
    ]
    return _page(msgs, args, newest_first=False)


def conversations_open(fake: FakeSlack, call: ApiCall) -> dict[str, Any]:
    """conversations.open: the app's DM with one user (`users=U…`), opened or found; the
    same `D…` id every time (and the one a post to the user id lands in). Several users
    (a group DM) are not modelled."""
    args = call.args
    if args.get("channel"):
        ch = fake.channel(str(args["channel"]))
        if ch is None or not ch.is_im:
            raise ApiError("channel_not_found")
        return {"ok": True, "channel": {"id": ch.id}}
    users = [u.strip() for u in str(args.get("users") or "").split(",") if u.strip()]
    if not users:
        raise ApiError("users_list_not_supplied")
    if len(users) > 1:
        raise ApiError("not_supported", detail="the fake opens DMs with one user only")
    if not USER_ID.match(users[0]) or fake.user(users[0]) is None:
        raise ApiError("user_not_found")
    dm = fake.channel(users[0])
    assert dm is not None
    already = dm.id in fake.opened_dms
    fake.opened_dms.add(dm.id)
    body: dict[str, Any] = {"ok": True, "channel": {"id": dm.id}}
    if already:
        body["already_open"] = True
    if args.get("return_im"):
        body["channel"].update({"is_im": True, "user": users[0], "created": 1_700_000_000})
    return body


# --------------------------------------------------------------------------- users.*
def users_info(fake: FakeSlack, call: ApiCall) -> dict[str, Any]:
    """users.info."""
    user = fake.user(str(call.args.get("user") or ""))
    if user is None:
        raise ApiError("user_not_found")
    return {
        "ok": True,
        "user": {
            "id": user.id,
            "team_id": TEAM_ID,
            "name": user.name,
            "deleted": False,
            "real_name": user.real_name,
            "tz": user.tz,
            "is_bot": user.is_bot,
            "is_admin": False,
            "is_app_user": False,
            "profile": {
                "real_name": user.real_name,
                "display_name": user.name,
                "email": user.email,
                "team": TEAM_ID,
            },
        },
    }


def usergroups_users_list(fake: FakeSlack, call: ApiCall) -> dict[str, Any]:
    """usergroups.users.list."""
    group = str(call.args.get("usergroup") or "")
    if group not in fake.usergroups:
        raise ApiError("no_such_subteam")
    return {"ok": True, "users": list(fake.usergroups[group])}


# --------------------------------------------------------------------------- views.*
def _view_arg(args: dict[str, Any]) -> dict[str, Any]:
    view = args.get("view")
    if not isinstance(view, dict):
        raise ApiError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] missing required field: view"]},
        )
    problems = view_problems(view)
    if "view_too_large" in problems:
        raise ApiError("view_too_large")
    if problems:
        raise ApiError(
            "invalid_arguments", response_metadata={"messages": [f"[ERROR] {p}" for p in problems]}
        )
    return view


def with_slack_ids(view: dict[str, Any]) -> dict[str, Any]:
    """A copy of `view` where blocks and elements without ids got random ones, as Slack does."""
    out: dict[str, Any] = json.loads(json.dumps(view))
    for block in out.get("blocks") or []:
        if isinstance(block, dict):
            block.setdefault("block_id", secrets.token_urlsafe(3))
            for el in block_elements(block):
                el.setdefault("action_id", secrets.token_urlsafe(3))
    return out


def _new_hash() -> str:
    return (
        f"{secrets.randbelow(10**10):010d}.{hashlib.sha1(secrets.token_bytes(8)).hexdigest()[:8]}"
    )


def _open(fake: FakeSlack, call: ApiCall, *, push: bool) -> dict[str, Any]:
    args = call.args
    if not args.get("trigger_id") and not args.get("interactivity_pointer"):
        raise ApiError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] missing required field: trigger_id"]},
        )
    view = with_slack_ids(_view_arg(args))
    external_id = view.get("external_id")
    if external_id and fake.find_view(external_id=str(external_id)) is not None:
        raise ApiError("duplicate_external_id")
    trig = fake.exchange_trigger(str(args.get("trigger_id") or args.get("interactivity_pointer")))
    record = ViewRecord(
        id=fake.next_id("V"),
        view=view,
        hash=_new_hash(),
        user_id=trig.user_id,
        external_id=str(external_id) if external_id else None,
        trigger_id=trig.id,
        opened_by=call.method,
    )
    fake.open_view(record, push=push)
    return {"ok": True, "view": record.to_slack()}


def views_open(fake: FakeSlack, call: ApiCall) -> dict[str, Any]:
    """views.open (trigger_id single use, expires after `trigger_ttl`)."""
    return _open(fake, call, push=False)


def views_push(fake: FakeSlack, call: ApiCall) -> dict[str, Any]:
    """views.push (onto the trigger user's stack, at most 3 views)."""
    return _open(fake, call, push=True)


def views_update(fake: FakeSlack, call: ApiCall) -> dict[str, Any]:
    """views.update by view_id or external_id, with optional hash check."""
    args = call.args
    if not args.get("view_id") and not args.get("external_id"):
        raise ApiError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] view_id or external_id is required"]},
        )
    record = fake.find_view(
        str(args.get("view_id") or "") or None, str(args.get("external_id") or "") or None
    )
    if record is None:
        raise ApiError("not_found")
    if args.get("hash") and str(args["hash"]) != record.hash:
        raise ApiError("hash_conflict")
    view = _view_arg(args)
    update_view(fake, record, view)
    return {"ok": True, "view": record.to_slack()}


def views_publish(fake: FakeSlack, call: ApiCall) -> dict[str, Any]:
    """views.publish: a user's App Home (`type: home`, checked like any view: 100 blocks)."""
    args = call.args
    user = args.get("user_id")
    if not user or fake.user(str(user)) is None:
        raise ApiError("user_not_found")
    view = _view_arg(args)
    if view.get("type") != "home":
        raise ApiError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] views.publish takes a view of type home"]},
        )
    shown = fake.homes.get(str(user))
    record = ViewRecord(
        id=shown[-1].id if shown else fake.next_id("V"),  # one Home per user, re-published
        view=with_slack_ids(view),
        hash=_new_hash(),
        user_id=str(user),
        opened_by="views.publish",
    )
    fake.homes.setdefault(str(user), []).append(record)
    fake.notify(FakeEvent("home_published", view=record))
    return {"ok": True, "view": record.to_slack()}


def update_view(fake: FakeSlack, record: ViewRecord, view: dict[str, Any]) -> None:
    """Replace a view's content (views.update or response_action update)."""
    record.history.append(record.view)
    record.view = with_slack_ids(view)
    record.hash = _new_hash()
    record.errors = {}
    if view.get("external_id"):
        record.external_id = str(view["external_id"])
    fake.notify(FakeEvent("view_updated", view=record))


def new_view_hash() -> str:
    """A fresh view hash."""
    return _new_hash()


# --------------------------------------------------------------------------- files.*
CONVERSATION_ID = re.compile(r"^[CGDZ][A-Z0-9]+$")
"""What `channel_id` of files.completeUploadExternal accepts: an encoded conversation id.
Slack checks `^[CGDZ][A-Z0-9]{8,}$` (its words in the error below); the fake's seeded ids
are shorter, so only the prefix and the characters are checked here."""


def _conversation_id(ref: Any) -> str:
    """A `channel_id` as Slack takes it: a user id (`U…`) or a `#name` is refused with the
    error Slack gives (slackapi/bolt-js#2115, node-slack-sdk#1653): open the DM with
    conversations.open and pass its `D…` id instead."""
    value = str(ref)
    if not CONVERSATION_ID.match(value):
        raise ApiError(
            "invalid_arguments",
            response_metadata={
                "messages": [
                    "[ERROR] input must match regex pattern: ^[CGDZ][A-Z0-9]{8,}$ "
                    "[json-pointer:/channel_id]"
                ]
            },
        )
    return value


def files_get_upload_url_external(fake: FakeSlack, call: ApiCall) -> dict[str, Any]:
    """files.getUploadURLExternal → an upload URL on this fake."""
    args = call.args
    _require(args, "filename", "length")
    try:
        length = int(args["length"])
    except ValueError as exc:
        raise ApiError("invalid_arguments") from exc
    file_id = fake.next_id("F")
    token = secrets.token_hex(12)
    fake.files[file_id] = FileRecord(
        id=file_id,
        filename=str(args["filename"]),
        length=length,
        upload_token=token,
        alt_txt=str(args["alt_txt"]) if args.get("alt_txt") else None,
    )
    return {"ok": True, "upload_url": f"{call.base_url}/upload/v1/{token}", "file_id": file_id}


def files_complete_upload_external(fake: FakeSlack, call: ApiCall) -> dict[str, Any]:
    """files.completeUploadExternal: share uploaded files (channel_id, comment, thread_ts)."""
    args = call.args
    files = args.get("files")
    if not isinstance(files, list) or not files:
        raise ApiError(
            "invalid_arguments", response_metadata={"messages": ["[ERROR] files is required"]}
        )
    channels: list[str] = []
    if args.get("channel_id"):
        channels.append(_channel_for_post(fake, _conversation_id(args["channel_id"])))
    if args.get("channels"):
        channels.extend(_channel_for_post(fake, c) for c in str(args["channels"]).split(","))
    records: list[FileRecord] = []
    for item in files:
        rec = fake.files.get(str(item.get("id"))) if isinstance(item, dict) else None
        if rec is None or rec.content is None:
            raise ApiError("file_not_found")
        rec.title = str(item.get("title") or rec.filename)
        records.append(rec)
    thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
    comment = str(args["initial_comment"]) if args.get("initial_comment") else None
    for rec in records:
        rec.completed = True
        rec.channels = channels
        rec.initial_comment = comment
        rec.thread_ts = thread_ts
    for channel in channels:
        msg = MessageRecord(
            channel=channel,
            ts=fake.next_ts(),
            text=comment or "",
            thread_ts=thread_ts,
            files=records,
            source="file_share",
        )
        fake.add_message(msg)
    for rec in records:
        fake.notify(FakeEvent("file_shared", file=rec))
    return {"ok": True, "files": [{"id": r.id, "title": r.title} for r in records]}


def files_info(fake: FakeSlack, call: ApiCall) -> dict[str, Any]:
    """files.info."""
    rec = fake.files.get(str(call.args.get("file") or ""))
    if rec is None or not rec.completed:
        raise ApiError("file_not_found")
    return {"ok": True, "file": rec.to_slack()}


def files_upload(fake: FakeSlack, call: ApiCall) -> dict[str, Any]:
    """files.upload: retired by Slack; use the v2 flow."""
    raise ApiError("method_deprecated")


METHODS: dict[str, Handler] = {
    "auth.test": auth_test,
    "apps.connections.open": apps_connections_open,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.delete": chat_delete,
    "chat.getPermalink": chat_get_permalink,
    "conversations.info": conversations_info,
    "conversations.open": conversations_open,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "users.info": users_info,
    "usergroups.users.list": usergroups_users_list,
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
    "files.getUploadURLExternal": files_get_upload_url_external,
    "files.completeUploadExternal": files_complete_upload_external,
    "files.info": files_info,
    "files.upload": files_upload,
}
