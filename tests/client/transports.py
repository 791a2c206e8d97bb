"""Transports that wrap a real one (sync or async): record every exchange, lose answers.

Each works for both clients, so the same fault reaches the sync and the async client.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx


@dataclass
class Exchange:
    method: str
    path: str
    idempotency_key: str | None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Recording(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Forwards to ``inner``; keeps each request and the answer's status and headers.

    ``lose_answers`` answers are lost after the server handled them: what a client sees
    when a connection drops between the server's work and its reply.
    """

    def __init__(
        self, inner: httpx.BaseTransport | httpx.AsyncBaseTransport, lose_answers: int = 0
    ) -> None:
        self.inner = inner
        self.lose_answers = lose_answers
        self.exchanges: list[Exchange] = []

    def _record(self, request: httpx.Request) -> Exchange:
        exchange = Exchange(
            request.method, request.url.path, request.headers.get("Idempotency-Key")
        )
        self.exchanges.append(exchange)
        return exchange

    def _answer(self, exchange: Exchange, response: httpx.Response) -> None:
        exchange.status = response.status_code
        exchange.headers = dict(response.headers)

    def _lose(self, request: httpx.Request) -> bool:
        if self.lose_answers <= 0:
            return False
        self.lose_answers -= 1
        return True

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(self.inner, httpx.BaseTransport)
        exchange = self._record(request)
        response = self.inner.handle_request(request)
        self._answer(exchange, response)
        if self._lose(request):
            response.read()
            response.close()
            raise httpx.ReadError("connection lost before the answer arrived", request=request)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(self.inner, httpx.AsyncBaseTransport)
        exchange = self._record(request)
        response = await self.inner.handle_async_request(request)
        self._answer(exchange, response)
        if self._lose(request):
            await response.aread()
            await response.aclose()
            raise httpx.ReadError("connection lost before the answer arrived", request=request)
        return response

    def close(self) -> None:
        if isinstance(self.inner, httpx.BaseTransport):
            self.inner.close()

    async def aclose(self) -> None:
        if isinstance(self.inner, httpx.AsyncBaseTransport):
            await self.inner.aclose()
