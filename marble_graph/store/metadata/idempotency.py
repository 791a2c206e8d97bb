"""Stored responses of POST requests sent with an ``Idempotency-Key`` header.

A client that retries a POST after a lost response sends the same key; the
server answers from this table instead of doing the work twice. Rows are
scoped by the sha256 of the caller's token, so two callers never see each
other's responses, and expire after a day.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marble_graph.store.metadata.models import Base, utcnow


class IdempotencyRecord(Base):
    """One keyed POST: in progress while ``status_code`` is NULL, then its response."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("token_hash", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64))
    key: Mapped[str] = mapped_column(sa.String(255))
    method: Mapped[str] = mapped_column(sa.String(8))
    path: Mapped[str] = mapped_column(sa.String(1024))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int | None]
    content_type: Mapped[str | None] = mapped_column(sa.String(128))
    response_body: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
