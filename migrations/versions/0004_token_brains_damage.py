"""Tokens limited to named brains; a brain's damage record; version snapshots.

Revision ID: 0004_token_brains_damage
Revises: 0003_idempotency_keys
Create Date: 2026-12-01 12:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Revision identifiers, used by Alembic.
revision: str = "0004_token_brains_damage"
down_revision: str | Sequence[str] | None = "0003_idempotency_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("brains", sa.JSON(), nullable=True))
    with op.batch_alter_table("brains", schema=None) as batch_op:
        batch_op.add_column(sa.Column("damage", sa.Text(), nullable=True))
    with op.batch_alter_table("brain_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("snapshot_blob", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("brain_versions", schema=None) as batch_op:
        batch_op.drop_column("snapshot_blob")
    with op.batch_alter_table("brains", schema=None) as batch_op:
        batch_op.drop_column("damage")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("brains")
