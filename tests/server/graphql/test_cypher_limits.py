"""Cypher over GraphQL never stalls the server, and its failures come back with clear codes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from marble_graph.config import MarbleConfig
from marble_graph.errors import QueryFailed, QueryTimedOut
from marble_server.problems import status_for
from tests.server.conftest import running_app, server_config
from tests.server.graphql.conftest import BRAIN, GraphQLClient, create_wave

pytestmark = pytest.mark.anyio

CYPHER = """query($query: String!) {
  cypher(brain: "wave", query: $query) { columns rows truncated } }"""
# Every path of up to 30 hops through the whole store: runs until the timeout.
HEAVY = "MATCH (a:Neuron)-[*1..30]->(b:Neuron) RETURN count(*)"
TIMEOUT_S = 5.0


def _config(query_concurrency: int = 2) -> MarbleConfig:
    config = server_config()
    storage = config.storage.model_copy(
        update={"query_timeout_s": TIMEOUT_S, "query_concurrency": query_concurrency}
    )
    return config.model_copy(update={"storage": storage})


async def _app(tmp_path: Path, query_concurrency: int) -> AsyncIterator[GraphQLClient]:
    async with running_app(tmp_path / "marble-data", _config(query_concurrency)) as live:
        await create_wave(live)
        yield GraphQLClient(live)


@pytest.fixture
async def timed(tmp_path: Path) -> AsyncIterator[GraphQLClient]:
    """An app whose exploration queries stop after 5 s, with brain ``wave``."""
    async for client in _app(tmp_path, query_concurrency=2):
        yield client


@pytest.fixture
async def one_connection(tmp_path: Path) -> AsyncIterator[GraphQLClient]:
    """Like ``timed``, with a single exploration connection (every query reuses it)."""
    async for client in _app(tmp_path, query_concurrency=1):
        yield client


async def _timed_call(call: object) -> float:
    started = time.monotonic()
    response = await call  # type: ignore[misc]
    assert response.status_code == 200, response.text
    return time.monotonic() - started


async def test_heavy_cypher_neither_stalls_reads_nor_inference_and_times_out(
    timed: GraphQLClient,
) -> None:
    live = timed.live
    infer = {"brain": BRAIN, "inputs": [[0.25]]}
    # Warm up: the first inference loads the model, which is not what is measured here.
    assert (await live.client.post("/infer", json=infer, headers=live.auth("infer"))).is_success

    started = time.monotonic()
    heavy = asyncio.create_task(timed.post(CYPHER, {"query": HEAVY}))
    pool = live.state.service.graph._exploration
    while pool.running() == 0:
        assert time.monotonic() - started < 5, "the heavy query never started"
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)

    for _ in range(3):
        read = await _timed_call(live.client.get(f"/brains/{BRAIN}", headers=live.auth("read")))
        inferred = await _timed_call(
            live.client.post("/infer", json=infer, headers=live.auth("infer"))
        )
        assert read < 1.0 and inferred < 1.0, (read, inferred)
    assert not heavy.done()

    response = await heavy
    elapsed = time.monotonic() - started
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "QUERY_TIMEOUT", error
    assert "5 s" in error["message"] and "storage.query_timeout_s" in error["message"]
    assert TIMEOUT_S - 0.5 <= elapsed < TIMEOUT_S + 3, elapsed


async def test_unknown_function_is_a_query_error_and_the_next_query_has_the_normal_timeout(
    one_connection: GraphQLClient,
) -> None:
    error = await one_connection.error(CYPHER, {"query": "RETURN no_such_fn(1)"})
    assert error["extensions"]["code"] == "QUERY_ERROR", error
    assert "no_such_fn" in error["message"].lower()
    # The same (only) connection answers next, with the configured timeout in force.
    data = await one_connection.data(CYPHER, {"query": "CALL current_setting('timeout') RETURN *"})
    assert data["cypher"]["rows"] == [[str(int(TIMEOUT_S * 1000))]]


async def test_unknown_procedure_call_is_a_query_error(one_connection: GraphQLClient) -> None:
    error = await one_connection.error(CYPHER, {"query": "CALL set_option('threads', 64) RETURN *"})
    assert error["extensions"]["code"] == "QUERY_ERROR", error
    assert "set_option" in error["message"]


def test_query_failures_map_to_client_error_problems_never_5xx() -> None:
    assert status_for(QueryTimedOut("query timed out")) == (422, "query-timeout")
    assert status_for(QueryFailed("query failed")) == (422, "query-error")
