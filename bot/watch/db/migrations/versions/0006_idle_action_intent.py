"""Idle episodes: the automatic action's intent and outcome, so a scale to zero started by
a leader that died is finished by the next one (NULL for older rows: an action done by an
older release has a done time and no outcome).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _schema() -> str | None:
    # As in 0005: ALTER TABLE names the store's schema itself.
    return op.get_context().version_table_schema


def upgrade() -> None:
    """Add `auto_action_started_at` and `auto_action_outcome` to `idle_episodes`."""
    with op.batch_alter_table("idle_episodes", schema=_schema()) as batch:
        batch.add_column(sa.Column("auto_action_started_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("auto_action_outcome", sa.String(16)))


def downgrade() -> None:
    """Drop the two columns."""
    with op.batch_alter_table("idle_episodes", schema=_schema()) as batch:
        batch.drop_column("auto_action_outcome")
        batch.drop_column("auto_action_started_at")
