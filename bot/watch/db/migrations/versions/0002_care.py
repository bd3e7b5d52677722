"""Care: schedules and their fires, idle episodes, daily digests.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the care tables."""
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("workload_id", sa.String(64), nullable=False),
        sa.Column("workload_name", sa.Text()),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("cron", sa.String(128), nullable=False),
        sa.Column("tz", sa.String(64), nullable=False),
        sa.Column("min_replicas", sa.Integer(), nullable=False),
        sa.Column("max_replicas", sa.Integer()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("ended_reason", sa.String(32)),
        sa.Column("ended_by", sa.String(64)),
    )
    op.create_index("ix_schedules_workload_id", "schedules", ["workload_id"])
    op.create_index("ix_schedules_channel", "schedules", ["channel"])
    op.create_index("ix_schedules_ended_at", "schedules", ["ended_at"])
    op.create_table(
        "schedule_fires",
        sa.Column("schedule_id", sa.String(16), primary_key=True),
        sa.Column("fire_at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("claimed_by", sa.String(128), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(16)),
        sa.Column("detail", sa.Text()),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "idle_episodes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("workload_id", sa.String(64), nullable=False),
        sa.Column("workload_name", sa.Text()),
        sa.Column("idle_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("nudged_at", sa.DateTime(timezone=True)),
        sa.Column("kept_until", sa.DateTime(timezone=True)),
        sa.Column("kept_by", sa.String(64)),
        sa.Column("auto_action", sa.String(32)),
        sa.Column("auto_action_due_at", sa.DateTime(timezone=True)),
        sa.Column("auto_action_done_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("ended_reason", sa.String(32)),
    )
    op.create_index(
        "uq_idle_episodes_open",
        "idle_episodes",
        ["workload_id"],
        unique=True,
        sqlite_where=sa.text("ended_at IS NULL"),
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_index("ix_idle_episodes_workload_id", "idle_episodes", ["workload_id"])
    op.create_table(
        "digests",
        sa.Column("channel", sa.String(64), primary_key=True),
        sa.Column("at_time", sa.String(5), nullable=False),
        sa.Column("tz", sa.String(64), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "digest_posts",
        sa.Column("channel", sa.String(64), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("claimed_by", sa.String(128), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop the care tables."""
    for table in ("digest_posts", "digests", "idle_episodes", "schedule_fires", "schedules"):
        op.drop_table(table)
