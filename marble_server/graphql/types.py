"""The graph's GraphQL types: brains, neurons, synapses, lobes, and their connections.

Objects carry their brain's name (a private field) so their own fields can
load related rows through the request's data loaders; a ``Brain`` carries the
record read at the start of the request, so its pages, stats and lobes all
come from that one generation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from marble_graph.service import BrainInfo, BrainService, NeuronSelection, Row, SynapseSelection
from marble_server.graphql.context import MarbleContext
from marble_server.graphql.dataset_types import DatasetVersion, training_data
from marble_server.graphql.json_values import json_safe
from marble_server.graphql.pagination import decode_cursor, encode_cursor, page_size

Info = strawberry.Info[MarbleContext, None]
First = Annotated[
    int | None,
    strawberry.argument(
        description="Page size, 1..graphql_page_max (a server setting); 100 if omitted."
    ),
]
After = Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")]


@strawberry.type(description="How many neurons (or synapses) have one kind (or type).")
class CountByKey:
    key: str
    count: int


@strawberry.type(description="Live counts read from the graph store.")
class BrainStats:
    neurons_by_kind: list[CountByKey]
    synapses_by_type: list[CountByKey]


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="A group of neurons, formed by k-means on their states.")
class Lobe:
    id: int
    name: str
    attention: float
    brain: strawberry.Private[str]
    known_members: strawberry.Private[int | None] = None

    @strawberry.field(description="How many neurons belong to the lobe.")
    async def member_count(self, info: Info) -> int:
        if self.known_members is not None:
            return self.known_members
        return await info.context.loaders.lobe_members.load((self.brain, self.id))

    @classmethod
    def from_row(cls, brain: str, row: Row) -> Lobe:
        members = row.get("members")
        return cls(
            id=int(row["id"]),
            name=str(row["name"]),
            attention=float(row["attention"]),
            brain=brain,
            known_members=None if members is None else int(members),
        )


@strawberry.type(description="A directed, weighted connection between two neurons.")
class Synapse:
    id: int
    source: int = strawberry.field(description="Id of the neuron the synapse leaves.")
    target: int = strawberry.field(description="Id of the neuron the synapse enters.")
    weight: float
    synapse_type: str
    potential: float
    fatigue: float
    visit_count: int
    frozen: bool
    created_step: int
    brain: strawberry.Private[str]

    @strawberry.field
    async def source_neuron(self, info: Info) -> Neuron | None:
        row = await info.context.loaders.neuron.load((self.brain, self.source))
        return None if row is None else Neuron.from_row(self.brain, row)

    @strawberry.field
    async def target_neuron(self, info: Info) -> Neuron | None:
        row = await info.context.loaders.neuron.load((self.brain, self.target))
        return None if row is None else Neuron.from_row(self.brain, row)

    @classmethod
    def from_row(cls, brain: str, row: Row) -> Synapse:
        return cls(
            id=int(row["id"]),
            source=int(row["source"]),
            target=int(row["target"]),
            weight=float(row["weight"]),
            synapse_type=str(row["synapse_type"]),
            potential=float(row["potential"]),
            fatigue=float(row["fatigue"]),
            visit_count=int(row["visit_count"]),
            frozen=bool(row["frozen"]),
            created_step=int(row["created_step"]),
            brain=brain,
        )


@strawberry.type(description="A neuron; its synapses and lobe load in one query per request.")
class Neuron:
    id: int
    kind: str = strawberry.field(description="input, output, hidden or concept.")
    neuron_type: str
    bias: float
    attention: float
    energy: float
    state: list[float]
    created_step: int
    brain: strawberry.Private[str]

    @strawberry.field(description="Synapses entering this neuron, in synapse id order.")
    async def incoming(self, info: Info) -> list[Synapse]:
        rows = await info.context.loaders.incoming.load((self.brain, self.id))
        return [Synapse.from_row(self.brain, row) for row in rows]

    @strawberry.field(description="Synapses leaving this neuron, in synapse id order.")
    async def outgoing(self, info: Info) -> list[Synapse]:
        rows = await info.context.loaders.outgoing.load((self.brain, self.id))
        return [Synapse.from_row(self.brain, row) for row in rows]

    @strawberry.field(description="The lobe the neuron belongs to (none before training).")
    async def lobe(self, info: Info) -> Lobe | None:
        row = await info.context.loaders.lobe.load((self.brain, self.id))
        return None if row is None else Lobe.from_row(self.brain, row)

    @classmethod
    def from_row(cls, brain: str, row: Row) -> Neuron:
        return cls(
            id=int(row["id"]),
            kind=str(row["kind"]),
            neuron_type=str(row["neuron_type"]),
            bias=float(row["bias"]),
            attention=float(row["attention"]),
            energy=float(row["energy"]),
            state=[float(v) for v in row["state"] or ()],
            created_step=int(row["created_step"]),
            brain=brain,
        )


CountQuery = Callable[[], Awaitable[int]]


@strawberry.type
class NeuronEdge:
    cursor: str
    node: Neuron


@strawberry.type
class NeuronConnection:
    edges: list[NeuronEdge]
    page_info: PageInfo
    count: strawberry.Private[CountQuery]

    @strawberry.field(description="Neurons matching the filter, over all pages (one count query).")
    async def total_count(self) -> int:
        return await self.count()


@strawberry.type
class SynapseEdge:
    cursor: str
    node: Synapse


@strawberry.type
class SynapseConnection:
    edges: list[SynapseEdge]
    page_info: PageInfo
    count: strawberry.Private[CountQuery]

    @strawberry.field(description="Synapses matching the filter, over all pages (one count query).")
    async def total_count(self) -> int:
        return await self.count()


@strawberry.input(description="Neurons to list; every given field must match.")
class NeuronFilter:
    kind: str | None = None
    neuron_type: str | None = None
    lobe: str | None = strawberry.field(default=None, description="Lobe name, e.g. lobe-0.")


@strawberry.input(description="Synapses to list; every given field must match.")
class SynapseFilter:
    synapse_type: str | None = None
    min_weight: float | None = strawberry.field(
        default=None, description="Lower bound on the absolute weight."
    )
    source: int | None = strawberry.field(default=None, description="Source neuron id.")
    target: int | None = strawberry.field(default=None, description="Target neuron id.")


@strawberry.type(description="One numbered version of a brain's graph.")
class BrainVersion:
    version: int
    state: str
    parent_version: int | None
    graph_hash: str | None
    neuron_count: int
    synapse_count: int
    metrics: JSON
    note: str | None
    created_at: datetime
    committed_at: datetime | None
    tags: list[str] = strawberry.field(description="Tags naming this version.")
    current: bool = strawberry.field(description="Whether this is the current version.")
    collected: bool = strawberry.field(
        description="Retention (versions.keep) removed its snapshot: it can no longer be "
        "served, compared or rolled back to."
    )
    collected_at: datetime | None
    brain: strawberry.Private[str]

    @strawberry.field(
        description="The dataset versions that trained this version and its ancestors, each "
        "once, the newest training's first; derivedFrom on each leads to its parents."
    )
    async def trained_on(self, info: Info) -> list[DatasetVersion]:
        ctx = info.context
        return await ctx.engine(training_data, ctx.state.service, self.brain, self.version)

    @classmethod
    def from_record(cls, row: dict[str, Any], brain: str) -> BrainVersion:
        """A version record of ``brain`` as the service lists it (``list_versions``,
        ``show_version``)."""
        return cls(
            version=row["version"],
            state=row["state"],
            parent_version=row["parent_version"],
            graph_hash=row["graph_hash"],
            neuron_count=row["neuron_count"],
            synapse_count=row["synapse_count"],
            metrics=json_safe(row["metrics"]),
            note=row["note"],
            created_at=row["created_at"],
            committed_at=row["committed_at"],
            tags=list(row["tags"]),
            current=bool(row["current"]),
            collected=bool(row["collected"]),
            collected_at=row["collected_at"],
            brain=brain,
        )


@strawberry.type(description="A brain: its record, live statistics and graph.")
class Brain:
    name: str
    version: int = strawberry.field(description="The current committed version.")
    neuron_count: int
    synapse_count: int
    graph_hash: str
    config_hash: str
    random_seed: int
    created_at: datetime
    damage: str | None = strawberry.field(
        description="Why the stored graph no longer matches this version (null: it does); "
        "nothing trains or serves it until the repairBrain mutation."
    )
    record: strawberry.Private[BrainInfo]

    @classmethod
    def from_info(cls, info: BrainInfo) -> Brain:
        return cls(
            name=info.name,
            version=info.version,
            neuron_count=info.neuron_count,
            synapse_count=info.synapse_count,
            graph_hash=info.graph_hash,
            config_hash=info.config_hash,
            random_seed=info.random_seed,
            created_at=info.created_at,
            damage=info.damage,
            record=info,
        )

    @strawberry.field
    async def stats(self, info: Info) -> BrainStats:
        ctx = info.context
        kinds, types = await ctx.engine(ctx.state.service.graph_counts, self.record.graph_key)
        return BrainStats(neurons_by_kind=_counts(kinds), synapses_by_type=_counts(types))

    @strawberry.field(description="Neurons in id order, a page at a time.")
    async def neurons(
        self,
        info: Info,
        filter: NeuronFilter | None = None,
        first: First = None,
        after: After = None,
    ) -> NeuronConnection:
        ctx, given = info.context, filter or NeuronFilter()
        size = page_size(first, ctx.settings.graphql_page_max)
        selection = NeuronSelection(given.kind, given.neuron_type, given.lobe)
        reads, key = ctx.state.service.reads, self.record.graph_key
        rows = await ctx.engine(
            reads.neuron_page, key, selection, decode_cursor(after, "neuron"), size + 1
        )
        edges = [
            NeuronEdge(
                cursor=encode_cursor("neuron", int(r["id"])), node=Neuron.from_row(self.name, r)
            )
            for r in rows[:size]
        ]

        async def count() -> int:
            return await ctx.engine(reads.neuron_count, key, selection)

        return NeuronConnection(
            edges=edges, page_info=_page_info(edges, len(rows) > size), count=count
        )

    @strawberry.field(description="Synapses in id order, a page at a time.")
    async def synapses(
        self,
        info: Info,
        filter: SynapseFilter | None = None,
        first: First = None,
        after: After = None,
    ) -> SynapseConnection:
        ctx, given = info.context, filter or SynapseFilter()
        size = page_size(first, ctx.settings.graphql_page_max)
        selection = SynapseSelection(
            given.synapse_type, given.min_weight, given.source, given.target
        )
        reads, key = ctx.state.service.reads, self.record.graph_key
        rows = await ctx.engine(
            reads.synapse_page,
            key,
            selection,
            decode_cursor(after, "synapse"),
            size + 1,
        )
        edges = [
            SynapseEdge(
                cursor=encode_cursor("synapse", int(r["id"])), node=Synapse.from_row(self.name, r)
            )
            for r in rows[:size]
        ]

        async def count() -> int:
            return await ctx.engine(reads.synapse_count, key, selection)

        return SynapseConnection(
            edges=edges, page_info=_page_info(edges, len(rows) > size), count=count
        )

    @strawberry.field(description="Lobes in id order, with their member counts.")
    async def lobes(self, info: Info) -> list[Lobe]:
        ctx = info.context
        rows = await ctx.engine(ctx.state.service.reads.brain_lobes, self.record.graph_key)
        return [Lobe.from_row(self.name, row) for row in rows]

    @strawberry.field(
        description="Committed versions, oldest first (one still being written is not listed)."
    )
    async def versions(self, info: Info) -> list[BrainVersion]:
        # The service's listing, the one REST uses, so both show the same versions.
        return await info.context.engine(brain_versions, info.context.state.service, self.name)


def brain_versions(service: BrainService, name: str) -> list[BrainVersion]:
    """The brain's committed versions, oldest first (the listing REST uses too)."""
    return [BrainVersion.from_record(row, name) for row in service.list_versions(name)]


def _counts(counts: dict[str, int]) -> list[CountByKey]:
    return [CountByKey(key=key, count=int(counts[key])) for key in sorted(counts)]


def _page_info(edges: list[Any], has_next: bool) -> PageInfo:
    return PageInfo(has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None)
