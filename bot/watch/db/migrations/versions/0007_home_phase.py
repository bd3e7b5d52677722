"""Watches: the phase the App Homes were last asked to show, so a new lease holder
republishes only the Homes whose endpoints moved, not every recent Home (NULL for older
rows: each recent Home is republished once after the upgrade).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _schema() -> str | None:
    # As in 0005: ALTER TABLE names the store's schema itself.
    return op.get_context().version_table_schema


def upgrade() -> None:
    """Add `home_phase` to `watches`."""
    with op.batch_alter_table("watches", schema=_schema()) as batch:
        batch.add_column(sa.Column("home_phase", sa.String(32)))


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table("watches", schema=_schema()) as batch:
        batch.drop_column("home_phase")
