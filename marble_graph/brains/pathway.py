"""The strongest path between two neurons, by the product of synapse strengths.

Each synapse's strength is measured against the brain's strongest one,
``|w| / max|w|`` (in (0, 1]), and the path maximises the product of those:
a shortest path on cost ``-log(|w| / max|w|)``. Every cost is >= 0, so
Dijkstra finds it exactly. Maximising the raw ``prod |w|`` instead is not
well posed: weights above 1 give cycles that strengthen a walk without end,
and the best simple path is then as hard as the longest-path problem. The two
agree between paths of equal length; otherwise every extra hop must earn its
place against the strongest synapse. Zero-weight synapses are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from marble_graph.store.graph import GraphStore
from marble_graph.store.graph_reads import GraphReads


@dataclass(frozen=True)
class StrongestPath:
    neurons: list[int]  # neuron ids, start first, end last
    edges: np.ndarray  # [hops] row of each hop's synapse in the input arrays
    strength: float  # product of |weight| along the path (1.0 for start == end)
    relative_strength: float  # product of |weight| / max|weight|: what the path maximises


def strongest_path(
    source: np.ndarray, target: np.ndarray, weight: np.ndarray, start: int, end: int
) -> StrongestPath | None:
    """The strongest path (see the module docstring) over synapses ``source -> target``.

    ``source``, ``target`` and ``weight`` are [E] arrays of neuron ids and weights.
    None when no path of nonzero strength joins the two neurons.
    """
    if start == end:
        return StrongestPath([start], np.empty(0, dtype=np.int64), 1.0, 1.0)
    magnitude = np.abs(np.asarray(weight, dtype=np.float64))  # [E]
    rows = np.flatnonzero((magnitude > 0) & np.isfinite(magnitude) & (source != target))
    if rows.size == 0:
        return None
    nodes = np.unique(np.concatenate([source[rows], target[rows], [start, end]]))  # [N]
    u = np.searchsorted(nodes, source[rows])  # [E'] matrix row of each synapse's source
    v = np.searchsorted(nodes, target[rows])
    cost = -np.log(magnitude[rows] / magnitude[rows].max())  # [E'] >= 0

    # Parallel synapses: keep the cheapest (a sparse matrix would sum them).
    order = np.lexsort((cost, v, u))
    u, v, cost, rows = u[order], v[order], cost[order], rows[order]
    keep = np.ones(u.size, dtype=bool)
    keep[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    u, v, cost, rows = u[keep], v[keep], cost[keep], rows[keep]

    n = nodes.size
    # Explicit zeros (costs of the strongest synapses) stay edges in csgraph.
    # scipy is imported here, not at the top: the service imports this module, and
    # every `marble` process would otherwise load scipy at start-up for a GraphQL query.
    import scipy.sparse as sp
    from scipy.sparse.csgraph import dijkstra

    matrix = sp.csr_matrix((cost, (u, v)), shape=(n, n))
    first, last = int(np.searchsorted(nodes, start)), int(np.searchsorted(nodes, end))
    distance, predecessor = dijkstra(matrix, directed=True, indices=first, return_predecessors=True)
    if not np.isfinite(distance[last]):
        return None
    path = [last]
    while path[-1] != first:
        path.append(int(predecessor[path[-1]]))
    path.reverse()
    hops_u, hops_v = np.asarray(path[:-1]), np.asarray(path[1:])
    # (u, v) pairs are sorted and unique after the dedupe, so a pair key finds its row.
    pair_keys = u.astype(np.int64) * n + v
    hop_rows = rows[np.searchsorted(pair_keys, hops_u.astype(np.int64) * n + hops_v)]
    return StrongestPath(
        neurons=[int(nodes[i]) for i in path],
        edges=hop_rows,
        strength=float(np.prod(magnitude[hop_rows])),
        relative_strength=float(np.exp(-distance[last])),
    )


def find_pathway(
    graph: GraphStore, graph_key: int, start: int, end: int
) -> tuple[StrongestPath, pa.Table] | None:
    """The strongest path in one brain generation, with the synapse table its edges index."""
    synapses = GraphReads(graph).synapse_table(graph_key)
    found = strongest_path(
        synapses.column("source").to_numpy(),
        synapses.column("target").to_numpy(),
        synapses.column("weight").to_numpy(),
        start,
        end,
    )
    return None if found is None else (found, synapses)
