"""Approvals and the App Home: approval requests, and who opened their Home when.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create `approvals` and `home_users`."""
    op.create_table(
        "approvals",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("requester", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("workload_id", sa.String(64)),
        sa.Column("workload_name", sa.Text()),
        sa.Column("project", sa.Text()),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("reason", sa.Text()),
        sa.Column("message_channel", sa.String(64)),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("performed_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(16)),
    )
    op.create_index("ix_approvals_workload_id", "approvals", ["workload_id"])
    op.create_index("ix_approvals_state", "approvals", ["state"])
    op.create_index("ix_approvals_expires_at", "approvals", ["expires_at"])
    op.create_table(
        "home_users",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("last_opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_published_at", sa.DateTime(timezone=True)),
        sa.Column("wanted_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_home_users_last_opened_at", "home_users", ["last_opened_at"])
    op.create_index("ix_home_users_wanted_at", "home_users", ["wanted_at"])


def downgrade() -> None:
    """Drop `home_users` and `approvals`."""
    op.drop_table("home_users")
    op.drop_table("approvals")
