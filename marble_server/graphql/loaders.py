"""Per-request data loaders: all neurons a query asks about, fetched in one Cypher query.

A query such as ``neurons(first: 500) { edges { node { incoming { weight } } } }``
resolves ``incoming`` 500 times; each call only registers its key, and the
loader then runs one ``WHERE uid IN $uids`` query for the whole batch (one per
brain when a request mixes brains). Keys are ``(brain, id)``; the brain's
generation comes from the request's cached record, so every field of one
request reads the same version.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from strawberry.dataloader import DataLoader

from marble_graph.service import GraphReads, Row

if TYPE_CHECKING:
    from marble_server.graphql.context import MarbleContext

NeuronKey = tuple[str, int]  # (brain, neuron id)
LobeKey = tuple[str, int]  # (brain, lobe id)

_V = TypeVar("_V")


class Loaders:
    """The loaders of one request (caches must not outlive it: brains change)."""

    def __init__(self, context: MarbleContext) -> None:
        self._context = context
        self.neuron: DataLoader[NeuronKey, Row | None] = DataLoader(load_fn=self._neurons)
        self.incoming: DataLoader[NeuronKey, list[Row]] = DataLoader(load_fn=self._incoming)
        self.outgoing: DataLoader[NeuronKey, list[Row]] = DataLoader(load_fn=self._outgoing)
        self.lobe: DataLoader[NeuronKey, Row | None] = DataLoader(load_fn=self._lobes)
        self.lobe_members: DataLoader[LobeKey, int] = DataLoader(load_fn=self._lobe_members)

    async def _per_brain(
        self,
        keys: Sequence[tuple[str, int]],
        fetch: Callable[[GraphReads, int, list[int]], Any],
        pick: Callable[[Any, int], _V],
    ) -> list[_V]:
        """One ``fetch`` per brain among ``keys``; ``pick`` finds each id's value in its result."""
        ids_by_brain: dict[str, list[int]] = defaultdict(list)
        for brain, key_id in keys:
            ids_by_brain[brain].append(key_id)
        results: dict[str, Any] = {}
        for brain, ids in ids_by_brain.items():
            info = await self._context.brain(brain)
            reads = self._context.state.service.reads
            results[brain] = await self._context.engine(
                fetch, reads, info.graph_key, sorted(set(ids))
            )
        return [pick(results[brain], key_id) for brain, key_id in keys]

    async def _neurons(self, keys: list[NeuronKey]) -> list[Row | None]:
        return await self._per_brain(keys, _indexed(GraphReads.neurons_by_id, "id"), _get)

    async def _incoming(self, keys: list[NeuronKey]) -> list[list[Row]]:
        return await self._per_brain(keys, _grouped("in", "target"), _get_list)

    async def _outgoing(self, keys: list[NeuronKey]) -> list[list[Row]]:
        return await self._per_brain(keys, _grouped("out", "source"), _get_list)

    async def _lobes(self, keys: list[NeuronKey]) -> list[Row | None]:
        def fetch(reads: GraphReads, graph_key: int, ids: list[int]) -> dict[int, Row]:
            by_neuron: dict[int, Row] = {}
            # A neuron belongs to one lobe; should a store hold more, the lowest id wins.
            rows = reads.lobes_of_neurons(graph_key, ids)
            for row in sorted(rows, key=lambda r: r["id"]):
                by_neuron.setdefault(int(row["neuron"]), row)
            return by_neuron

        return await self._per_brain(keys, fetch, _get)

    async def _lobe_members(self, keys: list[LobeKey]) -> list[int]:
        return await self._per_brain(
            keys, GraphReads.lobe_member_counts, lambda counts, i: int(counts.get(i, 0))
        )


def _indexed(
    read: Callable[[GraphReads, int, list[int]], list[Row]], column: str
) -> Callable[[GraphReads, int, list[int]], dict[int, Row]]:
    def fetch(reads: GraphReads, graph_key: int, ids: list[int]) -> dict[int, Row]:
        return {int(row[column]): row for row in read(reads, graph_key, ids)}

    return fetch


def _grouped(direction: str, column: str) -> Callable[[GraphReads, int, list[int]], Any]:
    def fetch(reads: GraphReads, graph_key: int, ids: list[int]) -> dict[int, list[Row]]:
        grouped: dict[int, list[Row]] = defaultdict(list)
        for row in reads.synapses_touching(graph_key, ids, direction):
            grouped[int(row[column])].append(row)
        return grouped

    return fetch


def _get(found: dict[int, Row], key_id: int) -> Row | None:
    return found.get(key_id)


def _get_list(found: dict[int, list[Row]], key_id: int) -> list[Row]:
    return list(found.get(key_id, ()))
