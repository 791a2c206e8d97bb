"""The retry policy, proven with a transport that fails N times, for both clients.

Attempts are counted at the transport; waits are recorded by an injected ``sleep``
instead of slept. Default policy: 3 retries waiting 0.5, 1 and 2 seconds, on
connection errors and 502/503/504, for idempotent calls and keyed POSTs only.
"""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from marble_client import (
    AsyncMarbleClient,
    Conflict,
    JobFailed,
    MarbleClient,
    NotFound,
    ServerError,
    TransportError,
    Unavailable,
)

from tests.client.conftest import recorded_sleep

pytestmark = pytest.mark.anyio

NOW = "2026-01-01T00:00:00Z"
BRAIN = {
    "name": "wave",
    "version": 1,
    "neuron_count": 38,
    "synapse_count": 100,
    "graph_hash": "g",
    "config_hash": "c",
    "random_seed": 7,
    "created_at": NOW,
    "neurons_by_kind": {"input": 1},
    "synapses_by_type": {},
    "config": {},
}


def job(state: str = "queued", progress: float = 0.0, error: str | None = None) -> dict[str, Any]:
    return {
        "id": "job-1",
        "kind": "train",
        "state": state,
        "brain": "wave",
        "progress": progress,
        "payload": {"epochs": 2},
        "result": None,
        "error": error,
        "created_at": NOW,
        "started_at": None,
        "finished_at": None,
    }


def problem(status: int, slug: str, detail: str) -> httpx.Response:
    body = {"type": f"urn:marble:problem:{slug}", "title": slug, "status": status, "detail": detail}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def sse(*events: tuple[str, dict[str, Any]]) -> httpx.Response:
    text = ": keepalive\n\n" + "".join(
        f"event: {kind}\ndata: {json.dumps({'event': kind, 'job': body, 'metrics': {}})}\n\n"
        for kind, body in events
    )
    return httpx.Response(200, text=text, headers={"content-type": "text/event-stream"})


@dataclass
class Flaky:
    """A server that fails the first ``failures`` requests, then answers ``answer``."""

    failures: int
    fail: Callable[[httpx.Request], httpx.Response] = lambda r: problem(503, "unavailable", "x")
    answer: Callable[[httpx.Request], httpx.Response] = lambda r: httpx.Response(200, json=BRAIN)
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if len(self.requests) <= self.failures:
            return self.fail(request)
        return self.answer(request)

    @property
    def keys(self) -> list[str | None]:
        return [r.headers.get("Idempotency-Key") for r in self.requests]


def refuse_connection(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


async def maybe(value: Any) -> Any:
    """``value``, awaited when it is awaitable: one flow serves both clients."""
    return await value if inspect.isawaitable(value) else value


@dataclass
class Harness:
    """One client (sync or async) over a ``Flaky`` server, with its recorded waits."""

    is_async: bool
    waits: list[float] = field(default_factory=list)

    async def __call__(self, server: Flaky, call: Callable[[Any], Any], **options: Any) -> Any:
        """``call(client)`` on a fresh client; ``call`` may be async and ``maybe`` its steps."""
        sleep, self.waits = recorded_sleep(self.is_async)
        transport = httpx.MockTransport(server)
        if self.is_async:
            async with AsyncMarbleClient(
                "http://marble.test", "t", transport=transport, sleep=sleep, **options
            ) as client:
                return await maybe(call(client))
        with MarbleClient(
            "http://marble.test", "t", transport=transport, sleep=sleep, **options
        ) as client:
            return await maybe(call(client))


@pytest.fixture(params=["sync", "async"])
def harness(request: pytest.FixtureRequest) -> Harness:
    return Harness(is_async=request.param == "async")


@pytest.mark.parametrize("failures", [1, 2, 3])
@pytest.mark.parametrize("status", [502, 503, 504])
async def test_get_retries_gateway_errors_with_doubling_waits(
    harness: Harness, failures: int, status: int
) -> None:
    server = Flaky(failures, fail=lambda r: problem(status, "unavailable", "busy"))
    brain = await harness(server, lambda c: c.brains.get("wave"))
    assert brain.name == "wave"
    assert len(server.requests) == failures + 1
    assert harness.waits == [0.5, 1.0, 2.0][:failures]


async def test_after_the_budget_the_last_server_error_surfaces(harness: Harness) -> None:
    server = Flaky(99, fail=lambda r: problem(503, "unavailable", "the server is stopping"))
    with pytest.raises(Unavailable) as failed:
        await harness(server, lambda c: c.brains.list())
    assert len(server.requests) == 4 and harness.waits == [0.5, 1.0, 2.0]
    assert failed.value.detail == "the server is stopping" and failed.value.status == 503


async def test_connection_errors_are_retried_then_surface_as_transport_error(
    harness: Harness,
) -> None:
    server = Flaky(99, fail=refuse_connection)
    with pytest.raises(TransportError) as failed:
        await harness(server, lambda c: c.health())
    assert len(server.requests) == 4 and harness.waits == [0.5, 1.0, 2.0]
    assert isinstance(failed.value.__cause__, httpx.ConnectError)
    assert "ConnectError" in failed.value.detail and "/health" in failed.value.detail


async def test_max_retries_and_backoff_factor_are_configurable(harness: Harness) -> None:
    server = Flaky(99, fail=refuse_connection)
    with pytest.raises(TransportError):
        await harness(server, lambda c: c.jobs.list(), max_retries=5, backoff_factor=0.1)
    assert len(server.requests) == 6
    assert harness.waits == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6])
    once = Flaky(99, fail=refuse_connection)
    with pytest.raises(TransportError):
        await harness(once, lambda c: c.jobs.list(), max_retries=0)
    assert len(once.requests) == 1 and harness.waits == []


@pytest.mark.parametrize(
    ("status", "slug", "error"),
    [(500, "internal", ServerError), (404, "not-found", NotFound), (409, "conflict", Conflict)],
)
async def test_other_failures_are_not_retried(
    harness: Harness, status: int, slug: str, error: type[Exception]
) -> None:
    server = Flaky(99, fail=lambda r: problem(status, slug, "no"))
    with pytest.raises(error):
        await harness(server, lambda c: c.brains.get("wave"))
    assert len(server.requests) == 1 and harness.waits == []


async def test_delete_is_retried_like_a_read(harness: Harness) -> None:
    server = Flaky(2, answer=lambda r: httpx.Response(204))
    assert await harness(server, lambda c: c.brains.delete("wave")) is None
    assert [r.method for r in server.requests] == ["DELETE"] * 3 and harness.waits == [0.5, 1.0]


@pytest.mark.parametrize("fail", [refuse_connection, lambda r: problem(503, "unavailable", "x")])
@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.brains.create("wave", dataset="sine"),
        lambda c: c.train("wave", "sine"),
        lambda c: c.jobs.cancel("job-1"),
        lambda c: c.jobs.resume("job-1"),
        lambda c: c.graphql('mutation { deleteBrain(name: "wave") }'),
    ],
    ids=["create", "train", "cancel", "resume", "graphql-mutation"],
)
async def test_post_without_a_key_is_never_retried(
    harness: Harness, fail: Callable[[httpx.Request], httpx.Response], call: Callable[[Any], Any]
) -> None:
    server = Flaky(1, fail=fail)
    with pytest.raises((TransportError, Unavailable)):
        await harness(server, call)
    assert len(server.requests) == 1 and harness.waits == []
    assert server.keys == [None]


async def test_post_with_a_key_is_retried_sending_the_same_key(harness: Harness) -> None:
    server = Flaky(2, answer=lambda r: httpx.Response(201, json=BRAIN))
    created = await harness(
        server, lambda c: c.brains.create("wave", dataset="sine", idempotency_key="create-wave")
    )
    assert created.name == "wave"
    assert server.keys == ["create-wave"] * 3 and harness.waits == [0.5, 1.0]


async def test_auto_keys_make_one_uuid_per_call_reused_by_its_retries(harness: Harness) -> None:
    server = Flaky(1, fail=refuse_connection, answer=lambda r: httpx.Response(202, json=job()))

    async def train_twice(client: Any) -> None:
        for _ in range(2):
            await maybe(client.train("wave", "sine", epochs=2))

    await harness(server, train_twice, auto_idempotency_keys=True)
    first, retry, second = server.keys
    assert first == retry and first != second
    assert all(uuid.UUID(str(k)).version == 4 for k in (first, second))
    assert harness.waits == [0.5]


async def test_auto_keys_leave_reads_over_post_alone(harness: Harness) -> None:
    server = Flaky(0, answer=lambda r: httpx.Response(200, json={"data": {"brains": []}}))
    await harness(server, lambda c: c.graphql("{ brains { name } }"), auto_idempotency_keys=True)
    assert server.keys == [None]


@pytest.mark.parametrize(
    ("call", "answer"),
    [
        (
            lambda c: c.infer("wave", [0.5]),
            {"brain": "wave", "version": 1, "outputs": [[0.1]]},
        ),
        (lambda c: c.graphql("{ brains { name } }"), {"data": {"brains": []}}),
        (
            lambda c: c.cypher("wave", "RETURN 1"),
            {"data": {"cypher": {"columns": ["1"], "rows": [[1]], "truncated": False}}},
        ),
    ],
    ids=["infer", "graphql-query", "cypher"],
)
async def test_posts_that_only_read_are_retried_without_a_key(
    harness: Harness, call: Callable[[Any], Any], answer: dict[str, Any]
) -> None:
    server = Flaky(3, answer=lambda r: httpx.Response(200, json=answer))
    await harness(server, call)
    assert len(server.requests) == 4 and harness.waits == [0.5, 1.0, 2.0]
    assert server.keys == [None] * 4


def events_or(
    streams: Callable[[], httpx.Response], record: dict[str, Any]
) -> Callable[[httpx.Request], httpx.Response]:
    """Answers event streams from ``streams``, every other request with ``record``."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events"):
            return streams()
        return httpx.Response(200 if request.method == "GET" else 202, json=record)

    return answer


async def follow_and_wait(client: Any) -> Any:
    handle = await maybe(client.jobs.follow("job-1"))
    return await maybe(handle.wait())


async def test_wait_reconnects_when_the_event_stream_drops(harness: Harness) -> None:
    streams = iter([sse(("state", job("running"))), sse(("end", job("succeeded", 1.0)))])
    server = Flaky(0, answer=events_or(lambda: next(streams), job()))

    async def train_and_wait(client: Any) -> Any:
        handle = await maybe(client.train("wave", "sine"))
        return await maybe(handle.wait())

    final = await harness(server, train_and_wait)
    assert final.state == "succeeded" and harness.waits == [0.5]
    assert [r.url.path for r in server.requests].count("/jobs/job-1/events") == 2


async def test_wait_gives_up_after_the_budget_of_drops_without_progress(
    harness: Harness,
) -> None:
    server = Flaky(0, answer=events_or(lambda: sse(("state", job("running"))), job("running")))
    with pytest.raises(TransportError) as dropped:
        await harness(server, follow_and_wait)
    assert "ended before the job did" in dropped.value.detail
    assert harness.waits == [0.5, 1.0, 2.0]


async def test_progress_between_drops_restarts_the_count(harness: Harness) -> None:
    progress = [
        sse(("state", job("running")), ("progress", job("running", p / 10))) for p in range(6)
    ]
    streams = iter([*progress, sse(("end", job("succeeded", 1.0)))])
    server = Flaky(0, answer=events_or(lambda: next(streams), job("running")))
    assert (await harness(server, follow_and_wait)).succeeded
    assert harness.waits == [0.5] * 6


async def test_wait_raises_job_failed_with_the_final_record(harness: Harness) -> None:
    failed = job("failed", 0.5, error="dataset 'sine' has 2 features")
    server = Flaky(0, answer=events_or(lambda: sse(("state", failed), ("end", failed)), job()))
    with pytest.raises(JobFailed) as ended:
        await harness(server, follow_and_wait)
    assert ended.value.job.state == "failed"
    assert ended.value.detail == "job job-1 failed: dataset 'sine' has 2 features"
