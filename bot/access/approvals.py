"""Approvals: a big request waits for an approver instead of reaching Run:ai.

A channel binding's `approval: {gpus_over, replicas_over, approvers}` (bot/policy/model.py)
makes a create, update, scale or rollback that asks for more than a threshold (but stays
within the caps, which are decided first) a *request*: stored (`Store.create_approval`,
so it survives restarts and any replica can decide it), posted in the channel with
**Approve** and **Deny**, and the requester is told it waits (`AwaitingApproval`, a
`UserFacingError`: every path that reports errors reports it).

The decision sits where the caps are checked (`PolicedRunai`, through `Gate.approvals`),
so the command, the modals, the Home's buttons and a schedule's fire are all covered: a
schedule fires as its author (README, "Approvals"), so a fire over the threshold becomes a
request like any other, decided under the policy of that moment.

Which binding decides (`governing`): the asker's channel when the policy binds it; from an
unbound place (the App Home, a DM, an unbound channel) the bindings of the channels that
own the workload (created it, follow it), the strictest of them. The request then goes to
the owning channel and the requester is told privately where they asked (`asked_in` in the
stored request), so a Home button is no way around a team's thresholds.

Approve is a compare-and-set (`decide_approval`): of a double press, or two approvers at
once on two replicas, one wins and performs the request, as the requester, under the policy
at that moment (rights and caps decided again; only the threshold is met), then records the
outcome (`finish_approval`). A replica killed between the two leaves the request approved
and not performed: the lease holder finishes it (`recover`), sending nothing when Run:ai
already holds what was asked. The lease holder also expires requests after `APPROVAL_TTL`
and edits their message. Every step is audited and noted in the workload's threads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.asker import Asker
from bot.access.sizes import compute_gpus
from bot.durations import say_duration
from bot.policy import Action, Ask, Caller, ProjectRef
from bot.policy.decide import is_admin
from bot.policy.model import ApprovalRule
from bot.runai import RunaiCalls, models
from bot.runai import errors as runai_errors
from bot.slack import render
from bot.slack.errors import UserFacingError, describe
from bot.slack.reply import open_dm
from bot.utc import utcnow
from bot.watch.approval_store import Approval, ApprovalState, SecretInRequest

if TYPE_CHECKING:
    from bot.access.gate import Gate
    from bot.watch.store import Store

logger = logging.getLogger(__name__)


class Performer(Protocol):
    """What performs an approved request (`PolicedRunai`): the client as one asker, and
    the client it polices."""

    inner: RunaiCalls

    def for_asker(self, asker: Asker | None) -> RunaiCalls:
        """The same client, answering to `asker`."""
        ...


RECOVER_AFTER = timedelta(seconds=30)
"""An approved request not performed this long after the decision: its replica died."""


class AwaitingApproval(UserFacingError):
    """The request went to the approvers instead of Run:ai."""

    def __init__(
        self, approval: Approval, over: list[str], ttl: timedelta, *, owner: str | None = None
    ) -> None:
        # `owner`: the request was posted in the channel that owns the workload, not where
        # the requester asked; the permalink of the request when Slack gave one (the
        # sentence is plain text: a bare link, no channel mention).
        where = (
            f"in the channel that owns {approval.workload_name}"
            + (f" ({owner})" if owner.startswith("http") else "")
            + ","
            if owner is not None
            else "in the channel"
        )
        super().__init__(
            f"This needs approval: it asks for {' and '.join(over)}. I've posted request "
            f"{approval.id} {where} for an approver; nothing changes until "
            f"one approves it (it expires in {say_duration(ttl)})."
        )
        self.approval = approval


class OwnersUnknown(UserFacingError):
    """Acting from an unbound place, the owning channels' thresholds could not be read."""

    def __init__(self) -> None:
        super().__init__(
            "I can't tell right now whether this needs approval in the channels that own "
            "the workload: my database does not answer. Nothing was changed; try again in "
            "a minute."
        )


class NeedsSecretReference(UserFacingError):
    """A request over the threshold carries env values, which a request cannot store."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(
            "This needs approval, and a request waiting for approval cannot hold "
            f"environment variable values or tokens ({', '.join(names)}). Read them from a "
            "Kubernetes secret instead (a secret reference), then ask again."
        )


@dataclass(frozen=True)
class Mention:
    """A user mentioned in a note (`<@U…>`; the rest of a note is escaped text)."""

    user: str


Note = tuple[str | Mention, ...]
"""A private line to a user: text and mentions (`note_message` renders it)."""


def note_message(*parts: str | Mention) -> dict[str, Any]:
    """A note as a message: the text escaped, the mentions as mentions."""
    return render.message(
        "approval_note",
        parts=[{"user": p.user} if isinstance(p, Mention) else {"text": p} for p in parts],
    )


ASKED_IN = "asked_in"
"""Key of a stored request: where the requester asked, when not in the request's channel."""


def _asked_in(approval: Approval) -> str | None:
    place = approval.request.get(ASKED_IN)
    return str(place) if place and place != approval.channel else None


def _rule_path(channel: str) -> str:
    return f"channels.{channel}.approval.approvers"


def _subset(asked: Any, current: Any) -> bool:
    """Whether every value `asked` sets is already in `current` (JSON shapes)."""
    if isinstance(asked, dict):
        return isinstance(current, dict) and all(
            _subset(v, current.get(k)) for k, v in asked.items() if v is not None
        )
    if isinstance(asked, list):
        return (
            isinstance(current, list)
            and len(asked) == len(current)
            and all(_subset(a, c) for a, c in zip(asked, current, strict=True))
        )
    return bool(asked == current)


class ApprovalDesk:
    """Holds requests over a channel's thresholds, and decides them for the approvers."""

    def __init__(
        self,
        store: Store,
        slack: AsyncWebClient,
        gate: Gate,
        *,
        ttl: timedelta,
        clock: Callable[[], datetime] = utcnow,
        on_change: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.store = store
        self.slack = slack
        self.gate = gate
        self.ttl = ttl
        self.clock = clock
        self.runai: Performer | None = None  # set by `bot.access.build` (it holds us too)
        # Users whose Home shows this (requester, approver): `bot.slack.home` republishes.
        self.on_change = on_change

    # --- holding a request ---------------------------------------------------------------

    async def governing(
        self, asker: Asker | None, workload_id: str | None, ask: Ask
    ) -> tuple[str, list[str]] | None:
        """The channel whose `approval:` this request is over, and what is over; None when
        no threshold is exceeded (or the asker performs an approved request).

        From a bound channel its own binding decides. From an unbound place (the App Home,
        a DM, a channel the policy does not bind) the workload's owners do: the channel it
        was created in and the channels following it (`Store.owning_channels`). The
        request needs approval when it is over any of their thresholds (the strictest
        applies), and goes to the creating channel when that one's threshold is exceeded,
        else to the first following channel whose threshold is. A create, or a workload no
        bound channel owns, has no owner: no threshold applies, as before.
        """
        if asker is None or asker.approved is not None or asker.channel is None:
            return None
        policy = self.gate.policy
        if asker.channel in policy.channels:
            candidates = [asker.channel]
        elif workload_id is None or not any(o.approval for o in policy.binding_options.values()):
            return None  # nothing owns a create yet; no binding asks for approval at all
        else:
            try:
                candidates = await self.store.owning_channels(workload_id)
            except Exception as exc:
                # Failing open here would be the bypass this rule exists to close.
                logger.warning("owning channels unknown", extra={"error": type(exc).__name__})
                raise OwnersUnknown() from exc
        for channel in candidates:
            rule = policy.approval_rule(channel)
            over = rule.exceeded(ask.replicas, ask.gpus) if rule else []
            if over:
                return channel, over
        return None

    async def hold(
        self,
        asker: Asker | None,
        action: Action,
        project: ProjectRef,
        ask: Ask,
        *,
        workload_id: str | None,
        name: str,
        request: dict[str, Any],
        summary: str,
    ) -> None:
        """Go on (no approval needed), or store and post the request and raise
        `AwaitingApproval` (or `NeedsSecretReference`). Called once rights and caps passed."""
        governing = await self.governing(asker, workload_id, ask)
        if governing is None or asker is None:
            return
        channel, over = governing
        caller = await self.gate.caller(asker)
        if is_admin(self.gate.policy, caller):
            return  # admins pass the caps; the thresholds below them too
        now = self.clock()
        stored: dict[str, Any] = {"project_id": project.id, "body": request}
        elsewhere = channel != asker.channel
        if elsewhere:
            # Where the requester asked (the Home: their user id; a DM): performed from
            # there, and they are told there, privately.
            stored[ASKED_IN] = asker.channel
        try:
            approval = await self.store.create_approval(
                channel=channel,
                requester=asker.user,
                action=action.value,
                workload_id=workload_id,
                workload_name=name,
                project=project.label(),
                request=stored,
                summary=summary,
                expires_at=now + self.ttl,
                at=now,
            )
        except SecretInRequest as exc:
            names = sorted({p.rsplit(".", 1)[-1].split("[")[0] for p in exc.paths})
            env = self._env_names(request)
            raise NeedsSecretReference(env or names) from None
        await self.gate.record(
            asker,
            "approval-requested",
            workload_id=workload_id,
            name=name,
            project=project,
            summary=f"{approval.id}: {summary}; over {', '.join(over)}",
            outcome="pending",
        )
        ts = await self._post(approval, over)
        if ts is not None:
            await self.store.set_approval_message(approval.id, channel, ts)
        await self._note(approval, "approval", asker.user, f"asked for approval ({approval.id})")
        self._changed(approval.requester)
        owner = await self._permalink(channel, ts) if elsewhere else None
        raise AwaitingApproval(approval, over, self.ttl, owner=owner)

    async def _permalink(self, channel: str, ts: str | None) -> str:
        """The request message's link (chat.getPermalink needs no scope); "" without."""
        if ts is None:
            return ""
        try:
            found = await self.slack.chat_getPermalink(channel=channel, message_ts=ts)
        except SlackApiError as exc:
            logger.info("no permalink", extra={"error": exc.response.get("error")})
            return ""
        return str(found.get("permalink") or "")

    @staticmethod
    def _env_names(request: dict[str, Any]) -> list[str]:
        names: list[str] = []
        spec = request.get("spec") or {}
        for var in spec.get("environmentVariables") or []:
            if isinstance(var, Mapping) and var.get("value") not in (None, ""):
                names.append(str(var.get("name") or "?"))
        return names

    # --- the request message -----------------------------------------------------------

    def message(self, approval: Approval, over: list[str] | None = None) -> dict[str, Any]:
        """The request as posted in the channel: pending with its buttons, or decided."""
        rule = self.gate.policy.approval_rule(approval.channel)
        approvers = [
            f"<!subteam^{p}>" if p.startswith("S") else f"<@{p}>"
            for p in (rule.approvers if rule else [])
        ]
        if over is None:
            over = self._over(approval)
        return render.message(
            "approval_request",
            a=approval,
            pending=approval.state is ApprovalState.PENDING,
            over=over,
            approvers=approvers,
            ttl=say_duration(self.ttl),
            expires_ts=int(approval.expires_at.timestamp()),
            expires=f"{approval.expires_at:%Y-%m-%d %H:%M} UTC",
        )

    def _over(self, approval: Approval) -> list[str]:
        rule = self.gate.policy.approval_rule(approval.channel)
        ask = self._ask_of(approval)
        return rule.exceeded(ask.replicas, ask.gpus) if rule else []

    @staticmethod
    def _ask_of(approval: Approval) -> Ask:
        body = approval.request.get("body") or {}
        try:
            if approval.action == Action.CREATE.value:
                create = models.InferenceCreationRequest.model_validate(body)
                auto = create.spec.autoscaling
                high = auto.effective_max if auto else 1
                return Ask(replicas=high, gpus=compute_gpus(create.spec.compute, high))
            update = models.InferenceUpdateRequest.model_validate(body)
            auto_u = update.spec.autoscaling
            most = auto_u.effective_max if auto_u else None
            gpus = compute_gpus(update.spec.compute, most) if update.spec.compute else None
            return Ask(replicas=most, gpus=gpus)
        except ValueError:
            return Ask()

    async def _post(self, approval: Approval, over: list[str]) -> str | None:
        try:
            response = await self.slack.chat_postMessage(
                channel=approval.channel, **self.message(approval, over)
            )
        except SlackApiError as exc:
            logger.warning(
                "approval request not posted",
                extra={"approval": approval.id, "error": exc.response.get("error")},
            )
            return None
        return str(response.get("ts"))

    async def _edit(self, approval: Approval) -> None:
        if not approval.message_channel or not approval.message_ts:
            return
        try:
            await self.slack.chat_update(
                channel=approval.message_channel, ts=approval.message_ts, **self.message(approval)
            )
        except SlackApiError as exc:
            logger.warning(
                "approval message not edited",
                extra={"approval": approval.id, "error": exc.response.get("error")},
            )

    async def _tell(self, approval: Approval, *parts: str | Mention) -> None:
        """A private line to the requester: in the request's channel, or in their DM with
        the app when they asked from elsewhere (the Home, a DM)."""
        payload = note_message(*parts)
        try:
            if _asked_in(approval) is None:
                await self.slack.chat_postEphemeral(
                    channel=approval.channel, user=approval.requester, **payload
                )
            else:
                dm = await open_dm(self.slack, approval.requester)
                await self.slack.chat_postMessage(channel=dm, **payload)
        except SlackApiError as exc:
            logger.info("requester not told", extra={"error": exc.response.get("error")})

    async def _note(self, approval: Approval, action: str, user: str, summary: str) -> None:
        if approval.workload_id and self.gate.notes is not None:
            try:
                await self.gate.notes.note(
                    approval.workload_id, action=action, user=user, summary=summary
                )
            except Exception as exc:
                logger.warning("approval not noted", extra={"error": type(exc).__name__})

    async def _audit(self, approval: Approval, user: str, what: str, outcome: str) -> None:
        await self.gate.record(
            Asker(user, approval.channel, Action.READ),
            what,
            workload_id=approval.workload_id,
            name=approval.workload_name,
            project=ProjectRef(approval.request.get("project_id"), approval.project),
            summary=f"{approval.id}: {approval.summary}",
            outcome=outcome,
        )

    def _changed(self, *users: str | None) -> None:
        if self.on_change is not None:
            self.on_change([u for u in users if u])

    # --- deciding ------------------------------------------------------------------------

    async def may_decide(self, approval: Approval | None, user: str) -> Note | None:
        """Why `user` may not approve or deny `approval` (None: they may)."""
        if approval is None:
            return ("That approval request no longer exists.",)
        if approval.state is not ApprovalState.PENDING:
            return self._decided_text(approval)
        if approval.expires_at <= self.clock():
            return (f"Request {approval.id} has expired; ask again if it is still needed.",)
        if user == approval.requester:
            return (
                f"You asked for request {approval.id}, so you can't approve or deny it: "
                "another approver has to.",
            )
        rule = self.gate.policy.approval_rule(approval.channel)
        if rule is None:
            return (
                f"This channel no longer requires approval, so request {approval.id} can't be "
                "decided here; the requester can simply ask again.",
            )
        caller = await self.gate.caller(Asker(user, approval.channel, Action.READ))
        if not self._approver(rule, caller):
            return (
                f"Only the approvers named in the policy ({_rule_path(approval.channel)}) "
                f"may approve or deny request {approval.id}.",
            )
        return None

    @staticmethod
    def _approver(rule: ApprovalRule, caller: Caller) -> bool:
        return any(p == caller.user or p in caller.groups for p in rule.approvers)

    @staticmethod
    def _decided_text(approval: Approval) -> Note:
        if approval.state is ApprovalState.EXPIRED:
            return (f"Request {approval.id} has expired; ask again if it is still needed.",)
        verb = "approved" if approval.state is ApprovalState.APPROVED else "denied"
        return (
            f"Request {approval.id} was already {verb} by ",
            Mention(approval.decided_by or "?"),
            ".",
        )

    async def approve(self, approval_id: str, user: str) -> Note:
        """Approve and perform, once; what to tell the approver privately."""
        approval = await self.store.get_approval(approval_id)
        why_not = await self.may_decide(approval, user)
        if why_not is not None or approval is None:
            return why_not or ("That approval request no longer exists.",)
        won = await self.store.decide_approval(
            approval_id, ApprovalState.APPROVED, user, at=self.clock()
        )
        if not won:
            latest = await self.store.get_approval(approval_id)
            return self._decided_text(latest) if latest else ("That request no longer exists.",)
        await self._audit(approval, user, "approval-approved", "ok")
        await self._note(approval, "approval", user, f"approved {approval.id}")
        decided = await self.store.get_approval(approval_id)
        outcome = await self.perform(decided or approval)
        return (f"Approved request {approval.id}: {outcome}",)

    async def perform(self, approval: Approval, *, recovering: bool = False) -> str:
        """Perform an approved request as its requester under the policy now; record the
        outcome once (`finish_approval`). Returns the outcome in words."""
        assert self.runai is not None, "ApprovalDesk.runai is set by build_access"
        known = {a.value for a in Action}
        intent = Action(approval.action) if approval.action in known else Action.UPDATE
        place = _asked_in(approval) or approval.channel
        asker = Asker(approval.requester, place, intent, approved=approval.id)
        runai = self.runai.for_asker(asker)
        body = approval.request.get("body") or {}
        try:
            if recovering and await self._already_done(approval, body):
                sentence, outcome = "it was already done", "ok"
            elif approval.action == Action.CREATE.value:
                created = await runai.create_inference(
                    models.InferenceCreationRequest.model_validate(body)
                )
                sentence, outcome = f"{created.name} is being created.", "ok"
            else:
                assert approval.workload_id is not None
                await runai.get_inference(approval.workload_id)  # rights, as the requester now
                await runai.update_inference(
                    approval.workload_id, models.InferenceUpdateRequest.model_validate(body)
                )
                sentence, outcome = (
                    f"{approval.summary} sent to Run:ai.",
                    "ok",
                )
        except UserFacingError as exc:
            sentence = f"not done: {exc.problem.sentence}"
            outcome = "denied"
        except runai_errors.RunaiError as exc:
            sentence = f"not done: {describe(exc).sentence}"
            outcome = "failed"
        if await self.store.finish_approval(approval.id, outcome, at=self.clock()):
            latest = await self.store.get_approval(approval.id) or approval
            await self._edit(latest)
            await self._note(approval, "approval", approval.requester, f"{approval.id} {sentence}")
            await self._tell(
                approval,
                f"Request {approval.id} was approved by ",
                Mention(approval.decided_by or "?"),
                f": {sentence}",
            )
            self._changed(approval.requester, approval.decided_by)
        return sentence

    async def _already_done(self, approval: Approval, body: dict[str, Any]) -> bool:
        """Whether Run:ai already holds what the request asked (its replica died after
        sending it): then nothing is sent again."""
        assert self.runai is not None
        inner = self.runai.inner
        try:
            if approval.action == Action.CREATE.value:
                found = await inner.find_inferences(
                    str(body.get("name")), project_id=approval.request.get("project_id")
                )
                return bool(found)
            if approval.workload_id is None:
                return False
            current = await inner.get_inference(approval.workload_id)
        except runai_errors.RunaiError:
            return False
        return _subset(body.get("spec") or {}, current.to_api().get("spec") or {})

    async def deny(self, approval_id: str, user: str, reason: str | None) -> Note:
        """Deny, once; what to tell the approver privately."""
        approval = await self.store.get_approval(approval_id)
        why_not = await self.may_decide(approval, user)
        if why_not is not None or approval is None:
            return why_not or ("That approval request no longer exists.",)
        won = await self.store.decide_approval(
            approval_id, ApprovalState.DENIED, user, reason=reason or None, at=self.clock()
        )
        if not won:
            latest = await self.store.get_approval(approval_id)
            return self._decided_text(latest) if latest else ("That request no longer exists.",)
        latest = await self.store.get_approval(approval_id) or approval
        await self._audit(approval, user, "approval-denied", "ok")
        because = f": {reason}" if reason else ""
        await self._note(approval, "approval", user, f"denied {approval.id}{because}")
        await self._edit(latest)
        await self._tell(
            approval, f"Request {approval.id} was denied by ", Mention(user), f"{because}."
        )
        self._changed(approval.requester, user)
        return (f"Denied request {approval.id}; nothing was changed.",)

    # --- the lease holder's jobs ---------------------------------------------------------

    async def expire(self) -> int:
        """Expire requests past their time: edit their message, audit, note, tell."""
        expired = await self.store.expire_approvals(self.clock())
        for approval in expired:
            await self._edit(approval)
            await self._audit(approval, "bot", "approval-expired", "expired")
            await self._note(approval, "approval", "bot", f"{approval.id} expired unapproved")
            await self._tell(approval, f"Request {approval.id} expired without a decision.")
            self._changed(approval.requester)
        return len(expired)

    async def recover(self) -> int:
        """Perform approved requests whose replica died before finishing them."""
        done = 0
        for approval in await self.store.unfinished_approvals(self.clock() - RECOVER_AFTER):
            logger.info("finishing an approved request", extra={"approval": approval.id})
            await self.perform(approval, recovering=True)
            done += 1
        return done


__all__ = [
    "ApprovalDesk",
    "AwaitingApproval",
    "Mention",
    "NeedsSecretReference",
    "Note",
    "OwnersUnknown",
    "note_message",
]
