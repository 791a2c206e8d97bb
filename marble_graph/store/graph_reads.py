"""The Cypher reads behind the GraphQL schema, one bulk query each.

Every read is scoped to one brain generation by its uid range
(``graph_key << 32`` up to the next key), so a query never sees another brain
or an older version. Filters are fixed Cypher fragments with bound
parameters: no caller text ever becomes part of a query here. The reads are
blocking (they hold the graph store's lock); the server's resolvers call them
through ``MarbleContext.engine``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from marble_graph.store.graph import GraphStore
from marble_graph.store.graph_rows import MAX_LOCAL_ID, key_range

NEURON_COLUMNS = (
    "n.id AS id, n.kind AS kind, n.neuron_type AS neuron_type, n.bias AS bias, "
    "n.attention AS attention, n.energy AS energy, n.state AS state, "
    "n.created_step AS created_step"
)
SYNAPSE_COLUMNS = (
    "a.id AS source, b.id AS target, s.id AS id, s.weight AS weight, "
    "s.synapse_type AS synapse_type, s.potential AS potential, s.fatigue AS fatigue, "
    "s.visit_count AS visit_count, s.frozen AS frozen, s.created_step AS created_step"
)
LOBE_COLUMNS = "l.id AS id, l.name AS name, l.attention AS attention"

Row = dict[str, Any]


@dataclass(frozen=True)
class NeuronSelection:
    """Which neurons a page holds; None matches anything."""

    kind: str | None = None
    neuron_type: str | None = None
    lobe: str | None = None


@dataclass(frozen=True)
class SynapseSelection:
    """Which synapses a page holds; ``min_weight`` bounds ``|weight|`` from below."""

    synapse_type: str | None = None
    min_weight: float | None = None
    source: int | None = None
    target: int | None = None


def uid_range(graph_key: int) -> tuple[int, int]:
    """The half-open uid range ``[lo, hi)`` of one brain generation."""
    bounds = key_range(graph_key)
    return bounds["lo"], bounds["hi"]


def _uids(lo: int, ids: list[int]) -> list[int]:
    """Store uids of per-brain ids; ids outside the brain's range match nothing."""
    return [lo + i for i in ids if 0 <= i <= MAX_LOCAL_ID]


def _rows(graph: GraphStore, query: str, params: dict[str, Any]) -> list[Row]:
    table: pa.Table = graph.arrow(query, params)
    return table.to_pylist()


def _neuron_match(graph_key: int, selection: NeuronSelection) -> tuple[str, dict[str, Any]]:
    lo, hi = uid_range(graph_key)
    params: dict[str, Any] = {"lo": lo, "hi": hi}
    where = ["n.uid >= $lo", "n.uid < $hi"]
    match = "MATCH (n:Neuron)"
    if selection.kind is not None:
        where.append("n.kind = $kind")
        params["kind"] = selection.kind
    if selection.neuron_type is not None:
        where.append("n.neuron_type = $neuron_type")
        params["neuron_type"] = selection.neuron_type
    if selection.lobe is not None:
        match = "MATCH (n:Neuron)-[:MEMBER_OF]->(l:Lobe)"
        where.append("l.name = $lobe")
        params["lobe"] = selection.lobe
    return f"{match} WHERE {' AND '.join(where)}", params


def _synapse_match(graph_key: int, selection: SynapseSelection) -> tuple[str, dict[str, Any]]:
    lo, hi = uid_range(graph_key)
    params: dict[str, Any] = {"lo": lo, "hi": hi}
    where = ["a.uid >= $lo", "a.uid < $hi"]
    if selection.source is not None:
        where.append("a.uid = $source")
        params["source"] = lo + selection.source
    if selection.target is not None:
        where.append("b.uid = $target")
        params["target"] = lo + selection.target
    if selection.synapse_type is not None:
        where.append("s.synapse_type = $synapse_type")
        params["synapse_type"] = selection.synapse_type
    if selection.min_weight is not None:
        where.append("abs(s.weight) >= $min_weight")
        params["min_weight"] = selection.min_weight
    return f"MATCH (a:Neuron)-[s:Synapse]->(b:Neuron) WHERE {' AND '.join(where)}", params


class GraphReads:
    """The reads behind graph exploration (GraphQL and the explorer), bound to one store."""

    def __init__(self, graph: GraphStore) -> None:
        self.graph = graph

    def neuron_page(
        self, graph_key: int, selection: NeuronSelection, after: int | None, limit: int
    ) -> list[Row]:
        """Up to ``limit`` neurons with id above ``after``, in id order."""
        match, params = _neuron_match(graph_key, selection)
        params.update(after=-1 if after is None else after, limit=limit)
        return _rows(
            self.graph,
            f"{match} AND n.id > $after RETURN {NEURON_COLUMNS} ORDER BY n.id LIMIT $limit",
            params,
        )

    def neuron_count(self, graph_key: int, selection: NeuronSelection) -> int:
        match, params = _neuron_match(graph_key, selection)
        return int(self.graph.scalar(f"{match} RETURN count(n)", params) or 0)

    def synapse_page(
        self, graph_key: int, selection: SynapseSelection, after: int | None, limit: int
    ) -> list[Row]:
        """Up to ``limit`` synapses with id above ``after``, in id order."""
        match, params = _synapse_match(graph_key, selection)
        params.update(after=-1 if after is None else after, limit=limit)
        return _rows(
            self.graph,
            f"{match} AND s.id > $after RETURN {SYNAPSE_COLUMNS} ORDER BY s.id LIMIT $limit",
            params,
        )

    def synapse_count(self, graph_key: int, selection: SynapseSelection) -> int:
        match, params = _synapse_match(graph_key, selection)
        return int(self.graph.scalar(f"{match} RETURN count(s)", params) or 0)

    def neurons_by_id(self, graph_key: int, ids: list[int]) -> list[Row]:
        lo, _ = uid_range(graph_key)
        return _rows(
            self.graph,
            f"MATCH (n:Neuron) WHERE n.uid IN $uids RETURN {NEURON_COLUMNS}",
            {"uids": _uids(lo, ids)},
        )

    def synapses_touching(self, graph_key: int, ids: list[int], direction: str) -> list[Row]:
        """Synapses into (``direction="in"``) or out of (``"out"``) the neurons ``ids``."""
        lo, _ = uid_range(graph_key)
        end = "b" if direction == "in" else "a"
        return _rows(
            self.graph,
            f"MATCH (a:Neuron)-[s:Synapse]->(b:Neuron) WHERE {end}.uid IN $uids "
            f"RETURN {SYNAPSE_COLUMNS} ORDER BY s.id",
            {"uids": _uids(lo, ids)},
        )

    def lobes_of_neurons(self, graph_key: int, ids: list[int]) -> list[Row]:
        lo, _ = uid_range(graph_key)
        return _rows(
            self.graph,
            f"MATCH (n:Neuron)-[:MEMBER_OF]->(l:Lobe) WHERE n.uid IN $uids "
            f"RETURN n.id AS neuron, {LOBE_COLUMNS}",
            {"uids": _uids(lo, ids)},
        )

    def lobe_member_counts(self, graph_key: int, ids: list[int]) -> dict[int, int]:
        lo, _ = uid_range(graph_key)
        rows = _rows(
            self.graph,
            "MATCH (n:Neuron)-[:MEMBER_OF]->(l:Lobe) WHERE l.uid IN $uids "
            "RETURN l.id AS id, count(n) AS members",
            {"uids": _uids(lo, ids)},
        )
        return {int(r["id"]): int(r["members"]) for r in rows}

    def brain_lobes(self, graph_key: int) -> list[Row]:
        """Every lobe of the generation with its member count, in id order."""
        lo, hi = uid_range(graph_key)
        return _rows(
            self.graph,
            "MATCH (l:Lobe) WHERE l.uid >= $lo AND l.uid < $hi "
            "OPTIONAL MATCH (n:Neuron)-[:MEMBER_OF]->(l) "
            f"RETURN {LOBE_COLUMNS}, count(n) AS members ORDER BY id",
            {"lo": lo, "hi": hi},
        )

    def synapse_table(self, graph_key: int) -> pa.Table:
        """All synapses of the generation (for path search), one bulk Arrow read."""
        lo, hi = uid_range(graph_key)
        return self.graph.arrow(
            f"MATCH (a:Neuron)-[s:Synapse]->(b:Neuron) WHERE a.uid >= $lo AND a.uid < $hi "
            f"RETURN {SYNAPSE_COLUMNS}",
            {"lo": lo, "hi": hi},
        )
