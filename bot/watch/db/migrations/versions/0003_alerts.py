"""Alerts and quieter threads: alert rules and their state, stuck episodes; on `watches`,
the phases a thread follows, a mute, and the flapping state.

The new `watches` columns are all nullable: the watches of earlier releases keep every
value and follow every phase, unmuted, not flapping.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WATCH_COLUMNS = (
    "only_phases",
    "muted_until",
    "recent_changes",
    "flapping_since",
    "flap_summary_at",
)


def _schema() -> str | None:
    # ALTER TABLE is rendered by Alembic, outside the connection's schema translation:
    # name the store's schema (None on SQLite and in PostgreSQL's default schema).
    return op.get_context().version_table_schema


def upgrade() -> None:
    """Create the alert tables and add the quiet-thread columns to `watches`."""
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("workload_id", sa.String(64), nullable=False),
        sa.Column("workload_name", sa.Text()),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("metric", sa.String(16), nullable=False),
        sa.Column("op", sa.String(2), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("for_seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True)),
        sa.Column("removed_by", sa.String(64)),
    )
    op.create_index("ix_alert_rules_workload_id", "alert_rules", ["workload_id"])
    op.create_index("ix_alert_rules_channel", "alert_rules", ["channel"])
    op.create_index("ix_alert_rules_removed_at", "alert_rules", ["removed_at"])
    op.create_table(
        "alert_state",
        sa.Column("rule_id", sa.String(16), primary_key=True),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True)),
        sa.Column("fired_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("snoozed_until", sa.DateTime(timezone=True)),
        sa.Column("snoozed_by", sa.String(64)),
        sa.Column("last_value", sa.Float()),
        sa.Column("evaluated_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "stuck_episodes",
        sa.Column("workload_id", sa.String(64), primary_key=True),
        sa.Column("phase", sa.String(32), primary_key=True),
        sa.Column("phase_since", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("claimed_by", sa.String(128), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )
    # Plain ADD COLUMN on both databases (SQLite needs no table copy for nullable columns).
    with op.batch_alter_table("watches", schema=_schema()) as batch:
        batch.add_column(sa.Column("only_phases", sa.Text()))
        batch.add_column(sa.Column("muted_until", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("recent_changes", sa.JSON()))
        batch.add_column(sa.Column("flapping_since", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("flap_summary_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    """Drop the alert tables and the quiet-thread columns."""
    with op.batch_alter_table("watches", schema=_schema()) as batch:
        for column in reversed(WATCH_COLUMNS):
            batch.drop_column(column)
    for table in ("stuck_episodes", "alert_state", "alert_rules"):
        op.drop_table(table)
