"""Drain the outbox into Slack threads: replies, parent edits, rate limits, retries.

Delivery of one outbox item (or a group of transitions coalesced into one reply):

1. claim: in one transaction, check that we still hold the leader lease with enough
   time left for a Slack call, and mark the items `sending` (fencing: a replica that
   lost the lease cannot start a post);
2. `chat.postMessage` in the thread, with the outbox ids in the message `metadata`;
3. record the reply's `ts` (`posted`): from here on the reply is never posted again;
4. `chat.update` the parent (idempotent: it sets state), then `delivered`.

An edit of a flapping summary (kind `flap_edit`, `bot/watch/quiet.py`) posts nothing: it
`chat.update`s the summary's message (found by its spell) and then, like a parent-only
item, the parent. Edits queued together coalesce: an edit followed in the channel's
queue by a later one of the same spell skips its Slack call (and its parent edit, when a
later item edits the parent), so a burst of changes costs one summary edit, not one each.

Residual window: a crash (or a timeout) between Slack accepting step 2 and the commit of
step 3 leaves the items `sending`. Before posting such an item again the notifier looks
for a reply carrying its outbox id in the thread (`conversations.replies`, or
`conversations.history` for a post in the channel itself such as the daily digest; needs
the `channels:history` scope); when Slack cannot be asked, it posts again. So the worst case
is one duplicate reply per crash that lands inside one HTTP round trip, never a loss.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.watch.diff import Transition, coalesce, format_duration
from bot.watch.outbox import FLAP_EDIT, OutboxItem, OutboxState
from bot.watch.store import Store
from bot.watch.tuning import DEFAULTS

logger = logging.getLogger(__name__)

METADATA_EVENT = "inference_bot_watch"

PARENT_ONLY = "parent"
"""Outbox kind of a change the thread does not hear of (muted, `watch --only`, folded into
a flapping spell): the parent message still shows the new phase."""

CLAIM_SLACK = 0.5
"""A post starts only with `send_timeout + CLAIM_SLACK` seconds of lease left."""

# Slack errors that no retry will fix: give the item up (and log it).
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "no_permission",
        "missing_scope",
        "restricted_action",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "msg_blocks_too_long",
        "invalid_arguments",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "thread_not_found",
    }
)


class Lease(Protocol):
    """What the notifier needs from leader election."""

    holder: str
    name: str

    def is_leader(self) -> bool: ...


class Renderer(Protocol):
    """Turns a thread message (a template name and what it says) into Slack's payload.

    The watch room says what happened; whoever assembles it (`bot.service`) gives the
    notifier the presentation (`bot.slack.threads.thread_message`).
    """

    def __call__(self, template: str, /, **context: Any) -> dict[str, Any]: ...


Sleep = Callable[[float], Awaitable[None]]
"""`asyncio.sleep`, or a test's hand-driven time."""


@dataclass(frozen=True)
class SlackFailure:
    """How a Slack call failed and when to try again."""

    retry_after: float | None
    permanent: bool
    error: str
    uncertain: bool = False


def classify(
    exc: BaseException,
    attempts: int,
    *,
    backoff: float = DEFAULTS.retry_backoff,
    max_backoff: float = DEFAULTS.retry_backoff_max,
) -> SlackFailure:
    """Turn a Slack client exception into a retry decision (pure).

    5xx and timeouts wait `backoff` seconds after the first attempt, doubling up to
    `max_backoff` (with ±20% jitter); a 429 waits what its Retry-After says.
    """
    wait = min(max_backoff, backoff * 2 ** max(0, attempts - 1)) * (0.8 + 0.4 * random.random())
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", 0) or 0
        data = getattr(exc.response, "data", None)
        error = data.get("error", "") if isinstance(data, dict) else ""
        if status == 429 or error in ("ratelimited", "rate_limited"):
            headers = getattr(exc.response, "headers", {}) or {}
            raw = headers.get("Retry-After") or headers.get("retry-after") or "1"
            try:
                after = float(raw[0] if isinstance(raw, list) else raw)
            except (TypeError, ValueError):
                after = 1.0
            return SlackFailure(retry_after=max(after, 0.0), permanent=False, error="ratelimited")
        if status >= 500 or error in ("internal_error", "fatal_error", "service_unavailable"):
            return SlackFailure(retry_after=wait, permanent=False, error=f"{status} {error}")
        if error in PERMANENT_ERRORS:
            return SlackFailure(retry_after=None, permanent=True, error=error)
        return SlackFailure(retry_after=wait, permanent=False, error=f"{status} {error}")
    # Timeouts and connection errors: Slack may or may not have taken the message.
    return SlackFailure(retry_after=wait, permanent=False, error=type(exc).__name__, uncertain=True)


def reply_context(items: Sequence[OutboxItem]) -> tuple[str, dict[str, Any], bool]:
    """Template name, context and broadcast flag of the reply for `items` (pure)."""
    head = items[0]
    if head.kind == "transition":
        reply = coalesce([Transition.from_json(i.payload["transition"]) for i in items])
        last = reply.last
        first = reply.steps[0]
        parent = items[-1].payload.get("parent") or {}
        ready = next((s.ready_seconds for s in reply.steps if s.ready_seconds is not None), None)
        actor = next((s for s in reversed(reply.steps) if s.actor_user), None)
        message = next((s.phase_message for s in reversed(reply.steps) if s.phase_message), None)
        context = {
            "name": parent.get("name") or head.workload_id,
            "path": list(reply.path),
            "path_text": " → ".join(reply.path),
            "phase": last.new_phase,
            "message": message,
            "conditions": list(last.conditions),
            "previous": format_duration(first.previous_seconds),
            "previous_phase": first.old_phase or "",
            "actor_user": actor.actor_user if actor else None,
            "actor_action": actor.actor_action if actor else None,
            "ready": format_duration(ready),
            "url": next((s.url for s in reversed(reply.steps) if s.url), None) or parent.get("url"),
            "final": reply.final,
            "workload_id": head.workload_id,
        }
        return "watch_transition", context, reply.broadcast
    if head.kind == "unwatch":
        parent = head.payload.get("parent") or {}
        return (
            "watch_unwatch",
            {"user": head.payload.get("user"), "name": parent.get("name") or head.workload_id},
            False,
        )
    if "template" in head.payload:
        # Thread posts of the care, alerts and approvals features (`ThreadPost`) name their
        # template and context, and say themselves whether they go to the channel too.
        return (
            str(head.payload["template"]),
            dict(head.payload.get("context") or {}),
            head.broadcast,
        )
    return (
        "watch_record",
        {
            "action": str(head.payload.get("action", "update")),
            "user": head.payload.get("user"),
            "summary": head.payload.get("summary", ""),
        },
        False,
    )


def parent_context(parent: dict[str, Any]) -> dict[str, Any]:
    """Context of the parent message template (pure)."""
    return {"p": parent, "phase": parent.get("phase")}


def group_for(channel_items: Sequence[OutboxItem]) -> list[OutboxItem]:
    """The head of a channel's queue plus the transitions that can share its reply."""
    head = channel_items[0]
    if head.kind != "transition" or head.state != OutboxState.PENDING:
        return [head]
    group = [head]
    for item in channel_items[1:]:
        if item.workload_id != head.workload_id:
            continue
        if item.kind != "transition" or item.state != OutboxState.PENDING:
            break
        group.append(item)
        if Transition.from_json(item.payload["transition"]).final:
            break
    return group


class Notifier:
    """Delivers outbox items to Slack while this process leads."""

    def __init__(
        self,
        store: Store,
        slack: AsyncWebClient,
        lease: Lease,
        *,
        render: Renderer,
        channel_interval: float = DEFAULTS.channel_interval,
        send_timeout: float = DEFAULTS.send_timeout,
        retry_backoff: float = DEFAULTS.retry_backoff,
        retry_backoff_max: float = DEFAULTS.retry_backoff_max,
        idle_wait: float = 0.5,
        clock: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.store = store
        self.slack = slack
        self.lease = lease
        self.render = render
        self.channel_interval = channel_interval
        self.send_timeout = send_timeout
        self.retry_backoff = retry_backoff
        self.retry_backoff_max = retry_backoff_max
        self.idle_wait = idle_wait
        self._clock = clock
        self._sleep = sleep
        self._next_ok: dict[str, float] = {}
        self._update_ok = 0.0
        self._wake = asyncio.Event()
        self._history_ok = True

    def _classify(self, exc: BaseException, attempts: int) -> SlackFailure:
        return classify(
            exc, attempts, backoff=self.retry_backoff, max_backoff=self.retry_backoff_max
        )

    def wake(self) -> None:
        """Something was queued: drain now rather than at the next idle tick."""
        self._wake.set()

    async def run(self) -> None:
        """Drain forever (cancel the task to stop)."""
        while True:
            wait = self.idle_wait
            self._wake.clear()
            if self.lease.is_leader():
                try:
                    wait = await self.drain_once()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("outbox drain failed")
                    wait = 1.0
            await self._rest(max(0.01, wait))

    async def _rest(self, seconds: float) -> None:
        """Wait `seconds` on the injected time, or less when `wake` is called."""
        woken = asyncio.ensure_future(self._wake.wait())
        slept = asyncio.ensure_future(self._sleep(seconds))
        try:
            await asyncio.wait((woken, slept), return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            slept.cancel()

    async def drain_once(self) -> float:
        """Deliver what is due now; returns how long to wait before the next pass."""
        items = await self.store.open_items()
        if not items:
            return self.idle_wait
        by_channel: dict[str, list[OutboxItem]] = {}
        for item in items:
            by_channel.setdefault(item.channel, []).append(item)
        now = self._clock()
        due: list[list[OutboxItem]] = []
        soonest = now + self.idle_wait
        for channel_items in by_channel.values():
            head = channel_items[0]
            ready_at = max(self._next_ok.get(head.channel, 0.0), head.next_attempt_at)
            if head.state == OutboxState.POSTED or head.kind in (PARENT_ONLY, FLAP_EDIT):
                ready_at = max(head.next_attempt_at, self._update_ok)
            if ready_at > now:
                soonest = min(soonest, ready_at)
                continue
            due.append(channel_items)
        if due:
            progress = await asyncio.gather(*(self._deliver_channel(c) for c in due))
            if any(progress):
                return 0.0
        return max(0.0, soonest - now)

    async def _deliver_channel(self, channel_items: list[OutboxItem]) -> bool:
        try:
            return await self._deliver_head(channel_items)
        except Exception:
            # A database hiccup: leave the items as they are and let this channel rest.
            head = channel_items[0]
            logger.exception("delivery failed", extra={"ids": [head.id], "channel": head.channel})
            self._next_ok[head.channel] = self._clock() + 1.0
            return False

    async def _deliver_head(self, channel_items: list[OutboxItem]) -> bool:
        head = channel_items[0]
        summary_edit = head.kind == FLAP_EDIT and head.state != OutboxState.POSTED
        if summary_edit and not await self._edit_summary(channel_items):
            return True  # to be tried again (the item says when)
        if head.state == OutboxState.POSTED or head.kind in (PARENT_ONLY, FLAP_EDIT):
            # Nothing (more) to post: only the parent is edited, unless a later item of the
            # same workload edits it anyway.
            superseded = any(
                i.workload_id == head.workload_id and "parent" in i.payload
                for i in channel_items[1:]
            )
            # A thread post without a parent to edit (the care, alerts and approvals
            # features' `ThreadPost`) is done once posted.
            if superseded or "parent" not in head.payload:
                await self.store.mark_delivered([head.id])
            else:
                await self._edit_parent([head])
            return True
        group = group_for(channel_items)
        return await self._post_reply(group)

    async def _post_reply(self, group: list[OutboxItem]) -> bool:
        ids = [i.id for i in group]
        head = group[0]
        now = self._clock()
        if not await self.store.claim(
            ids, self.lease.holder, self.lease.name, now, self.send_timeout + CLAIM_SLACK
        ):
            logger.info("outbox claim refused: lease not held long enough", extra={"ids": ids})
            return False
        if head.state == OutboxState.SENDING:
            found = await self._find_posted(head)
            if found is not None:
                logger.info("reply found already posted", extra={"outbox_id": head.id})
                await self.store.set_reply_ts(ids, found)
                await self._after_reply(group)
                return True
        try:
            template, context, broadcast = reply_context(group)
            rendered = self.render(template, **context)
        except Exception as exc:
            # A bug, not a Slack problem: retrying cannot help and must not block the channel.
            logger.exception("cannot render notification", extra={"ids": ids})
            await self.store.mark_failed(ids, f"render: {exc}")
            return True
        try:
            response = await asyncio.wait_for(
                self.slack.chat_postMessage(
                    channel=head.channel,
                    # A post without a thread (the daily digest) goes to the channel itself.
                    thread_ts=head.thread_ts or None,
                    reply_broadcast=broadcast if head.thread_ts else None,
                    unfurl_links=False,
                    unfurl_media=False,
                    metadata={
                        "event_type": METADATA_EVENT,
                        "event_payload": {"outbox_ids": ids, "workload_id": head.workload_id},
                    },
                    **rendered,
                ),
                timeout=self.send_timeout,
            )
        except Exception as exc:
            await self._failed(group, exc, posted=False)
            return True
        self._next_ok[head.channel] = self._clock() + self.channel_interval
        reply_ts = str(response.get("ts") or "")
        await self.store.set_reply_ts(ids, reply_ts)
        logger.info(
            "thread reply posted",
            extra={"workload_id": head.workload_id, "channel": head.channel, "ids": ids},
        )
        await self._after_reply(group)
        return True

    async def _after_reply(self, group: list[OutboxItem]) -> None:
        if any("parent" in i.payload for i in group) and self._update_ok <= self._clock():
            await self._edit_parent(group)
        elif not any("parent" in i.payload for i in group):
            await self.store.mark_delivered([i.id for i in group])

    async def _edit_parent(self, group: list[OutboxItem]) -> None:
        ids = [i.id for i in group]
        head = group[-1]
        parent = next(i.payload["parent"] for i in reversed(group) if "parent" in i.payload)
        try:
            rendered = self.render("watch_parent", **parent_context(parent))
        except Exception:
            logger.exception("cannot render the parent message", extra={"ids": ids})
            await self.store.mark_delivered(ids)
            return
        try:
            await asyncio.wait_for(
                self.slack.chat_update(channel=head.channel, ts=head.thread_ts, **rendered),
                timeout=self.send_timeout,
            )
        except Exception as exc:
            failure = self._classify(exc, max(i.attempts for i in group))
            if failure.permanent:
                # The reply is in the thread; only the parent could not be edited.
                logger.warning("parent edit refused", extra={"ids": ids, "error": failure.error})
                await self.store.mark_delivered(ids)
                return
            if failure.error == "ratelimited" and failure.retry_after is not None:
                self._update_ok = self._clock() + failure.retry_after
            await self._failed(group, exc, posted=True)
            return
        await self.store.mark_delivered(ids)

    async def _edit_summary(self, channel_items: list[OutboxItem]) -> bool:
        """Edit the flapping summary the head names, unless a later item of the queue
        edits it again; True when the rest of the item (its parent edit) may go on."""
        head = channel_items[0]
        spell = head.payload.get("spell")
        again = any(
            i.kind == FLAP_EDIT and i.workload_id == head.workload_id
            and i.payload.get("spell") == spell
            for i in channel_items[1:]
        )  # fmt: skip
        if again or spell is None:
            return True
        ts = await self.store.flap_summary_ts(head.workload_id, head.channel, str(spell))
        if ts is None:
            # The summary never reached Slack (held back, refused, or long purged).
            logger.info("no flapping summary to edit", extra={"outbox_id": head.id})
            return True
        try:
            template, context, _ = reply_context([head])
            rendered = self.render(template, **context)
        except Exception as exc:
            logger.exception("cannot render the summary edit", extra={"ids": [head.id]})
            await self.store.mark_failed([head.id], f"render: {exc}")
            return False
        try:
            await asyncio.wait_for(
                self.slack.chat_update(channel=head.channel, ts=ts, **rendered),
                timeout=self.send_timeout,
            )
        except Exception as exc:
            failure = self._classify(exc, head.attempts + 1)
            if failure.permanent:
                logger.warning(
                    "summary edit refused", extra={"ids": [head.id], "error": failure.error}
                )
                return True
            if failure.error == "ratelimited" and failure.retry_after is not None:
                self._update_ok = self._clock() + failure.retry_after
            await self.store.retry_later(
                [head.id], self._clock() + (failure.retry_after or 1.0), failure.error,
                posted=False,
            )  # fmt: skip
            return False
        # Done with the summary: from here on only the parent is left (`posted`).
        await self.store.set_reply_ts([head.id], ts)
        return True

    async def _failed(self, group: list[OutboxItem], exc: BaseException, *, posted: bool) -> None:
        ids = [i.id for i in group]
        head = group[0]
        failure = self._classify(exc, head.attempts + 1)
        if failure.permanent:
            logger.error(
                "slack refused notification",
                extra={"ids": ids, "channel": head.channel, "error": failure.error},
            )
            await self.store.mark_failed(ids, failure.error)
            return
        wait = failure.retry_after or 1.0
        if failure.error == "ratelimited" and not posted:
            self._next_ok[head.channel] = self._clock() + wait
        logger.warning(
            "slack call failed, will retry",
            extra={"ids": ids, "error": failure.error, "retry_in": round(wait, 2)},
        )
        if failure.uncertain and not posted:
            # Leave the items `sending`: the next attempt first checks the thread.
            await self.store.retry_later(
                ids, self._clock() + wait, failure.error, posted=False, keep_sending=True
            )
            return
        await self.store.retry_later(ids, self._clock() + wait, failure.error, posted=posted)

    async def _find_posted(self, item: OutboxItem) -> str | None:
        """The ts of a reply already carrying this item's outbox id, if Slack says so."""
        if not self._history_ok:
            return None
        # Only messages posted since the item was queued (long threads, busy channels).
        oldest = f"{item.created_at.timestamp() - 5:.6f}" if item.created_at else None
        try:
            if item.thread_ts:
                call = self.slack.conversations_replies(
                    channel=item.channel,
                    ts=item.thread_ts,
                    include_all_metadata=True,
                    limit=200,
                    oldest=oldest,
                )
            else:  # a post in the channel itself
                call = self.slack.conversations_history(
                    channel=item.channel, include_all_metadata=True, limit=200, oldest=oldest
                )
            response = await asyncio.wait_for(call, timeout=self.send_timeout)
        except Exception as exc:
            failure = self._classify(exc, 1)
            if failure.permanent or "unknown_method" in str(exc) or "404" in failure.error:
                self._history_ok = False
            logger.warning(
                "cannot read the thread to check for a posted reply; posting again",
                extra={"outbox_id": item.id, "error": failure.error},
            )
            return None
        for msg in response.get("messages") or []:
            meta = msg.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == METADATA_EVENT and item.id in (
                payload.get("outbox_ids") or []
            ):
                return str(msg.get("ts"))
        return None

    async def post_parent(
        self, channel: str, parent: dict[str, Any], *, patience: float = 20.0
    ) -> str:
        """Post a new parent message (for `Watcher.watch`); retries 429/5xx for a while."""
        rendered = self.render("watch_parent", **parent_context(parent))
        deadline = self._clock() + patience
        attempts = 0
        while True:
            attempts += 1
            try:
                response = await asyncio.wait_for(
                    self.slack.chat_postMessage(
                        channel=channel, unfurl_links=False, unfurl_media=False, **rendered
                    ),
                    timeout=self.send_timeout,
                )
                return str(response["ts"])
            except Exception as exc:
                failure = self._classify(exc, attempts)
                wait = failure.retry_after or 1.0
                if failure.permanent or self._clock() + wait > deadline:
                    raise
                await self._sleep(wait)
