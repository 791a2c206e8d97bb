"""``Idempotency-Key`` on POST: a retried request gets the first answer, not a second effect.

The first POST with a key claims it (a row with no response yet), runs, and
stores its response; a retry with the same key and the same body gets that
response again, marked ``Idempotency-Replayed: true``. The same key with a
different method, path or body is a client error (422); a retry while the
first is still running gets 409. Server errors (5xx) release the key, so a
retry runs the request again. Keys are scoped to the caller's token and kept
for ``KEY_TTL``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio.to_thread
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marble_graph.store.metadata import IdempotencyRecord, MetadataStore
from marble_server.problems import problem_response

HEADER = b"idempotency-key"
REPLAYED = "Idempotency-Replayed"
KEY_TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
# Answers that say nothing about the work: the retry should be checked afresh.
NOT_STORED = {401, 403, 413, 503}


@dataclass(frozen=True)
class _Claim:
    """Outcome of claiming a key: run the request, replay an answer, or refuse."""

    record_id: int | None = None
    replay: IdempotencyRecord | None = None
    refusal: tuple[int, str, str] | None = None  # status, problem slug, detail
    retry_after_s: int | None = None


class IdempotencyKeys:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        raw_key = headers.get(HEADER)
        state = getattr(scope["app"].state, "marble", None) if "app" in scope else None
        if scope["type"] != "http" or scope["method"] != "POST" or raw_key is None or not state:
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1").strip()
        if not 0 < len(key) <= MAX_KEY_LENGTH:
            response = problem_response(
                422,
                "validation-failed",
                f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} characters, got {len(key)}",
                scope["path"],
            )
            await response(scope, receive, send)
            return
        body = await _read_body(receive)
        token = headers.get(b"authorization", b"").decode("latin-1")
        token_hash = hashlib.sha256(token.encode()).hexdigest()
        request_hash = hashlib.sha256(
            scope["method"].encode() + b" " + scope["path"].encode() + b"\n" + body
        ).hexdigest()
        metadata: MetadataStore = state.service.metadata
        claim = await anyio.to_thread.run_sync(
            _claim, metadata, token_hash, key, scope["method"], scope["path"], request_hash
        )
        if claim.refusal is not None:
            status, slug, detail = claim.refusal
            retry = {"Retry-After": str(claim.retry_after_s)} if claim.retry_after_s else None
            response = problem_response(status, slug, detail, scope["path"], retry)
            await response(scope, receive, send)
            return
        if claim.replay is not None:
            await _replay(claim.replay, send)
            return
        await self._run_and_store(scope, body, send, metadata, claim.record_id)

    async def _run_and_store(
        self, scope: Scope, body: bytes, send: Send, metadata: MetadataStore, record_id: int | None
    ) -> None:
        status, content_type = 500, None
        chunks: list[bytes] = []
        delivered = stored = False

        async def store() -> None:
            nonlocal stored
            stored = True
            keep = status < 500 and status not in NOT_STORED
            await anyio.to_thread.run_sync(
                _finish,
                metadata,
                record_id,
                keep,
                status,
                content_type.decode("latin-1") if content_type else None,
                b"".join(chunks),
            )

        async def replay_body() -> Message:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = int(message["status"])
                content_type = dict(message.get("headers") or []).get(b"content-type")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    # Stored before the client sees the end of the answer, so a retry
                    # sent the moment it arrives finds it (and is not told "running").
                    await store()
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        finally:
            if not stored:
                await store()


async def _read_body(receive: Receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)


def _claim(
    metadata: MetadataStore, token_hash: str, key: str, method: str, path: str, request_hash: str
) -> _Claim:
    now = datetime.now(UTC)
    with metadata.session() as session:
        session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - KEY_TTL)
        )
    try:
        with metadata.session() as session:
            record = IdempotencyRecord(
                token_hash=token_hash, key=key, method=method, path=path, request_hash=request_hash
            )
            session.add(record)
            session.flush()
            return _Claim(record_id=record.id)
    except IntegrityError:
        pass  # the key is taken: this is a retry (or a clash)
    with metadata.session() as session:
        existing = session.scalars(
            select(IdempotencyRecord).where(
                IdempotencyRecord.token_hash == token_hash, IdempotencyRecord.key == key
            )
        ).one()
        session.expunge(existing)
    if existing.request_hash != request_hash:
        return _Claim(
            refusal=(
                422,
                "validation-failed",
                f"Idempotency-Key {key!r} was used for a different request "
                f"({existing.method} {existing.path} with another body); use a new key",
            )
        )
    if existing.status_code is None:
        return _Claim(
            refusal=(409, "conflict", f"the request with Idempotency-Key {key!r} is still running"),
            retry_after_s=1,
        )
    return _Claim(replay=existing)


def _finish(
    metadata: MetadataStore,
    record_id: int | None,
    keep: bool,
    status: int,
    content_type: str | None,
    body: bytes,
) -> None:
    with metadata.session() as session:
        record = session.get(IdempotencyRecord, record_id)
        if record is None:
            return
        if not keep:
            session.delete(record)  # release the key: a retry runs the request again
            return
        record.status_code, record.content_type, record.response_body = status, content_type, body


async def _replay(record: IdempotencyRecord, send: Send) -> None:
    headers = [(REPLAYED.lower().encode(), b"true")]
    if record.content_type:
        headers.append((b"content-type", record.content_type.encode("latin-1")))
    body = record.response_body or b""
    headers.append((b"content-length", str(len(body)).encode()))
    assert record.status_code is not None
    await send({"type": "http.response.start", "status": record.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
