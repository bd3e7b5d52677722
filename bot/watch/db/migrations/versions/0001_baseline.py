"""Baseline: the tables of the release before migrations (commit 9e7d0ad).

That release created its tables with `create_all` when it started (the audit table only
once the guard first wrote to it), so a database it used may hold all of them or only
some. This revision creates the ones that are missing and keeps the others, rows and all.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _watches() -> None:
    op.create_table(
        "watches",
        sa.Column("workload_id", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(64), primary_key=True),
        sa.Column("parent_ts", sa.String(32), nullable=False),
        sa.Column("name", sa.Text()),
        sa.Column("project", sa.Text()),
        sa.Column("image", sa.Text()),
        sa.Column("replicas", sa.Text()),
        sa.Column("url", sa.Text()),
        sa.Column("last_phase", sa.String(32)),
        sa.Column("phase_message", sa.Text()),
        sa.Column("phase_updated_at", sa.DateTime(timezone=True)),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("workload_created_at", sa.DateTime(timezone=True)),
        sa.Column("ready_announced", sa.Boolean(), nullable=False),
        sa.Column("pending_action", sa.String(16)),
        sa.Column("pending_user", sa.String(64)),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_watches_last_phase", "watches", ["last_phase"])
    op.create_index("ix_watches_active", "watches", ["active"])
    op.create_index("ix_watches_version", "watches", ["version"])


def _outbox() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("workload_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("reply_ts", sa.String(32)),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text()),
    )
    op.create_index("ix_outbox_state", "outbox", ["state"])


def _leases() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
    )


def _audit_events() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("channel_id", sa.String(64)),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("workload_id", sa.String(64)),
        sa.Column("workload_name", sa.String(128)),
        sa.Column("project", sa.String(128)),
        sa.Column("project_id", sa.String(64)),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(255)),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_workload_id", "audit_events", ["workload_id"])
    op.create_index("ix_audit_events_workload_name", "audit_events", ["workload_name"])


TABLES: dict[str, Callable[[], None]] = {
    "watches": _watches,
    "outbox": _outbox,
    "leases": _leases,
    "audit_events": _audit_events,
}


def upgrade() -> None:
    """Create the tables of the previous release that the database lacks."""
    schema = op.get_context().version_table_schema
    existing = set(sa.inspect(op.get_bind()).get_table_names(schema=schema))
    for name, create in TABLES.items():
        if name not in existing:
            create()


def downgrade() -> None:
    """Drop every table (the database is empty again)."""
    for name in reversed(TABLES):
        op.drop_table(name)
