"""The tables of the bot's database: the watch room's and the audit trail's. Their shape in
a database is owned by the migrations (`bot/watch/db/migrations/`); these definitions are
what the queries are written against, and a test holds the two equal."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
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
