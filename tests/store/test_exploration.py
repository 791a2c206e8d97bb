"""Exploration queries on both engines: their own connections, clear failures, bounded time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from marble_graph.brain_graph import graph_hash
from marble_graph.bundled_files import graph_schema_dir
from marble_graph.errors import QueryFailed, QueryRefused, QueryTimedOut
from marble_graph.seed import seed_brain_graph
from marble_graph.store.graph import GraphStore
from tests.conftest import small_config

# Every path of up to 30 hops through the small seed's 220 synapses: far more
# than either engine can count before any timeout these tests set.
HEAVY = "MATCH (a:Neuron)-[*1..30]->(b:Neuron) RETURN count(*)"


def _open(tmp_path: Path, engine: str, query_concurrency: int = 2) -> GraphStore:
    # A roomy buffer pool, so the heavy query runs until its timeout rather than
    # failing early for memory.
    store = GraphStore(
        tmp_path / "graph" / "db",
        engine=engine,
        buffer_pool_mb=512,
        query_concurrency=query_concurrency,
    )
    store.migrate(graph_schema_dir())
    store.insert_graph("b1", 1, seed_brain_graph(small_config(engine)))
    return store


@pytest.fixture
def store(tmp_path: Path, engine: str) -> Iterator[GraphStore]:
    opened = _open(tmp_path, engine)
    yield opened
    opened.close()


@pytest.fixture
def single(tmp_path: Path, engine: str) -> Iterator[GraphStore]:
    """A store with one exploration connection (storage.query_concurrency = 1)."""
    opened = _open(tmp_path, engine, query_concurrency=1)
    yield opened
    opened.close()


class _Background:
    """Runs one exploration query on a thread and keeps what it raised and how long it took."""

    def __init__(self, store: GraphStore, query: str, timeout_s: float) -> None:
        self.error: BaseException | None = None
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._run, args=(store, query, timeout_s))
        self._thread.start()

    def _run(self, store: GraphStore, query: str, timeout_s: float) -> None:
        started = time.monotonic()
        try:
            store.read_only_query(query, timeout_s=timeout_s)
        except BaseException as exc:
            self.error = exc
        self.seconds = time.monotonic() - started

    def join(self) -> _Background:
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "the exploration query never ended"
        return self


def _wait_until_running(store: GraphStore, count: int = 1) -> None:
    deadline = time.monotonic() + 5
    while store._exploration.running() < count:
        assert time.monotonic() < deadline, "the background query never started"
        time.sleep(0.01)
    time.sleep(0.2)  # past BEGIN and into the engine's work


def test_query_past_its_limit_times_out_naming_the_limit_and_the_key(store: GraphStore) -> None:
    started = time.monotonic()
    with pytest.raises(QueryTimedOut) as timed_out:
        store.read_only_query(HEAVY, timeout_s=1.5)
    elapsed = time.monotonic() - started
    assert 1.4 <= elapsed < 4.0, elapsed
    assert "1.5 s" in str(timed_out.value) and "storage.query_timeout_s" in str(timed_out.value)


def test_unknown_function_fails_naming_it_and_the_connection_still_works(
    single: GraphStore,
) -> None:
    with pytest.raises(QueryFailed) as failed:
        single.read_only_query("RETURN no_such_fn(1)")
    assert not isinstance(failed.value, QueryTimedOut | QueryRefused)
    assert "no_such_fn" in str(failed.value).lower()
    # One connection: the same one answers next, with no transaction left behind.
    assert single.read_only_query("RETURN 41 + 1 AS x").rows == [[42]]


def test_failed_query_resets_its_connections_timeout(single: GraphStore) -> None:
    (conn,) = single._exploration._idle  # concurrency 1: the only exploration connection
    with pytest.raises(QueryFailed):
        single.read_only_query("RETURN no_such_fn(1)", timeout_s=7)
    assert conn.execute("CALL current_setting('timeout') RETURN *").get_next() == ["0"]
    with pytest.raises(QueryTimedOut):
        single.read_only_query(HEAVY, timeout_s=0.5)
    assert conn.execute("CALL current_setting('timeout') RETURN *").get_next() == ["0"]


@pytest.mark.parametrize(
    "query",
    [
        "CALL set_option('threads', 64) RETURN *",
        "MATCH (n:NoSuchTable) RETURN n",
        "RETURN 1 / 0",
    ],
)
def test_engine_failures_are_query_errors_with_the_engines_message(
    store: GraphStore, query: str
) -> None:
    with pytest.raises(QueryFailed) as failed:
        store.read_only_query(query)
    assert type(failed.value) is QueryFailed
    assert str(failed.value).startswith("query failed: ") and len(str(failed.value)) > 20


def test_writes_are_still_refused_and_change_nothing(store: GraphStore) -> None:
    before = graph_hash(store.load_graph("b1", 1))
    with pytest.raises(QueryRefused):
        store.read_only_query("MATCH (n:Neuron) SET n.bias = 1.0")
    assert graph_hash(store.load_graph("b1", 1)) == before


def test_exploration_runs_on_one_engine_thread(store: GraphStore) -> None:
    rows = store.read_only_query("CALL current_setting('threads') RETURN *")
    assert rows.rows == [["1"]]


def test_brain_reads_do_not_wait_for_a_running_exploration_query(store: GraphStore) -> None:
    heavy = _Background(store, HEAVY, timeout_s=4)
    _wait_until_running(store)
    slowest = 0.0
    for _ in range(5):
        started = time.monotonic()
        store.load_graph("b1", 1)
        store.counts_by_kind_and_type(1)
        slowest = max(slowest, time.monotonic() - started)
    assert heavy._thread.is_alive()
    assert slowest < 1.0, slowest
    assert isinstance(heavy.join().error, QueryTimedOut)


def test_query_past_the_concurrency_limit_fails_fast_naming_the_key(single: GraphStore) -> None:
    heavy = _Background(single, HEAVY, timeout_s=4)
    _wait_until_running(single)
    started = time.monotonic()
    with pytest.raises(QueryFailed) as busy:
        single.read_only_query("RETURN 1")
    assert time.monotonic() - started < 2.0
    assert "1 exploration queries already running" in str(busy.value)
    assert "storage.query_concurrency" in str(busy.value)
    assert isinstance(heavy.join().error, QueryTimedOut)
    assert single.read_only_query("RETURN 1").rows == [[1]]


def test_queries_up_to_the_concurrency_limit_run_side_by_side(store: GraphStore) -> None:
    first = _Background(store, HEAVY, timeout_s=3)
    _wait_until_running(store)
    started = time.monotonic()
    assert store.read_only_query("RETURN 2").rows == [[2]]
    assert time.monotonic() - started < 1.0
    assert isinstance(first.join().error, QueryTimedOut)


def test_close_interrupts_a_running_exploration_query(tmp_path: Path, engine: str) -> None:
    opened = _open(tmp_path, engine)
    heavy = _Background(opened, HEAVY, timeout_s=60)
    _wait_until_running(opened)
    started = time.monotonic()
    opened.close()
    assert time.monotonic() - started < 5.0
    error = heavy.join().error
    assert isinstance(error, QueryFailed) and "closing" in str(error)
