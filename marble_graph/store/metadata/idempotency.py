"""Stored responses of POST requests sent with an ``Idempotency-Key`` header.

A client that retries a POST after a lost response sends the same key; the
server answers from this table instead of doing the work twice. Rows are
scoped by the sha256 of the caller's token, so two callers never see each
other's responses, and expire after a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from marble_graph.store.metadata.database import MetadataStore
from marble_graph.store.metadata.models import Base, utcnow

KEY_TTL = timedelta(hours=24)


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


@dataclass(frozen=True)
class StoredResponse:
    """The answer a keyed request got, replayed to its retries."""

    status_code: int
    content_type: str | None
    body: bytes


@dataclass(frozen=True)
class Claim:
    """Outcome of claiming a key: run the request, replay an answer, or refuse."""

    record_id: int | None = None
    replay: StoredResponse | None = None
    refusal: tuple[int, str, str] | None = None  # status, problem slug, detail
    retry_after_s: int | None = None


class IdempotencyKeyStore:
    """The ``idempotency_keys`` table: claim a key, then keep or release its answer."""

    def __init__(self, metadata: MetadataStore) -> None:
        self.metadata = metadata

    def claim(self, token_hash: str, key: str, method: str, path: str, request_hash: str) -> Claim:
        """Claim ``key`` for this request, or say how its earlier use answers it."""
        now = datetime.now(UTC)
        with self.metadata.session() as session:
            session.execute(
                sa.delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - KEY_TTL)
            )
        try:
            with self.metadata.session() as session:
                record = IdempotencyRecord(
                    token_hash=token_hash,
                    key=key,
                    method=method,
                    path=path,
                    request_hash=request_hash,
                )
                session.add(record)
                session.flush()
                return Claim(record_id=record.id)
        except IntegrityError:
            pass  # the key is taken: this is a retry (or a clash)
        with self.metadata.session() as session:
            existing = session.scalars(
                sa.select(IdempotencyRecord).where(
                    IdempotencyRecord.token_hash == token_hash, IdempotencyRecord.key == key
                )
            ).one()
            session.expunge(existing)
        if existing.request_hash != request_hash:
            return Claim(
                refusal=(
                    422,
                    "validation-failed",
                    f"Idempotency-Key {key!r} was used for a different request "
                    f"({existing.method} {existing.path} with another body); use a new key",
                )
            )
        if existing.status_code is None:
            return Claim(
                refusal=(
                    409,
                    "conflict",
                    f"the request with Idempotency-Key {key!r} is still running",
                ),
                retry_after_s=1,
            )
        return Claim(
            replay=StoredResponse(
                existing.status_code, existing.content_type, existing.response_body or b""
            )
        )

    def finish(
        self,
        record_id: int | None,
        keep: bool,
        status: int,
        content_type: str | None,
        body: bytes,
    ) -> None:
        """Store the answer (``keep``), or release the key so a retry runs again."""
        with self.metadata.session() as session:
            record = session.get(IdempotencyRecord, record_id)
            if record is None:
                return
            if not keep:
                session.delete(record)
                return
            record.status_code, record.content_type = status, content_type
            record.response_body = body
