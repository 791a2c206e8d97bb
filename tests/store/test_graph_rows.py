"""Store rows in slices: bulk copies of a big brain stream through the buffer pool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from marble_graph.brain_graph import empty_table, graph_hash
from marble_graph.bundled_files import graph_schema_dir
from marble_graph.seed import seed_brain_graph
from marble_graph.store.graph import GraphStore
from marble_graph.store.graph_rows import store_row_slices, store_rows
from tests.conftest import small_config


@pytest.fixture
def store(tmp_path: Path, engine: str) -> Iterator[GraphStore]:
    opened = GraphStore(tmp_path / "graph" / "db", engine=engine, buffer_pool_mb=64)
    opened.migrate(graph_schema_dir())
    yield opened
    opened.close()


def test_slices_concatenate_to_the_whole_store_rows() -> None:
    graph = seed_brain_graph(small_config())
    whole = store_rows("b", 3, graph)
    slices: dict[str, list[pa.Table]] = {}
    for table, rows in store_row_slices("b", 3, graph, max_rows=7):
        assert rows.num_rows <= 7
        slices.setdefault(table, []).append(rows)
    assert len(slices["Synapse"]) == -(-graph.synapse_count // 7)
    for table, rows in whole.items():
        if not rows.num_rows:
            assert table not in slices or table in ("Neuron", "Synapse")
            continue
        joined = pa.concat_tables(slices[table])
        if table == "Synapse":
            # Relationships are copied in source order (ties in id order).
            sources = joined.column("from").to_pylist()
            assert sources == sorted(sources)
            joined = joined.sort_by("id")
        assert joined.equals(rows), table


def test_a_graph_without_synapses_still_gives_one_empty_synapse_slice() -> None:
    graph = seed_brain_graph(small_config())
    bare = type(graph)(
        neurons=graph.neurons,
        synapses=empty_table("synapses"),
        lobes=graph.lobes,
        memberships=graph.memberships,
        memories=graph.memories,
    )
    synapse_slices = [r for t, r in store_row_slices("b", 1, bare, 1000) if t == "Synapse"]
    assert [s.num_rows for s in synapse_slices] == [0]


def test_slice_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_rows must be at least 1"):
        list(store_row_slices("b", 1, seed_brain_graph(small_config()), 0))


def test_insert_in_many_small_copies_round_trips_bit_exact(store: GraphStore) -> None:
    graph = seed_brain_graph(small_config())
    store.copy_max_rows = 25  # 48+ neurons and ~250 synapses: many COPY statements each
    store.insert_graph("sliced", 1, graph)
    assert store.generation_size(1) == (graph.neuron_count, graph.synapse_count)
    assert graph_hash(store.load_graph("sliced", 1)) == graph_hash(graph)


def test_copy_slices_scale_with_the_buffer_pool(tmp_path: Path, engine: str) -> None:
    small = GraphStore(tmp_path / "small" / "db", engine=engine, buffer_pool_mb=32)
    large = GraphStore(tmp_path / "large" / "db", engine=engine, buffer_pool_mb=512)
    try:
        assert small.copy_max_rows < large.copy_max_rows
        assert large.copy_max_rows >= 1_000_000  # a million synapses fit a 512 MiB pool
    finally:
        small.close()
        large.close()


def test_synapses_read_in_slices_load_bit_exact_in_id_order(store: GraphStore) -> None:
    graph = seed_brain_graph(small_config())
    store.insert_graph("sliced", 1, graph)
    store.copy_max_rows = 30  # the read splits the sources into about 9 id ranges
    loaded = store.load_graph("sliced", 1)
    assert loaded.synapses.column("id").to_pylist() == list(range(graph.synapse_count))
    assert graph_hash(loaded) == graph_hash(graph)
