"""Request body size limits, enforced before a route reads the body.

Every body is bounded by ``max_body_bytes``, except a dataset upload
(``POST /datasets/{name}``) or a diff to apply (``POST /datasets/{name}/apply``),
which is bounded by ``max_upload_bytes``. A
declared ``Content-Length`` over the limit is refused at once. A chunked
body is counted as it streams and cut off when it passes the limit: by this
middleware for ordinary bodies, and by the upload route itself, which counts
the bytes as it spools them to a temporary file. Either way the client gets
413 problem+json naming the limit.
"""

from __future__ import annotations

import re

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marble_server.problems import Problem, problem_response

# The paths that take a file as their body: POST /datasets/{name} and .../apply.
_UPLOAD_PATH = re.compile(r"^/datasets/[^/]+(?:/apply)?$")


def is_dataset_upload(scope: Scope) -> bool:
    """Whether a request is a dataset upload or a diff to apply (its body is a file)."""
    return (
        scope["type"] == "http"
        and scope.get("method") == "POST"
        and _UPLOAD_PATH.match(scope.get("path", "")) is not None
    )


class BodyTooLarge(HTTPException):
    """Raised while the body streams in; FastAPI re-raises HTTPExceptions as they are."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(413, _message(size, limit))


class UploadTooLarge(Problem):
    """413 for a dataset upload past ``max_upload_bytes``."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(413, "payload-too-large", _upload_message(size, limit), limit=limit)


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        size = int(declared) if declared is not None and declared.isdigit() else None
        if is_dataset_upload(scope):
            # The route counts a streamed upload as it spools it (see the module doc).
            if size is not None and size > self.max_upload_bytes:
                await _refuse(scope, receive, send, _upload_message(size, self.max_upload_bytes))
                return
            await self.app(scope, receive, send)
            return
        if size is not None and size > self.max_body_bytes:
            await _refuse(scope, receive, send, _message(size, self.max_body_bytes))
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise BodyTooLarge(seen, self.max_body_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracking_send)
        except BodyTooLarge:
            if not started:
                await _refuse(scope, receive, send, _message(seen, self.max_body_bytes))


async def _refuse(scope: Scope, receive: Receive, send: Send, detail: str) -> None:
    response = problem_response(413, "payload-too-large", detail, scope.get("path"))
    await response(scope, receive, send)


def _message(size: int, limit: int) -> str:
    return f"request body of {size}+ bytes exceeds the limit of {limit} bytes (max_body_bytes)"


def _upload_message(size: int, limit: int) -> str:
    return f"upload of {size}+ bytes exceeds the limit of {limit} bytes (max_upload_bytes)"
