"""Quieter threads: what one phase change of a watch posts in its thread. Pure.

Four answers (`Reply`): the usual transition reply; only the parent edit (the parent
always shows the current phase); the one flapping summary; or a change folded into that
summary, which edits it in place. In order:
- flapping (`alerts.flapping.on_change`, counted on every change whatever the filters):
  the change that makes it more than 6 in 10 minutes posts the summary, the later ones
  of the spell edit the parent and the summary (now saying the spell's true count and
  phases: one message, kept current; no reply), and the first change after 10 quiet
  minutes is a normal change again;
- a muted watch only edits the parent (the summary too is held back; a summary already
  posted is still kept current: an edit makes no noise);
- `watch --only`: a change to a phase not followed only edits the parent (a summary is
  posted when some phase of the spell is followed).
The final "Deleted" reply is not counted as flapping; muted or not followed, the watch
still ends (the parent says so), and a spell's summary is edited to say the workload was
deleted. A spell quiet for 10 minutes is ended by the poller's
reconcile, which tells the (unmuted) thread once that replies resume (`settled_post`)
and edits the summary to say the spell ended (`summary_end_post`); a spell ended by a
change that comes after the quiet minutes edits it with that change (`Decision.ended`).

The summary edits go through the outbox like every thread message (kind `flap_edit`,
naming the spell by its start): the notifier edits the summary's message once for all
the edits of a spell queued at the same time (`bot/watch/notifier.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.watch.alert_store import WatchQuiet
from bot.watch.alerts import flapping
from bot.watch.alerts.flapping import (
    QUIET_AFTER,
    Ended,
    Flap,
    spell_key,
    summary_end,
    summary_words,
)
from bot.watch.claims import ThreadPost
from bot.watch.diff import Transition
from bot.watch.outbox import FLAP_EDIT

if TYPE_CHECKING:
    from bot.watch.watches import Watch


class Reply(StrEnum):
    """What a phase change puts in the thread."""

    POST = "post"  # the usual reply (and the parent edit)
    PARENT = "parent"  # only the parent edit
    SUMMARY = "summary"  # the flapping summary instead of the reply (and the parent edit)
    FOLD = "fold"  # an edit of the spell's summary, now counting this change (and the parent)


@dataclass(frozen=True)
class Decision:
    """What to post for one change, and the flapping state to store with it."""

    reply: Reply
    flap: Flap
    summary: str | None = None  # `flapping Running ↔ Degraded, 7 changes in 10 min`
    # The words of a spell this change ended (after the quiet minutes) whose summary was
    # posted: that summary is edited to say it ended.
    ended: str | None = None


def follows(quiet: WatchQuiet | None, phase: str) -> bool:
    """Whether the thread replies to changes into `phase` (`watch --only`)."""
    return quiet is None or quiet.only_phases is None or phase in quiet.only_phases


def decide(quiet: WatchQuiet | None, transition: Transition, now: datetime) -> Decision:
    """The reply for `transition` of a watch with these quiet settings, at `now`."""
    before = quiet.flap() if quiet is not None else Flap()
    muted = quiet is not None and quiet.muted(now)
    posted = quiet is not None and quiet.summary_posted()
    if transition.final:
        loud = not muted and follows(quiet, transition.new_phase)
        # The workload is gone: a spell whose summary was posted ends with it, and the
        # summary says so (nothing else would: the watch ends here).
        ended = summary_words(before) if before.flapping and posted else None
        return Decision(Reply.POST if loud else Reply.PARENT, before, ended=ended)
    flap, what = flapping.on_change(before, transition.new_phase, transition.at)
    if what is flapping.Reply.FOLD:
        if posted:
            return Decision(Reply.FOLD, flap, summary_words(flap))
        return Decision(Reply.PARENT, flap)
    if what is flapping.Reply.SUMMARY:
        wanted = any(follows(quiet, phase) for _, phase in flap.changes if phase)
        if muted or not wanted:
            return Decision(Reply.PARENT, flap)
        return Decision(Reply.SUMMARY, flap, summary_words(flap))
    # A spell the reconcile had not ended yet, ended by this change: its summary says so.
    ended = summary_words(before) if before.flapping and posted else None
    loud = not muted and follows(quiet, transition.new_phase)
    return Decision(Reply.POST if loud else Reply.PARENT, flap, ended=ended)


def summary_end_post(watch: Watch) -> ThreadPost | None:
    """The last edit of a spell's summary, saying it ended (keyed by the spell); None when
    the spell had no summary."""
    q = watch.quiet
    if q is None or q.flapping_since is None or not q.summary_posted():
        return None
    spell = spell_key(q.flapping_since)
    name = watch.name or watch.workload_id
    return ThreadPost(
        workload_id=watch.workload_id,
        channel=watch.channel,
        thread_ts=watch.parent_ts,
        kind=FLAP_EDIT,
        dedupe_key=f"flap-end:{watch.workload_id}:{watch.channel}:{spell}",
        payload=summary_end(
            watch.workload_id, name, summary_words(q.flap()), q.flapping_since, Ended.STEADY
        ),
    )


def settled_post(watch: Watch) -> ThreadPost:
    """The one "steady again" reply of a flapping spell that ended (keyed by the spell)."""
    since = watch.quiet.flapping_since if watch.quiet is not None else None
    spell = since.isoformat() if since is not None else "?"
    return ThreadPost(
        workload_id=watch.workload_id,
        channel=watch.channel,
        thread_ts=watch.parent_ts,
        kind="flap_settled",
        dedupe_key=f"flap-settled:{watch.workload_id}:{watch.channel}:{spell}",
        payload={
            "template": "watch_flap_settled",
            "context": {
                "name": watch.name or watch.workload_id,
                "phase": watch.last_phase or "Unknown",
                "quiet_minutes": int(QUIET_AFTER.total_seconds() // 60),
            },
        },
    )
