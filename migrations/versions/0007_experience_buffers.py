"""Brain versions keep their experience buffers (dream replay) as a blob.

Revision ID: 0007_experience_buffers
Revises: 0006_dataset_history
Create Date: 2026-12-03 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Revision identifiers, used by Alembic.
revision: str = "0007_experience_buffers"
down_revision: str | Sequence[str] | None = "0006_dataset_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("brain_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("experience_blob", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("brain_versions", schema=None) as batch_op:
        batch_op.drop_column("experience_blob")
