"""Request body size limit, enforced before a route reads the body.

A declared ``Content-Length`` over the limit is refused at once; a chunked
body is counted as it streams and cut off when it passes the limit. Either
way the client gets 413 problem+json naming the limit.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marble_server.problems import problem_response


class BodyTooLarge(HTTPException):
    """Raised while the body streams in; FastAPI re-raises HTTPExceptions as they are."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(413, _message(size, limit))


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._refuse(scope, receive, send, int(declared))
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
                await self._refuse(scope, receive, send, seen)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: int) -> None:
        response = problem_response(
            413,
            "payload-too-large",
            _message(size, self.max_body_bytes),
            scope.get("path"),
        )
        await response(scope, receive, send)


def _message(size: int, limit: int) -> str:
    return f"request body of {size}+ bytes exceeds the limit of {limit} bytes (max_body_bytes)"
