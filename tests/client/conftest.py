"""Fixtures for the client SDK: every contract test runs through each client over each server.

``marble`` is one parametrized fixture: the sync and the async client, each over the
app in process (starlette's ``TestClient`` transport for sync, ``httpx.ASGITransport``
for async) and over a real ``marble serve`` on loopback. A test calls the client
through ``await marble(lambda c: c.brains.list())``: the async client's coroutine is
awaited, the sync client's call runs in a worker thread, so one test body proves
both clients, which mirror each other name for name.

Servers are shared by a test module (start-up costs seconds); tests name their own
brains (``brain``) and cancel the jobs they leave running.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import httpx
import pytest
from marble_client import AsyncMarbleClient, MarbleClient

from marble_graph.tokens import Scope, TokenStore
from marble_server import ServerSettings, create_app
from tests.e2e.conftest import serve_marble
from tests.server.conftest import SCOPES, running_app, server_config

CLIENT_KINDS = ("sync-inprocess", "async-inprocess", "sync-uvicorn", "async-uvicorn")
ANY_CLIENT = MarbleClient | AsyncMarbleClient


@dataclass
class Server:
    """Where a client under test sends requests, and a token per scope."""

    base_url: str
    tokens: dict[str, str]
    transport: Callable[[], httpx.BaseTransport | httpx.AsyncBaseTransport | None]


@dataclass
class Marble:
    """One client under test (``kind``: sync or async, in process or uvicorn)."""

    kind: str
    server: Server
    client: ANY_CLIENT
    _opened: list[ANY_CLIENT] = field(default_factory=list)

    @property
    def is_async(self) -> bool:
        return self.kind.startswith("async")

    async def __call__(self, call: Callable[[Any], Any]) -> Any:
        """``call(client)``, awaited for the async client, in a thread for the sync one."""
        return await self.run(call, self.client)

    async def run(self, call: Callable[[Any], Any], client: ANY_CLIENT) -> Any:
        if isinstance(client, AsyncMarbleClient):
            return await call(client)
        return await anyio.to_thread.run_sync(call, client)

    async def collect(self, iterable: Callable[[Any], Any]) -> list[Any]:
        """Every item of ``iterable(client)``: an iterator, or an async iterator."""
        if isinstance(self.client, AsyncMarbleClient):
            return [item async for item in iterable(self.client)]
        client = self.client
        return await anyio.to_thread.run_sync(lambda: list(iterable(client)))

    def base_transport(self) -> Any:
        """A transport to the server, for tests that wrap it (faults, recording)."""
        given = self.server.transport()
        if given is not None:
            return given
        return httpx.AsyncHTTPTransport() if self.is_async else httpx.HTTPTransport()

    def new_client(self, scope: str | None = "admin", **options: Any) -> ANY_CLIENT:
        """Another client of this kind on the same server (``scope=None``: no token)."""
        client = make_client(self.kind, self.server, scope, **options)
        self._opened.append(client)
        return client

    def recorded_sleep(self) -> tuple[Callable[[float], Any], list[float]]:
        """A ``sleep`` for this kind of client that records waits instead of sleeping."""
        return recorded_sleep(self.is_async)

    async def close(self) -> None:
        for client in self._opened:
            if isinstance(client, AsyncMarbleClient):
                await client.close()
            else:
                client.close()


def recorded_sleep(is_async: bool) -> tuple[Callable[[float], Any], list[float]]:
    """A ``sleep`` (a coroutine function for the async client) that only records its waits."""
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def async_sleep(seconds: float) -> None:
        waits.append(seconds)

    return (async_sleep if is_async else sleep), waits


def make_client(kind: str, server: Server, scope: str | None, **options: Any) -> ANY_CLIENT:
    options.setdefault("transport", server.transport())
    token = options.pop("token", server.tokens[scope] if scope else "")
    cls = AsyncMarbleClient if kind.startswith("async") else MarbleClient
    return cls(server.base_url, token, **options)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def inprocess_async(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    """The app on the tests' event loop, reached through ``httpx.ASGITransport``."""
    async with running_app(tmp_path_factory.mktemp("client-async") / "marble-data") as live:
        url = "http://marble.test"
        yield Server(url, dict(live.tokens), lambda: httpx.ASGITransport(live.app))


@pytest.fixture(scope="module")
def inprocess_sync(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app run synchronously by starlette's ``TestClient`` (its own event-loop thread)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette asks for httpx2; httpx works
        from starlette.testclient import TestClient
    home = tmp_path_factory.mktemp("client-sync") / "marble-data"
    app = create_app(ServerSettings(home=home), server_config())
    with TestClient(app, base_url="http://marble.test", raise_server_exceptions=False) as test:
        store = TokenStore(app.state.marble.service.metadata)
        tokens = {s: store.create(f"{s}-token", (Scope(s),))[0] for s in SCOPES}
        # The TestClient's transport runs each request through its event-loop thread.
        transport: httpx.BaseTransport = test._transport
        yield Server(str(test.base_url).rstrip("/"), tokens, lambda: transport)


@pytest.fixture(scope="module")
def uvicorn_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve_marble(tmp_path_factory.mktemp("client-uvicorn"), ("admin", "read")) as (
        live,
        tokens,
    ):
        yield Server(live.url, tokens, lambda: None)


@pytest.fixture(params=CLIENT_KINDS)
def client_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(request: pytest.FixtureRequest, client_kind: str) -> Server:
    """The server of this test's client kind (started once per module)."""
    if client_kind.endswith("uvicorn"):
        name = "uvicorn_server"
    else:
        name = "inprocess_async" if client_kind.startswith("async") else "inprocess_sync"
    found: Server = request.getfixturevalue(name)
    return found


@pytest.fixture
async def marble(client_kind: str, server: Server) -> AsyncIterator[Marble]:
    """An admin client of the test's kind; ``marble.new_client`` makes others."""
    client = make_client(client_kind, server, "admin")
    under_test = Marble(client_kind, server, client, [client])
    yield under_test
    await under_test.close()


@pytest.fixture
def brain() -> str:
    """A brain name of this test's own (servers are shared by a module)."""
    return f"b-{uuid.uuid4().hex[:10]}"
