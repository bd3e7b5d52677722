"""The tables of the bot's database: the watch room's and the audit trail's. Their shape in
a database is owned by the migrations (`bot/watch/db/migrations/`); these definitions are
what the queries are written against, and a test holds the two equal."""

from __future__ import annotations

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
    Column("phase_updated_at", DateTime(timezone=True)),
    Column("reason", String(16), nullable=False),
    Column("created_by", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("workload_created_at", DateTime(timezone=True)),
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
    Column("muted_until", DateTime(timezone=True)),
    # Flapping: recent phase-change times (JSON list of ISO strings, newest last), the
    # start of the current flapping spell and when its one summary was claimed.
    Column("recent_changes", JSON),
    Column("flapping_since", DateTime(timezone=True)),
    Column("flap_summary_at", DateTime(timezone=True)),
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
    Column("created_at", DateTime(timezone=True), nullable=False),
    # An `OutboxState` (bot/watch/outbox.py).
    Column("state", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("claimed_by", String(128)),
    Column("reply_ts", String(32)),
    Column("delivered_at", DateTime(timezone=True)),
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
    Column("at", DateTime(timezone=True), nullable=False, index=True),
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
    # Short id people type in `unschedule <id>`.
    Column("id", String(16), primary_key=True),
    Column("workload_id", String(64), nullable=False, index=True),
    Column("workload_name", Text),
    Column("channel", String(64), nullable=False, index=True),
    Column("author", String(64), nullable=False),
    Column("cron", String(128), nullable=False),
    Column("tz", String(64), nullable=False),
    Column("min_replicas", Integer, nullable=False),
    Column("max_replicas", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), index=True),
    # removed | workload-deleted | right-revoked | …
    Column("ended_reason", String(32)),
    Column("ended_by", String(64)),
)

schedule_fires = Table(
    "schedule_fires",
    metadata,
    # The key that makes a fire happen once: (schedule, scheduled time in UTC).
    Column("schedule_id", String(16), primary_key=True),
    Column("fire_at", DateTime(timezone=True), primary_key=True),
    Column("claimed_by", String(128), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    # NULL while being applied; then a `FireOutcome`.
    Column("outcome", String(16)),
    Column("detail", Text),
    Column("finished_at", DateTime(timezone=True)),
)

idle_episodes = Table(
    "idle_episodes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workload_id", String(64), nullable=False),
    Column("workload_name", Text),
    Column("idle_since", DateTime(timezone=True), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("nudged_at", DateTime(timezone=True)),
    Column("kept_until", DateTime(timezone=True)),
    Column("kept_by", String(64)),
    Column("auto_action", String(32)),
    Column("auto_action_due_at", DateTime(timezone=True)),
    Column("auto_action_done_at", DateTime(timezone=True)),
    # Set when the workload served traffic again (or went away): the next idle spell is a
    # new episode.
    Column("ended_at", DateTime(timezone=True)),
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
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

digest_posts = Table(
    "digest_posts",
    metadata,
    # One daily digest per channel and local day.
    Column("channel", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("claimed_by", String(128), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
)

# --- alerts (0003): metric rules, their state, stuck episodes ------------------------------

alert_rules = Table(
    "alert_rules",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("workload_id", String(64), nullable=False, index=True),
    Column("workload_name", Text),
    Column("channel", String(64), nullable=False, index=True),
    Column("author", String(64), nullable=False),
    Column("metric", String(16), nullable=False),  # latency | throughput | gpu | replicas
    Column("op", String(2), nullable=False),  # > >= < <=
    Column("value", Float, nullable=False),
    Column("for_seconds", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("removed_at", DateTime(timezone=True), index=True),
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
    Column("since", DateTime(timezone=True)),  # when the breach began (firing)
    Column("fired_at", DateTime(timezone=True)),
    Column("resolved_at", DateTime(timezone=True)),
    Column("snoozed_until", DateTime(timezone=True)),
    Column("snoozed_by", String(64)),
    Column("last_value", Float),
    Column("evaluated_at", DateTime(timezone=True)),
)

stuck_episodes = Table(
    "stuck_episodes",
    metadata,
    # One "stuck" reply per workload, phase and the time it entered that phase.
    Column("workload_id", String(64), primary_key=True),
    Column("phase", String(32), primary_key=True),
    Column("phase_since", DateTime(timezone=True), primary_key=True),
    Column("claimed_by", String(128), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
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
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    Column("decided_by", String(64)),
    Column("decided_at", DateTime(timezone=True)),
    Column("reason", Text),
    Column("message_channel", String(64)),
    Column("message_ts", String(32)),
    # After approval: when the action was performed and how it went (ok | failed | denied).
    Column("performed_at", DateTime(timezone=True)),
    Column("outcome", String(16)),
)

home_users = Table(
    "home_users",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("last_opened_at", DateTime(timezone=True), nullable=False, index=True),
    Column("last_published_at", DateTime(timezone=True)),
    # A republish was asked for and not done yet (the 10 s pacing held it back).
    Column("wanted_at", DateTime(timezone=True), index=True),
)
