"""Dataset versions keep their rows, encoding and parent; dataset tags.

Revision ID: 0006_dataset_history
Revises: 0005_brain_history
Create Date: 2026-12-02 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Revision identifiers, used by Alembic.
revision: str = "0006_dataset_history"
down_revision: str | Sequence[str] | None = "0005_brain_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rows_blob", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("encoding", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("note", sa.String(length=512), nullable=True))
        batch_op.create_foreign_key(
            "fk_dataset_versions_parent_id",
            "dataset_versions",
            ["parent_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "dataset_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["version_id"], ["dataset_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "tag"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("dataset_tags")
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.drop_constraint("fk_dataset_versions_parent_id", type_="foreignkey")
        batch_op.drop_column("note")
        batch_op.drop_column("parent_id")
        batch_op.drop_column("encoding")
        batch_op.drop_column("rows_blob")
