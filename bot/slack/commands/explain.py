"""`why`, `history`: what a workload is going through, and what it ran before, with a way
back (`slack/actions_explain.py` has their buttons). A rollback asks first
(`rollback_confirm`), then sends one PATCH of what differs, through the policed client's
update (same policy, caps, audit and thread record as `update`).

`why` is four Run:ai calls: the workload (the lookup itself), then its events, pods and
history together. A button carries an id and nothing else that is trusted: the revision
is read again, and the confirmation's fingerprint of what it said would change must still
hold, or nothing is sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.runai import errors as runai_errors
from bot.runai import models
from bot.runai import observability as obs
from bot.slack import parsing, render
from bot.slack.commands.route import Route
from bot.slack.deps import Deps, Invocation
from bot.slack.errors import UserFacingError
from bot.slack.reply import Replier
from bot.slack.resolve import resolve
from bot.slack.revisions import Rollback, history_card, rollback_plan
from bot.slack.why import MAX_EVENTS, why_card
from bot.utc import utcnow

logger = logging.getLogger(__name__)

HISTORY_READ = 20  # history records read for the last phase changes
# An audit entry is written when Run:ai answered the change: a little after the revision.
AUTHOR_BEFORE = timedelta(seconds=5)
AUTHOR_AFTER = timedelta(minutes=2)
REVISION_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")
FINGERPRINT_RE = re.compile(r"^[0-9a-f]{12}$")
OLD_BUTTON = "That button is from an older message or was altered; run `/inference history` again."


# --- why -------------------------------------------------------------------------------


async def why_message(deps: Deps, ref: str) -> dict[str, Any]:
    """The `why` message of one workload (name or id)."""
    workload = await resolve(deps.runai, ref)
    wid = workload.id
    events, pods, history = await asyncio.gather(
        deps.runai.workload_events(wid, limit=MAX_EVENTS),
        deps.runai.workload_pods(wid),
        deps.runai.workload_history(wid, limit=HISTORY_READ),
    )
    card = why_card(workload, events.events, pods.pods, history.records, utcnow())
    return render.message("why", card=card)


async def why(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Why) -> None:
    """Phase and message, how long, latest events, pods, last phase changes."""
    await replier.respond(inv, await why_message(deps, command.ref))


# --- history ---------------------------------------------------------------------------


def match_authors(
    revisions: Sequence[obs.Revision], changes: Sequence[tuple[datetime, str, str]]
) -> dict[str, str]:
    """Revision id → the Slack user whose audited change made it (pure).

    A change through the bot is audited just after Run:ai answered it, so an entry may
    name a revision from 5 s after to 2 min before it. Closest pairs first, each entry and
    each revision used once; a revision left without one was made outside Slack.
    """
    pairs = sorted(
        (abs(at - r.created_at), n, r.id, user)
        for n, (at, user, _action) in enumerate(changes)
        for r in revisions
        if -AUTHOR_BEFORE <= at - r.created_at <= AUTHOR_AFTER
    )
    authors: dict[str, str] = {}
    used: set[int] = set()
    for _gap, n, revision_id, user in pairs:
        if n in used or revision_id in authors:
            continue
        used.add(n)
        authors[revision_id] = user
    return authors


async def history(deps: Deps, replier: Replier, inv: Invocation, command: parsing.History) -> None:
    """The revisions, newest first: when, by whom, what changed; Roll back buttons."""
    workload = await resolve(deps.runai, command.ref)
    revisions = await deps.runai.inference_revisions(workload.id)
    changes = await deps.answers.changes(workload.id) if deps.answers is not None else []
    authors = match_authors(revisions, changes)
    card = history_card(workload.name, workload.id, revisions, lambda r: authors.get(r.id))
    await replier.respond(inv, render.message("history", card=card))


# --- rollback --------------------------------------------------------------------------


def fingerprint(plan: Rollback) -> str:
    """What a confirmation said would change, in 12 hex digits (a stale one won't match)."""
    text = "\n".join([plan.revision_id, *plan.changes])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def read_value(value: str) -> tuple[str, str | None] | None:
    """`<revision id>` (Roll back to this) or `<revision id> <fingerprint>` (Roll back);
    None for anything else."""
    parts = value.split(" ")
    if not parts or not REVISION_ID_RE.match(parts[0]) or len(parts) > 2:
        return None
    if len(parts) == 2:
        return (parts[0], parts[1]) if FINGERPRINT_RE.match(parts[1]) else None
    return parts[0], None


async def _plan(deps: Deps, revision_id: str) -> tuple[models.Inference, Rollback]:
    try:
        revision = await deps.runai.get_revision(revision_id)
    except (runai_errors.NotFoundError, runai_errors.InvalidRequestError):
        raise UserFacingError(
            "That revision no longer exists; run `/inference history` again."
        ) from None
    try:
        inference = await deps.runai.get_inference(revision.workload_id)
    except runai_errors.NotFoundError:
        raise UserFacingError("That workload is gone: there is nothing to roll back.") from None
    return inference, rollback_plan(revision, inference.spec)


async def ask_rollback(deps: Deps, replier: Replier, inv: Invocation, revision_id: str) -> None:
    """The confirmation: what rolling back to the revision would change."""
    inference, plan = await _plan(deps, revision_id)
    value = f"{plan.revision_id} {fingerprint(plan)}"
    await replier.respond(
        inv, render.message("rollback_confirm", name=inference.name, plan=plan, value=value)
    )


async def do_rollback(
    deps: Deps, replier: Replier, inv: Invocation, revision_id: str, said: str
) -> None:
    """The confirmed rollback: one PATCH of what differs, as `update` sends it."""
    inference, plan = await _plan(deps, revision_id)
    if plan.request is None:
        text = f"{inference.name} already runs what `{plan.revision_name}` shows: nothing sent."
        await replace_answer(replier, inv, ":white_check_mark:", text)
        return
    if fingerprint(plan) != said:
        text = (
            f"{inference.name} changed since this confirmation was shown, so nothing was "
            "sent; run `/inference history` again to see what a rollback would change now."
        )
        await replace_answer(replier, inv, ":warning:", text)
        return
    await deps.runai.update_inference(inference.workload_id, plan.request)
    summary = f"rolled {inference.name} back to {plan.revision_name}: " + "; ".join(plan.changes)
    await deps.record(inference.workload_id, "update", inv.user_id, summary)
    await replace_answer(
        replier, inv, ":rewind:", f"Rolling {inference.name} back to {plan.revision_name}."
    )


async def replace_answer(replier: Replier, inv: Invocation, emoji: str, text: str) -> None:
    await replier.respond(
        inv,
        render.message("notice", emoji=emoji, text=text, user=inv.user_id, detail=None),
        replace_original=True,
    )


ROUTES = (
    Route(parsing.Why, why, "read"),
    Route(parsing.History, history, "read"),
)
