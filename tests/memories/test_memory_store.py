"""The memory store on both engines: bulk writes, the recall index, exact scans, forgetting."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from marble_graph.brain_graph import MEMORY_SCHEMA, BrainGraph
from marble_graph.bundled_files import graph_schema_dir
from marble_graph.errors import StoreError
from marble_graph.seed import seed_brain_graph
from marble_graph.store.graph import GraphStore
from marble_graph.store.memories import MemoryStore, NewMemories
from tests.conftest import small_config

CREATED = datetime(2024, 1, 1, tzinfo=UTC)  # the brain's "incarnation" in these tests


@pytest.fixture
def graph(tmp_path: Path, engine: str) -> Iterator[GraphStore]:
    opened = GraphStore(tmp_path / "graph" / "db", engine=engine, buffer_pool_mb=64)
    opened.migrate(graph_schema_dir())
    yield opened
    opened.close()


def embedded(rows: np.ndarray, key: str | None = None) -> NewMemories:
    count = rows.shape[0]
    neurons = np.tile(np.array([[7, 5]], np.int64), (count, 1))
    return NewMemories([key] * count, ['{"n":1}'] * count, rows.astype(np.float32), neurons)


def test_recall_of_ten_memories_matches_the_exact_scan(graph: GraphStore) -> None:
    memories = MemoryStore(graph)
    rng = np.random.default_rng(1)
    stored = rng.normal(size=(10, 6)).astype(np.float32)
    ids = memories.insert("b", 1, embedded(stored))
    assert ids == list(range(10))
    for query in rng.normal(size=(5, 6)).astype(np.float32):
        indexed = memories.recall("b", CREATED, query, 4)
        exact = memories.exact_recall("b", query, 4)
        assert [m.id for m in indexed] == [m.id for m in exact]
        cosine = stored @ query / (np.linalg.norm(stored, axis=1) * np.linalg.norm(query))
        assert [m.id for m in indexed] == list(np.argsort(-cosine)[:4])
        np.testing.assert_allclose(
            [m.similarity for m in indexed], np.sort(cosine)[::-1][:4], rtol=1e-5
        )
    first = memories.recall("b", CREATED, stored[3], 1)[0]
    assert (first.id, first.value, first.neurons, first.brain_version) == (3, {"n": 1}, [7, 5], 1)
    assert first.embedded and first.similarity == pytest.approx(1.0, abs=1e-6)


def test_memories_remembered_after_the_index_loaded_are_recalled(graph: GraphStore) -> None:
    memories = MemoryStore(graph)
    assert memories.recall("b", CREATED, np.ones(3, np.float32), 5) == []  # loads an empty index
    memories.insert("b", 1, embedded(np.eye(3)))
    memories.insert("b", 2, embedded(np.array([[1.0, 1.0, 0.0]])))
    query = np.array([1.0, 0.6, 0.0], np.float32)
    assert [m.id for m in memories.recall("b", CREATED, query, 2)] == [3, 0]
    # A fresh store (as after a restart) reads the same index back from the graph.
    reopened = MemoryStore(graph)
    assert [m.id for m in reopened.recall("b", CREATED, np.array([0, 0, 1], np.float32), 1)] == [2]


def test_ids_are_never_reused_after_every_memory_is_forgotten(graph: GraphStore) -> None:
    memories = MemoryStore(graph)
    memories.insert("b", 1, embedded(np.eye(4)))
    assert memories.forget("b", keep_last=0) == 4
    assert memories.count("b") == 0
    assert memories.insert("b", 1, embedded(np.eye(2))) == [4, 5]


def test_forget_keep_last_removes_the_oldest_from_graph_and_index(graph: GraphStore) -> None:
    memories = MemoryStore(graph)
    memories.insert("b", 1, embedded(np.eye(5)))
    memories.recall("b", CREATED, np.ones(5, np.float32), 5)  # index loaded before the forget
    assert memories.forget("b", keep_last=2) == 3
    assert sorted(m.id for m in memories.recall("b", CREATED, np.ones(5, np.float32), 5)) == [3, 4]
    assert [m.id for m in memories.page("b", 10)] == [4, 3]


def test_forget_older_than_removes_only_earlier_memories(graph: GraphStore) -> None:
    memories = MemoryStore(graph)
    memories.insert("b", 1, embedded(np.eye(3)))
    cut = datetime.now(UTC)
    memories.insert("b", 1, NewMemories(["fact"], ['"kept"'], None, None))
    assert memories.forget("b", older_than=cut - timedelta(days=1)) == 0
    assert memories.forget("b", older_than=cut) == 3
    assert [(m.id, m.key, m.value, m.embedded) for m in memories.page("b", 10)] == [
        (3, "fact", "kept", False)
    ]
    assert memories.recall("b", CREATED, np.ones(3, np.float32), 3) == []


def test_lookup_returns_every_memory_of_a_key_newest_first(graph: GraphStore) -> None:
    memories = MemoryStore(graph)
    memories.insert("b", 1, NewMemories(["capital", "other"], ['"lyon"', "1"], None, None))
    memories.insert("b", 2, NewMemories(["capital"], ['"paris"'], None, None))
    assert [(m.id, m.value, m.brain_version) for m in memories.lookup("b", "capital")] == [
        (2, "paris", 2),
        (0, "lyon", 1),
    ]
    assert memories.lookup("b", "missing") == []


def test_brains_keep_their_memories_apart_and_deleting_one_removes_its_own(
    graph: GraphStore,
) -> None:
    memories = MemoryStore(graph)
    graph.insert_graph("one", 1, seed_brain_graph(small_config()))
    graph.insert_graph("two", 2, seed_brain_graph(small_config()))
    memories.insert("one", 1, embedded(np.eye(2)))
    memories.insert("two", 1, embedded(np.eye(3)))
    graph.delete_brain("one")
    memories.drop("one")
    assert (memories.count("one"), memories.count("two")) == (0, 3)
    assert memories.insert("one", 1, embedded(np.eye(2))) == [0, 1]  # a new brain of the name


def test_memories_alone_name_their_brain_for_reconcile(graph: GraphStore) -> None:
    MemoryStore(graph).insert("orphan", 1, NewMemories(["k"], ["1"], None, None))
    assert graph.brain_names() == {"orphan"}


def test_generations_store_no_memories_and_refuse_a_graph_that_holds_some(
    graph: GraphStore,
) -> None:
    seeded = seed_brain_graph(small_config())
    graph.insert_graph("b", 1, seeded)
    MemoryStore(graph).insert("b", 1, embedded(np.eye(2)))
    assert graph.load_graph("b", 1).memories.num_rows == 0
    row = {
        "id": [0],
        "kind": ["symbolic"],
        "key": ["k"],
        "vector": [[1.0]],
        "value": ["1"],
        "salience": [1.0],
        "created_at": [datetime(2024, 1, 1)],
    }
    holding = BrainGraph(
        seeded.neurons,
        seeded.synapses,
        seeded.lobes,
        seeded.memberships,
        pa.table(row, schema=MEMORY_SCHEMA),
    )
    with pytest.raises(StoreError, match="1 rows in its 'memories' table"):
        graph.insert_graph("c", 2, holding)


def test_embeddings_of_different_widths_in_one_brain_are_refused_on_load(
    graph: GraphStore,
) -> None:
    memories = MemoryStore(graph)
    memories.insert("b", 1, embedded(np.eye(2)))
    memories.insert("b", 1, embedded(np.eye(3)))
    with pytest.raises(StoreError, match="embeddings have 2 to 3 values"):
        MemoryStore(graph).recall("b", CREATED, np.ones(2, np.float32), 1)
