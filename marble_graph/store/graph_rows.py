"""How a brain's per-brain rows become rows of the shared graph store.

Every brain shares the node and relationship tables. A neuron's (lobe's,
memory's) store-wide primary key is ``uid = (graph_key << 32) | id``, so one
generation of one brain is the uid range ``[graph_key << 32, (graph_key + 1) << 32)``
and its per-brain ids stay stable across versions.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from marble_graph.brain_graph import BrainGraph
from marble_graph.errors import StoreError

UID_SHIFT = 32  # neuron/lobe/memory uid = (graph_key << 32) | per-brain id
MAX_LOCAL_ID = (1 << UID_SHIFT) - 1


def store_rows(brain: str, graph_key: int, graph: BrainGraph) -> dict[str, pa.Table]:
    """The rows ``insert_graph`` copies into each table: per-brain ids become store uids."""
    prefix = graph_key << UID_SHIFT

    def endpoints(table: pa.Table, src: str, dst: str) -> dict[str, Any]:
        return {
            "from": pc.add(table.column(src), prefix),
            "to": pc.add(table.column(dst), prefix),
            "brain": pa.repeat(brain, table.num_rows),
        }

    synapses = graph.synapses
    properties = {n: synapses.column(n) for n in synapses.column_names if n not in ("src", "dst")}
    return {
        "Neuron": _with_uid(graph.neurons, prefix, brain),
        "Synapse": pa.table({**endpoints(synapses, "src", "dst"), **properties}),
        "Lobe": _with_uid(graph.lobes, prefix, brain),
        "MEMBER_OF": pa.table(endpoints(graph.memberships, "neuron", "lobe")),
        "Memory": _with_uid(graph.memories, prefix, brain),
    }


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
