"""Outbox: a dedupe key (unique, NULL for older rows and for transitions) so a caller can
post a thread reply once, and a broadcast flag (false for older rows).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _schema() -> str | None:
    # ALTER TABLE is rendered by Alembic, outside the connection's schema translation:
    # name the store's schema (None on SQLite and in PostgreSQL's default schema).
    return op.get_context().version_table_schema


def upgrade() -> None:
    """Add `dedupe_key` (unique index: NULLs may repeat) and `broadcast` to `outbox`."""
    with op.batch_alter_table("outbox", schema=_schema()) as batch:
        batch.add_column(sa.Column("dedupe_key", sa.String(191)))
        batch.add_column(
            sa.Column("broadcast", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # A unique index, not a constraint: SQLite can add it without copying the table.
    op.create_index("ix_outbox_dedupe_key", "outbox", ["dedupe_key"], unique=True, schema=_schema())


def downgrade() -> None:
    """Drop the two columns."""
    op.drop_index("ix_outbox_dedupe_key", table_name="outbox", schema=_schema())
    with op.batch_alter_table("outbox", schema=_schema()) as batch:
        batch.drop_column("broadcast")
        batch.drop_column("dedupe_key")
