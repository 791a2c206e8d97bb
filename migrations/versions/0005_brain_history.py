"""Brain history: version tags, and when retention collected a version's snapshot.

Revision ID: 0005_brain_history
Revises: 0004_token_brains_damage
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Revision identifiers, used by Alembic.
revision: str = "0005_brain_history"
down_revision: str | Sequence[str] | None = "0004_token_brains_damage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "brain_version_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brain_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brain_id"],
            ["brains.id"],
            name=op.f("fk_brain_version_tags_brain_id_brains"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brain_version_tags")),
        sa.UniqueConstraint("brain_id", "tag", name=op.f("uq_brain_version_tags_brain_id_tag")),
    )
    with op.batch_alter_table("brain_version_tags", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_brain_version_tags_brain_id"), ["brain_id"], unique=False
        )
    with op.batch_alter_table("brain_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("collected_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("brain_versions", schema=None) as batch_op:
        batch_op.drop_column("collected_at")
    with op.batch_alter_table("brain_version_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_brain_version_tags_brain_id"))
    op.drop_table("brain_version_tags")
