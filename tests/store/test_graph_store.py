"""The graph store adapter on both engines: schema migrations, bulk I/O, read-only queries."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from marble_graph.brain_graph import graph_hash
from marble_graph.bundled_files import graph_schema_dir
from marble_graph.errors import QueryRefused
from marble_graph.seed import seed_brain_graph
from marble_graph.store.graph import GraphStore
from marble_graph.store.graph_migrations import applied_graph_migrations
from tests.conftest import small_config


@pytest.fixture
def store(tmp_path: Path, engine: str) -> GraphStore:
    opened = GraphStore(tmp_path / "graph" / "db", engine=engine, buffer_pool_mb=64)
    opened.migrate(graph_schema_dir())
    yield opened
    opened.close()


def test_migrations_apply_in_order_and_are_recorded_once(store: GraphStore) -> None:
    files = sorted(p.name for p in graph_schema_dir().glob("*.cypher"))
    assert applied_graph_migrations(store) == files
    assert store.migrate(graph_schema_dir()) == []


def test_older_database_is_upgraded_on_open(tmp_path: Path, engine: str) -> None:
    first_only = tmp_path / "schema-v1"
    first_only.mkdir()
    shutil.copy(graph_schema_dir() / "0001_brain_graph.cypher", first_only)
    path = tmp_path / "graph" / "db"
    old = GraphStore(path, engine=engine, buffer_pool_mb=64)
    assert old.migrate(first_only) == ["0001_brain_graph.cypher"]
    old.close()

    upgraded = GraphStore(path, engine=engine, buffer_pool_mb=64)
    try:
        assert upgraded.migrate(graph_schema_dir()) == [
            "0002_lobes_memories_datasets.cypher",
            "0003_version_lineage.cypher",
            "0004_memories.cypher",
        ]
        assert upgraded.scalar("MATCH (l:Lobe) RETURN count(*)") == 0
        assert upgraded.scalar("MATCH (v:BrainVersion) RETURN count(*)") == 0
    finally:
        upgraded.close()


def test_insert_then_load_round_trips_bit_exact(store: GraphStore) -> None:
    graph = seed_brain_graph(small_config())
    store.insert_graph("b1", 1, graph)
    assert graph_hash(store.load_graph("b1", 1)) == graph_hash(graph)


def test_brains_share_the_store_without_mixing(store: GraphStore) -> None:
    one = seed_brain_graph(small_config())
    two = seed_brain_graph(small_config(random_seed=99, width=5))
    store.insert_graph("one", 1, one)
    store.insert_graph("two", 2, two)
    assert graph_hash(store.load_graph("one", 1)) == graph_hash(one)
    assert graph_hash(store.load_graph("two", 2)) == graph_hash(two)
    store.delete_brain("one")
    assert store.brain_names() == {"two"}
    assert graph_hash(store.load_graph("two", 2)) == graph_hash(two)


def test_read_only_query_returns_rows_and_marks_truncation(store: GraphStore) -> None:
    store.insert_graph("b1", 1, seed_brain_graph(small_config()))
    rows = store.read_only_query("MATCH (n:Neuron) RETURN n.id AS id ORDER BY id", row_limit=5)
    assert rows.columns == ["id"]
    assert rows.rows == [[0], [1], [2], [3], [4]]
    assert rows.truncated


@pytest.mark.parametrize(
    "query",
    [
        "CREATE (:Neuron {uid: 1})",
        "MATCH (n:Neuron) SET n.bias = 1.0",
        "MATCH (n:Neuron) DETACH DELETE n",
        "MERGE (:Brain {name: 'x'})",
        "MATCH (n) RETURN n; CREATE (:Neuron {uid: 2})",
        "COPY Neuron FROM '/etc/passwd'",
        "LOAD FROM '/etc/passwd' RETURN *",
        "CALL threads = 1",
        "COMMIT",
    ],
)
def test_read_only_query_refuses_writes_and_changes_nothing(store: GraphStore, query: str) -> None:
    store.insert_graph("b1", 1, seed_brain_graph(small_config()))
    before = graph_hash(store.load_graph("b1", 1))
    with pytest.raises(QueryRefused):
        store.read_only_query(query)
    assert graph_hash(store.load_graph("b1", 1)) == before


def test_keywords_inside_strings_and_property_names_are_not_refused(store: GraphStore) -> None:
    store.insert_graph("b1", 1, seed_brain_graph(small_config()))
    rows = store.read_only_query(
        "MATCH (n:Neuron) WHERE n.kind <> 'CREATE; DELETE' RETURN count(*) AS c"
    )
    assert rows.rows[0][0] > 0


def test_second_writer_gets_a_clear_lock_error(tmp_path: Path, engine: str) -> None:
    path = tmp_path / "graph" / "db"
    holder = GraphStore(path, engine=engine, buffer_pool_mb=64)
    try:
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from marble_graph.store.graph import GraphStore\n"
                "from marble_graph.errors import StoreLocked\n"
                f"try:\n    GraphStore({str(path)!r}, engine={engine!r})\n"
                "except StoreLocked as e:\n    print(e); sys.exit(0)\nsys.exit(1)",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert child.returncode == 0, child.stderr
        assert "held by process" in child.stdout
        assert str(path) in child.stdout
    finally:
        holder.close()
    reopened = GraphStore(path, engine=engine, buffer_pool_mb=64)  # lock released
    reopened.close()


def test_many_bulk_copies_fit_a_small_buffer_pool(tmp_path: Path, engine: str) -> None:
    # LadybugDB kept the pool pages of every COPY from a Python Arrow table: a 64 MiB
    # pool was full after 6 small brains. Copies go through Parquet files instead.
    store = GraphStore(tmp_path / "brains", engine=engine, buffer_pool_mb=32)
    store.migrate(graph_schema_dir())
    graph = seed_brain_graph(small_config(engine))
    for key in range(1, 61):
        store.insert_graph(f"b{key}", key, graph)
    assert len(store.generations()) == 60
    assert graph_hash(store.load_graph("b60", 60)) == graph_hash(graph)
    assert not list(tmp_path.glob(".copy-*")), "staging files are removed"
    store.close()
