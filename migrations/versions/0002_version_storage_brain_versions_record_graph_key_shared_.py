"""Brain versions record their graph key, shared-parameter blob and training run.

Revision ID: 0002_version_storage
Revises: 0001_initial
Create Date: 2026-11-27 14:02:52.244423
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Revision identifiers, used by Alembic.
revision: str = "0002_version_storage"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("brain_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("graph_key", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("params_blob", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("run_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_brain_versions_run_id_training_runs"),
            "training_runs",
            ["run_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("brain_versions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_brain_versions_run_id_training_runs"), type_="foreignkey"
        )
        batch_op.drop_column("run_id")
        batch_op.drop_column("params_blob")
        batch_op.drop_column("graph_key")
