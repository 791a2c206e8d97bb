"""How a brain's per-brain rows become rows of the shared graph store.

Every brain shares the node and relationship tables. A neuron's (lobe's)
store-wide primary key is ``uid = (graph_key << 32) | id``, so one
generation of one brain is the uid range ``[graph_key << 32, (graph_key + 1) << 32)``
and its per-brain ids stay stable across versions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from marble_graph.brain_graph import BrainGraph
from marble_graph.errors import StoreError

UID_SHIFT = 32  # neuron/lobe uid = (graph_key << 32) | per-brain id
MAX_LOCAL_ID = (1 << UID_SHIFT) - 1


# Store table each BrainGraph table is copied into, in copy order (nodes first).
# The `memories` table is not copied: memories are per brain (store/memories.py).
_STORE_TABLES = (
    ("Neuron", "neurons"),
    ("Synapse", "synapses"),
    ("Lobe", "lobes"),
    ("MEMBER_OF", "memberships"),
)


# Source column of each relationship table (its rows are copied in this order).
_SOURCE_COLUMN = {"Synapse": "src", "MEMBER_OF": "neuron"}


def store_rows(brain: str, graph_key: int, graph: BrainGraph) -> dict[str, pa.Table]:
    """The rows ``insert_graph`` copies into each table: per-brain ids become store uids."""
    prefix = graph_key << UID_SHIFT
    return {
        store: _rows_for(store, getattr(graph, name), brain, prefix)
        for store, name in _STORE_TABLES
    }


def store_row_slices(
    brain: str, graph_key: int, graph: BrainGraph, max_rows: int
) -> Iterator[tuple[str, pa.Table]]:
    """``store_rows`` as (store table, rows) slices of at most ``max_rows`` rows each.

    Each slice is built only when it is asked for, so the store-side columns
    (uids, brain name) of a ten-million-synapse brain never exist all at once,
    and each bulk copy fits the engine's buffer pool (one COPY of a whole
    10M-synapse brain fills a 512 MiB pool). Neurons and synapses give one
    (empty) slice even when the graph has none.
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    prefix = graph_key << UID_SHIFT
    for store, name in _STORE_TABLES:
        table: pa.Table = getattr(graph, name)
        if table.num_rows == 0 and store in ("Neuron", "Synapse"):
            yield store, _rows_for(store, table, brain, prefix)
        source = _SOURCE_COLUMN.get(store)
        # Relationships go in source order: each COPY then appends to its own
        # sources' storage instead of rewriting every source's (measured: 1M
        # synapses in ten slices took twice one COPY in id order, less in source order).
        order = None if source is None else pc.sort_indices(table.column(source))
        for start in range(0, table.num_rows, max_rows):
            part = (
                table.slice(start, max_rows)
                if order is None
                else table.take(order.slice(start, max_rows))
            )
            yield store, _rows_for(store, part, brain, prefix)


def _rows_for(store: str, table: pa.Table, brain: str, prefix: int) -> pa.Table:
    """The store-side rows of one BrainGraph table (or a slice of it)."""

    def endpoints(src: str, dst: str) -> dict[str, Any]:
        return {
            "from": pc.add(table.column(src), prefix),
            "to": pc.add(table.column(dst), prefix),
            "brain": pa.repeat(brain, table.num_rows),
        }

    if store == "Synapse":
        properties = {n: table.column(n) for n in table.column_names if n not in ("src", "dst")}
        return pa.table({**endpoints("src", "dst"), **properties})
    if store == "MEMBER_OF":
        return pa.table(endpoints("neuron", "lobe"))
    return _with_uid(table, prefix, brain)


def key_range(graph_key: int) -> dict[str, int]:
    """Query parameters ``lo``/``hi``: the uids of one generation are lo <= uid < hi."""
    return {"lo": graph_key << UID_SHIFT, "hi": (graph_key + 1) << UID_SHIFT}


def _with_uid(table: pa.Table, prefix: int, brain: str) -> pa.Table:
    """Prepend the store-wide ``uid`` and ``brain`` columns to a per-brain table."""
    uid = pc.add(table.column("id"), prefix)
    return pa.table(
        {
            "uid": uid,
            "brain": pa.repeat(brain, table.num_rows),
            **{name: table.column(name) for name in table.column_names},
        }
    )


def check_local_ids(graph: BrainGraph) -> None:
    """Every per-brain id must fit in the low 32 bits of a uid."""
    for name, table in graph.tables():
        for column in ("id", "src", "dst", "neuron", "lobe"):
            if column in table.column_names and table.num_rows:
                low, high = pc.min_max(table.column(column)).values()
                if low.as_py() < 0 or high.as_py() > MAX_LOCAL_ID:
                    raise StoreError(
                        f"table '{name}' column '{column}' holds ids outside 0..{MAX_LOCAL_ID}"
                    )
