"""``Idempotency-Key`` on POST: a retried request gets the first answer, not a second effect.

The first POST with a key claims it (a row with no response yet), runs, and
stores its response; a retry with the same key and the same body gets that
response again, marked ``Idempotency-Replayed: true``. The same key with a
different method, path or body is a client error (422); a retry while the
first is still running gets 409. Server errors (5xx) release the key, so a
retry runs the request again. Keys are scoped to the caller's token and kept
for ``KEY_TTL``.

Dataset uploads (``POST /datasets/{name}``) and diffs to apply (``.../apply``) pass
through unkeyed: their body is a file, and sending the same rows (or the same diff
onto the same version) again records nothing new while its result is the latest.
"""

from __future__ import annotations

import hashlib

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marble_graph.service import IdempotencyKeyStore, StoredResponse
from marble_server.limits import is_dataset_upload
from marble_server.problems import problem_response

HEADER = b"idempotency-key"
REPLAYED = "Idempotency-Replayed"
MAX_KEY_LENGTH = 255
# Answers that say nothing about the work: the retry should be checked afresh.
NOT_STORED = {401, 403, 413, 503}


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
        if is_dataset_upload(scope):
            # An upload's body is a file of up to max_upload_bytes, which a key would hold in
            # memory; and it needs no key: the same rows again record nothing new (200).
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
        keys: IdempotencyKeyStore = state.service.idempotency_keys
        claim = await anyio.to_thread.run_sync(
            keys.claim, token_hash, key, scope["method"], scope["path"], request_hash
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
        await self._run_and_store(scope, body, send, keys, claim.record_id)

    async def _run_and_store(
        self,
        scope: Scope,
        body: bytes,
        send: Send,
        keys: IdempotencyKeyStore,
        record_id: int | None,
    ) -> None:
        status, content_type = 500, None
        chunks: list[bytes] = []
        delivered = stored = False

        async def store() -> None:
            nonlocal stored
            stored = True
            keep = status < 500 and status not in NOT_STORED
            await anyio.to_thread.run_sync(
                keys.finish,
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


async def _replay(record: StoredResponse, send: Send) -> None:
    headers = [(REPLAYED.lower().encode(), b"true")]
    if record.content_type:
        headers.append((b"content-type", record.content_type.encode("latin-1")))
    body = record.body
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": record.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
