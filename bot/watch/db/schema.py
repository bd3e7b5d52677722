"""The tables of the bot's database: the watch room's and the audit trail's. Their shape in
a database is owned by the migrations (`bot/watch/db/migrations/`); these definitions are
what the queries are written against, and a test holds the two equal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
    text,
)

metadata = MetaData()


def _time(name: str, **options: Any) -> Column[datetime]:
    """A point in time: always stored with its zone (the bot stores UTC, bot/utc.py)."""
    return Column(name, DateTime(timezone=True), **options)


def _rule_head() -> list[Column[Any]]:
    """The first columns of a rule a user sets on a workload (a schedule, an alert rule):
    the short id people type (bot/watch/claims.py), the workload and its name when set,
    the channel it speaks in and its author."""
    return [
        Column("id", String(16), primary_key=True),
        Column("workload_id", String(64), nullable=False, index=True),
        Column("workload_name", Text),
        Column("channel", String(64), nullable=False, index=True),
        Column("author", String(64), nullable=False),
    ]


watches = Table(
    "watches",
    metadata,
    Column("workload_id", String(64), primary_key=True),
    Column("channel", String(64), primary_key=True),
    Column("parent_ts", String(32), nullable=False),
    Column("name", Text),
    Column("project", Text),
    Column("image", Text),
    Column("replicas", Text),
    Column("url", Text),
    Column("last_phase", String(32), index=True),
    Column("phase_message", Text),
    _time("phase_updated_at"),
    Column("reason", String(16), nullable=False),
    Column("created_by", String(64)),
    _time("created_at", nullable=False),
    _time("workload_created_at"),
    Column("ready_announced", Boolean, nullable=False),
    Column("pending_action", String(16)),
    Column("pending_user", String(64)),
    Column("active", Boolean, nullable=False, index=True),
    # Compare-and-set guard; every write stamps a fresh random value (not a counter), so
    # a batched UPDATE can find afterwards which rows it won.
    Column("version", BigInteger, nullable=False, index=True),
    # Quieter threads (0003). Written without touching `version`: muting a thread must
    # never make the poller lose a transition it is writing.
    # Comma-separated phases the thread follows; NULL: every phase.
    Column("only_phases", Text),
    _time("muted_until"),
    # Flapping: recent phase-change times (JSON list of ISO strings, newest last), the
    # start of the current flapping spell and when its one summary was claimed.
    Column("recent_changes", JSON),
    _time("flapping_since"),
    _time("flap_summary_at"),
    # The phase the App Homes were last asked to show (0007): the lease holder republishes
    # the Homes a watch concerns when `last_phase` moves away from it, whoever led before.
    Column("home_phase", String(32)),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workload_id", String(64), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("thread_ts", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("payload", JSON, nullable=False),
    _time("created_at", nullable=False),
    # An `OutboxState` (bot/watch/outbox.py).
    Column("state", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("claimed_by", String(128)),
    Column("reply_ts", String(32)),
    _time("delivered_at"),
    Column("last_error", Text),
    # Thread posts of the care/alerts/approvals features (0005): a caller-chosen key that
    # makes "post this once" hold across restarts and replicas (NULL for transitions and
    # for rows of older releases), and whether the reply is also shown in the channel.
    Column("dedupe_key", String(191), unique=True, index=True),
    Column("broadcast", Boolean, nullable=False, server_default=false()),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("epoch", Integer, nullable=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _time("at", nullable=False, index=True),
    Column("user_id", String(64), nullable=False),
    Column("channel_id", String(64)),
    Column("action", String(16), nullable=False),
    Column("workload_id", String(64), index=True),
    Column("workload_name", String(128), index=True),
    Column("project", String(128)),
    Column("project_id", String(64)),
    # What was asked, in words, without secrets (no env values, no tokens, no args).
    Column("summary", Text, nullable=False),
    # ok | denied | failed
    Column("outcome", String(16), nullable=False),
    # The policy rule that decided (denials), or the error kind (failures).
    Column("rule", String(255)),
)


# --- care (0002): schedules, their fires, idle episodes, daily digests ---------------------

schedules = Table(
    "schedules",
    metadata,
    *_rule_head(),  # its id is what people type in `unschedule <id>`
    Column("cron", String(128), nullable=False),
    Column("tz", String(64), nullable=False),
    Column("min_replicas", Integer, nullable=False),
    Column("max_replicas", Integer),
    _time("created_at", nullable=False),
    _time("ended_at", index=True),
    # removed | workload-deleted | right-revoked | …
    Column("ended_reason", String(32)),
    Column("ended_by", String(64)),
)

schedule_fires = Table(
    "schedule_fires",
    metadata,
    # The key that makes a fire happen once: (schedule, scheduled time in UTC).
    Column("schedule_id", String(16), primary_key=True),
    _time("fire_at", primary_key=True),
    Column("claimed_by", String(128), nullable=False),
    _time("claimed_at", nullable=False),
    # NULL while being applied; then a `FireOutcome`.
    Column("outcome", String(16)),
    Column("detail", Text),
    _time("finished_at"),
)

idle_episodes = Table(
    "idle_episodes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workload_id", String(64), nullable=False),
    Column("workload_name", Text),
    _time("idle_since", nullable=False),
    _time("opened_at", nullable=False),
    _time("nudged_at"),
    _time("kept_until"),
    Column("kept_by", String(64)),
    Column("auto_action", String(32)),
    _time("auto_action_due_at"),
    _time("auto_action_done_at"),
    # The automatic action's intent (0006): set when a leader starts it, before its PATCH;
    # one started and not done is finished by the next leader. Then how it ended.
    _time("auto_action_started_at"),
    Column("auto_action_outcome", String(16)),
    # Set when the workload served traffic again (or went away): the next idle spell is a
    # new episode.
    _time("ended_at"),
    Column("ended_reason", String(32)),
)
# At most one open episode per workload, whoever opens it.
Index(
    "uq_idle_episodes_open",
    idle_episodes.c.workload_id,
    unique=True,
    sqlite_where=text("ended_at IS NULL"),
    postgresql_where=text("ended_at IS NULL"),
)
Index("ix_idle_episodes_workload_id", idle_episodes.c.workload_id)

digests = Table(
    "digests",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("at_time", String(5), nullable=False),  # HH:MM in `tz`
    Column("tz", String(64), nullable=False),
    Column("author", String(64), nullable=False),
    Column("enabled", Boolean, nullable=False),
    _time("updated_at", nullable=False),
)

digest_posts = Table(
    "digest_posts",
    metadata,
    # One daily digest per channel and local day.
    Column("channel", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("claimed_by", String(128), nullable=False),
    _time("claimed_at", nullable=False),
)

# --- alerts (0003): metric rules, their state, stuck episodes ------------------------------

alert_rules = Table(
    "alert_rules",
    metadata,
    *_rule_head(),
    Column("metric", String(16), nullable=False),  # latency | throughput | gpu | replicas
    Column("op", String(2), nullable=False),  # > >= < <=
    Column("value", Float, nullable=False),
    Column("for_seconds", Integer, nullable=False),
    _time("created_at", nullable=False),
    _time("removed_at", index=True),
    Column("removed_by", String(64)),
)

alert_state = Table(
    "alert_state",
    metadata,
    Column("rule_id", String(16), primary_key=True),
    Column("state", String(8), nullable=False),  # ok | firing
    # Number of the current (firing) or last episode; each fire moves it on by one, which is
    # what makes one fire and one resolve per episode.
    Column("episode", Integer, nullable=False),
    _time("since"),  # when the breach began (firing)
    _time("fired_at"),
    _time("resolved_at"),
    _time("snoozed_until"),
    Column("snoozed_by", String(64)),
    Column("last_value", Float),
    _time("evaluated_at"),
)

stuck_episodes = Table(
    "stuck_episodes",
    metadata,
    # One "stuck" reply per workload, phase and the time it entered that phase.
    Column("workload_id", String(64), primary_key=True),
    Column("phase", String(32), primary_key=True),
    _time("phase_since", primary_key=True),
    Column("claimed_by", String(128), nullable=False),
    _time("claimed_at", nullable=False),
)

# --- approvals and the App Home (0004) -----------------------------------------------------

approvals = Table(
    "approvals",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("channel", String(64), nullable=False),
    Column("requester", String(64), nullable=False),
    Column("action", String(16), nullable=False),  # create | update | scale | rollback
    Column("workload_id", String(64), index=True),
    Column("workload_name", Text),
    Column("project", Text),
    # What to perform on approval, without secret values (bot/watch/approval_store.py).
    Column("request", JSON, nullable=False),
    # What exceeds the threshold, in words.
    Column("summary", Text, nullable=False),
    Column("state", String(16), nullable=False, index=True),  # an `ApprovalState`
    _time("created_at", nullable=False),
    _time("expires_at", nullable=False, index=True),
    Column("decided_by", String(64)),
    _time("decided_at"),
    Column("reason", Text),
    Column("message_channel", String(64)),
    Column("message_ts", String(32)),
    # After approval: when the action was performed and how it went (ok | failed | denied).
    _time("performed_at"),
    Column("outcome", String(16)),
)

home_users = Table(
    "home_users",
    metadata,
    Column("user_id", String(64), primary_key=True),
    _time("last_opened_at", nullable=False, index=True),
    _time("last_published_at"),
    # A republish was asked for and not done yet (the 10 s pacing held it back).
    _time("wanted_at", index=True),
)
