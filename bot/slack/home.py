"""The App Home: a user's endpoints at a glance, kept current.

`app_home_opened` publishes (`views.publish`) the user's Home: **Needs attention** (Failed,
Degraded, stuck, idle or alerting endpoints the user may read under the policy), **Yours**
(endpoints they created through the bot: the audit trail), **Followed in your channels**
(endpoints followed in the channels where they used the bot: the audit trail), their
schedules and alert rules with Remove buttons, and **Deploy a model**; each endpoint has
**Status**, **Scale** and **Metrics**, which run the command paths as from a DM (the Home
has no channel: its own scope is no binding's, the project rights and caps apply, and an
approval threshold comes from the channels that own the endpoint, `bot.access.approvals`;
replies come privately in the app's DM).

Keeping it current: a phase change of a followed endpoint, or an action audited for a user,
asks for a republish of the Homes it concerns (`want_home_publish`: only users who opened
theirs in the last 7 days). The lease holder publishes them (`claim_home_publish`: at most
once per user per `HOME_REPUBLISH_SECONDS`), and on a 429 waits for its `Retry-After`
before publishing anything again.

A Home view holds at most 100 blocks: sections are filled in order of urgency, and what
does not fit is summarised in one line per section (`build_home`, pure).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit.store import AuditLog, channels_of, created_by, users_concerned
from bot.policy import ProjectRef
from bot.runai import RunaiCalls, models
from bot.slack import parsing, render
from bot.slack.deps import Deps, Invocation
from bot.slack.ids import Action as ActionId
from bot.slack.reply import Replier, slack_error
from bot.utc import as_utc, utcnow
from bot.watch.alert_store import AlertStatus

if TYPE_CHECKING:
    from bot.watch.store import Store

logger = logging.getLogger(__name__)

MAX_BLOCKS = 100
OPENED_WITHIN = timedelta(days=7)
STUCK_PHASES = ("Pending", "Creating", "Initializing")
INFERENCES_ONLY = f"type=={models.INFERENCE_WORKLOAD_TYPE}"
SUMMARY_NAMES = 15


# --- the view (pure) -------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One endpoint on the Home."""

    id: str
    name: str
    project: str
    phase: str
    why: str = ""
    urgency: int = 9  # lower: more urgent


@dataclass(frozen=True)
class Owned:
    """A schedule or alert rule the user owns, with its Remove button."""

    id: str
    text: str


@dataclass
class HomeData:
    """What a user's Home shows."""

    attention: list[Row] = field(default_factory=list)
    yours: list[Row] = field(default_factory=list)
    followed: list[Row] = field(default_factory=list)
    schedules: list[Owned] = field(default_factory=list)
    alerts: list[Owned] = field(default_factory=list)
    at: datetime = field(default_factory=utcnow)


@dataclass
class Section:
    """A section as the template draws it."""

    key: str
    title: str
    empty: str
    kind: str  # "endpoints" | "schedules" | "alerts"
    shown: list[Any]
    hidden: list[str]


_FIXED = 3  # header, the intro line, the Deploy button
_ROW_COST = {"endpoints": 2, "schedules": 1, "alerts": 1}


def build_home(data: HomeData, *, max_blocks: int = MAX_BLOCKS) -> dict[str, Any]:
    """The Home view for `data`, within `max_blocks`: the least urgent summarised."""
    raw: list[tuple[str, str, str, str, Sequence[Any]]] = [
        ("attention", "Needs attention", "Nothing needs your attention.", "endpoints",
         sorted(data.attention, key=lambda r: (r.urgency, r.name))),
        ("yours", "Yours", "You have created no endpoint through the bot.", "endpoints",
         data.yours),
        ("followed", "Followed in your channels", "Nothing else is followed in your channels.",
         "endpoints", data.followed),
        ("schedules", "Your schedules", "You own no schedule.", "schedules", data.schedules),
        ("alerts", "Your alerts", "You own no alert rule.", "alerts", data.alerts),
    ]  # fmt: skip
    budget = max_blocks - _FIXED
    reserve = 2 * len(raw)  # each section: its header and one summary (or empty) line
    sections: list[Section] = []
    for key, title, empty, kind, rows in raw:
        reserve -= 2
        budget -= 1  # the header
        cost = _ROW_COST[kind]
        shown: list[Any] = []
        for n, row in enumerate(rows):
            left_after = len(rows) - n - 1
            if budget - cost - (1 if left_after else 0) - reserve < 0:
                break
            shown.append(row)
            budget -= cost
        rest = rows[len(shown) :]
        if rest or not rows:
            budget -= 1
        hidden = [str(getattr(r, "name", None) or getattr(r, "text", "")) for r in rest]
        sections.append(Section(key, title, empty, kind, shown, hidden))
    view = render.render(
        "home/home.json.j2", sections=sections, at=data.at, summary_names=SUMMARY_NAMES
    )
    render.check_view(view)
    return view


# --- gathering what a Home shows ------------------------------------------------------


def _retry_after(headers: Any) -> float:
    """Slack's Retry-After (seconds; header names in any case), 1 s when absent."""
    for key, value in dict(headers or {}).items():
        if str(key).lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) and value else value
            try:
                return max(float(raw), 0.0)
            except (TypeError, ValueError):
                break
    return 1.0


def _phase(w: models.Workload) -> str:
    return str(w.phase) if w.phase else "Unknown"


def _row(w: models.Workload, why: str = "", urgency: int = 9) -> Row:
    return Row(w.id, w.name, w.project_name or w.project_id or "?", _phase(w), why, urgency)


MayRead = Callable[[str, ProjectRef], Awaitable[bool]]
"""Whether a user may read a project's workloads outside any channel (access control)."""


class HomeDesk:
    """Builds, publishes and republishes users' Homes."""

    def __init__(
        self,
        store: Store,
        runai: RunaiCalls,
        may_read: MayRead,
        audit: AuditLog,
        slack: AsyncWebClient,
        *,
        min_interval: timedelta = timedelta(seconds=10),
        stuck_after: timedelta = timedelta(minutes=15),
        clock: Callable[[], datetime] = utcnow,
        is_leader: Callable[[], bool] = lambda: True,
    ) -> None:
        self.store = store
        self.runai = runai  # the bot's own client: the Home filters by the user's rights
        self.may_read = may_read
        self.audit = audit
        self.slack = slack  # without retry handlers: a 429 pauses the publisher instead
        self.min_interval = min_interval
        self.stuck_after = stuck_after
        self.clock = clock
        self.is_leader = is_leader
        self._paused_until = 0.0  # monotonic: Slack's Retry-After
        self._tasks: set[asyncio.Task[None]] = set()
        self.published = 0

    async def data_for(self, user: str) -> HomeData:
        """What `user`'s Home shows now."""
        now = self.clock()
        page = await self.runai.list_workloads(filter_by=[INFERENCES_ONLY], limit=500)
        readable: dict[str, models.Workload] = {}
        for w in page.workloads:
            if w.deleted_at:
                continue
            if await self.may_read(user, ProjectRef(w.project_id, w.project_name)):
                readable[w.id] = w
        idle = {e.workload_id for e in await self.store.open_idle_episodes()}
        alerting: dict[str, str] = {}
        for rule, state in await self.store.list_alert_rules():
            if state.status is AlertStatus.FIRING and rule.workload_id in readable:
                alerting[rule.workload_id] = f"alert: {rule.metric} {rule.op} {rule.value:g}"
        attention: dict[str, Row] = {}
        for w in readable.values():
            phase = _phase(w)
            since = as_utc(w.phase_updated_at) if w.phase_updated_at else None
            if phase == "Failed":
                attention[w.id] = _row(w, w.phase_message or "Failed", 0)
            elif phase == "Degraded":
                attention[w.id] = _row(w, w.phase_message or "Degraded", 1)
            elif w.id in alerting:
                attention[w.id] = _row(w, alerting[w.id], 2)
            elif phase in STUCK_PHASES and since is not None and now - since > self.stuck_after:
                minutes = int((now - since).total_seconds() // 60)
                attention[w.id] = _row(w, f"stuck in {phase} for {minutes}m", 3)
            elif w.id in idle:
                attention[w.id] = _row(w, "idle", 4)
        mine = await created_by(self.audit, user)
        yours = [_row(readable[i]) for i in mine if i in readable and i not in attention]
        followed_ids: list[str] = []
        for channel in await channels_of(self.audit, user):
            followed_ids.extend(sorted(await self.store.watched_in(channel)))
        seen = set(attention) | set(mine)
        followed: list[Row] = []
        for i in followed_ids:
            if i in readable and i not in seen:
                seen.add(i)
                followed.append(_row(readable[i]))
        schedules = [
            Owned(s.id, f"{s.workload_name or s.workload_id}: {s.cron} ({s.tz}) → "
                  f"{s.min_replicas}-{s.max_replicas or s.min_replicas} replicas")
            for s in await self.store.list_schedules(author=user)
        ]  # fmt: skip
        alerts = [
            Owned(r.id, f"{r.workload_name or r.workload_id}: {r.metric} {r.op} {r.value:g} "
                  f"for {r.for_seconds}s ({st.status.value})")
            for r, st in await self.store.list_alert_rules(author=user)
        ]  # fmt: skip
        return HomeData(list(attention.values()), yours, followed, schedules, alerts, now)

    # --- publishing --------------------------------------------------------------------

    def paused(self) -> bool:
        """Whether Slack asked us to wait (Retry-After) before publishing again."""
        return time.monotonic() < self._paused_until

    async def publish(self, user: str) -> bool:
        """Build and publish `user`'s Home now; False when Slack refused (a 429 pauses the
        publisher for its Retry-After and asks for the republish again)."""
        if self.paused():
            await self.store.want_home_publish([user], at=self.clock())
            return False
        view = build_home(await self.data_for(user))
        try:
            await self.slack.views_publish(user_id=user, view=view)
        except SlackApiError as exc:
            if exc.response.status_code == 429:
                wait = _retry_after(exc.response.headers)
                self._paused_until = time.monotonic() + wait
                logger.info("views.publish rate limited", extra={"retry_after": wait})
                await self.store.want_home_publish([user], at=self.clock())
            else:
                logger.warning("views.publish failed", extra={"error": slack_error(exc)})
            return False
        self.published += 1
        return True

    async def opened(self, user: str) -> None:
        """`app_home_opened`: remember it, publish now."""
        now = self.clock()
        await self.store.home_opened(user, at=now)
        # Counts as this interval's publish: a change right after waits its turn.
        await self.store.claim_home_publish(user, at=now, min_interval=timedelta(0))
        await self.publish(user)

    def want(self, users: Iterable[str]) -> None:
        """Ask for a republish of these users' Homes (those who opened it lately)."""
        wanted = sorted({u for u in users if u and u != "bot"})
        if wanted:
            self._spawn(self._want(wanted))

    async def _want(self, users: list[str]) -> None:
        try:
            await self.store.want_home_publish(users, at=self.clock(), opened_within=OPENED_WITHIN)
        except Exception as exc:
            logger.warning("home republish not asked", extra={"error": type(exc).__name__})

    def want_for(self, user: str, workload_id: str | None) -> None:
        """An action by `user` (on `workload_id`): their Home and those it concerns."""
        self._spawn(self._want_for(user, workload_id))

    async def _want_for(self, user: str, workload_id: str | None) -> None:
        users = {user}
        if workload_id:
            users |= await self.concerned({workload_id})
        await self._want(sorted(users))

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def concerned(self, workload_ids: set[str]) -> set[str]:
        """Users whose Home shows these endpoints: who created or followed them, and who
        used the bot in a channel following them."""
        watches = await self.store.active_watches(sorted(workload_ids))
        users = {w.created_by for w in watches if w.created_by}
        channels = {w.channel for w in watches}
        users |= await users_concerned(self.audit, workload_ids=workload_ids, channels=channels)
        return users

    async def tick(self) -> int:
        """The lease holder's job: republish on phase changes, then publish what is due."""
        if not self.is_leader():
            return 0
        await self._phase_changes()
        if self.paused():
            return 0
        done = 0
        for user in await self.store.due_home_publishes(
            at=self.clock(), min_interval=self.min_interval
        ):
            if self.paused():
                break
            if await self.store.claim_home_publish(
                user, at=self.clock(), min_interval=self.min_interval, opened_within=OPENED_WITHIN
            ) and await self.publish(user):
                done += 1
        return done

    async def _phase_changes(self) -> None:
        # What the Homes were last asked to show is kept with each watch, so any lease
        # holder (a new one after a takeover included) republishes only the Homes whose
        # endpoints moved since, or were followed since. A crash between asking and
        # marking asks again: a Home republished twice.
        moved = await self.store.home_phase_changes()
        if moved:
            users = await self.concerned(set(moved))
            await self.store.want_home_publish(
                sorted(users), at=self.clock(), opened_within=OPENED_WITHIN
            )
            await self.store.home_phases_shown(moved)


# --- listeners -------------------------------------------------------------------------


async def home_invocation(body: dict[str, Any], replier: Replier) -> Invocation:
    """A Home button's invocation: answered in the app's DM with the user (the Home has no
    channel), by its `D…` id: files.* and ephemeral messages take no user id."""
    inv = Invocation.from_action(body)
    dm = await replier.dm(inv.user_id)
    return Invocation(user_id=inv.user_id, channel_id=dm, trigger_id=inv.trigger_id)


def register_home(home: HomeDesk) -> Callable[[AsyncApp, Deps, Replier], None]:
    """The listeners for `build_app(listeners=...)`."""
    from bot.slack import commands

    def register(app: AsyncApp, deps: Deps, replier: Replier) -> None:
        @app.event("app_home_opened")
        async def _opened(event: dict[str, Any]) -> None:
            if event.get("tab", "home") != "home" or not event.get("user"):
                return
            deps.tasks.fire(home.opened(str(event["user"])), name="home-opened")

        def runner(make: Callable[[str], parsing.Command], urgent: bool = False) -> Any:
            async def listener(ack: Any, body: dict[str, Any], context: dict[str, Any]) -> None:
                await ack()
                inv = await home_invocation(body, replier)
                actions = body.get("actions") or [{}]
                ref = str(actions[0].get("value") or "")
                if not parsing.is_workload_id(ref):
                    await replier.problem(inv, "That button is from an older Home; reopen it.")
                    return
                bound = deps.bound(context)
                deps.tasks.fire(
                    commands.run(bound, replier, inv, make(ref)), name="home-button", urgent=urgent
                )
                home.want_for(inv.user_id, ref)

            return listener

        @app.action(ActionId.HOME_DEPLOY.value)
        async def _deploy(ack: Any, body: dict[str, Any], context: dict[str, Any]) -> None:
            await ack()
            inv = await home_invocation(body, replier)
            command = parsing.parse("create")
            deps.tasks.fire(
                commands.run(deps.bound(context), replier, inv, command),
                name="home-deploy",
                urgent=True,
            )

        app.action(ActionId.HOME_STATUS.value)(runner(lambda r: parsing.Status(ref=r)))
        app.action(ActionId.HOME_SCALE.value)(runner(lambda r: parsing.Scale(ref=r), True))
        app.action(ActionId.HOME_METRICS.value)(runner(lambda r: parsing.Metrics(ref=r)))

    return register
