"""Query root: brains and their graphs, strongest paths, read-only Cypher, jobs, datasets.

Every field needs a token with the ``read`` scope. A token limited to named
brains meets other brains (and their jobs) as NOT_FOUND, exactly like unknown
ones, and may not run Cypher (FORBIDDEN): an exploration query reads the whole
graph, every brain's nodes included.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any, cast

import pyarrow as pa
import strawberry
from strawberry.scalars import JSON

from marble_graph.errors import NotFound
from marble_graph.service import BrainService, uid_range
from marble_graph.tokens import Scope
from marble_server.graphql.activation_types import ActivationQueries
from marble_server.graphql.dataset_types import Dataset, DatasetDiff, DatasetVersion
from marble_server.graphql.errors import BAD_USER_INPUT, NOT_FOUND, ApiError
from marble_server.graphql.json_values import json_safe
from marble_server.graphql.memory_types import MemoryQueries
from marble_server.graphql.pagination import page_size
from marble_server.graphql.results import CypherResult, Job, Pathway
from marble_server.graphql.types import Brain, BrainVersion, First, Info, Neuron, Synapse
from marble_server.graphql.version_types import VersionDiff, VersionRef
from marble_server.row_json import DIFF_ROWS_MAX, rows_as_json

# Parameters the server binds for every exploration query, so a query can scope
# itself to the brain's current generation: `WHERE n.uid >= $lo AND n.uid < $hi`.
SCOPE_PARAMS = ("brain", "lo", "hi")
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@strawberry.type
class Query(MemoryQueries, ActivationQueries):
    @strawberry.field(
        description="One brain by name; NOT_FOUND when there is none the token may use."
    )
    async def brain(self, info: Info, name: str) -> Brain | None:
        info.context.require(Scope.READ)
        return Brain.from_info(await info.context.brain(name))

    @strawberry.field(description="Every committed brain the token may use, by name.")
    async def brains(self, info: Info) -> list[Brain]:
        ctx = info.context
        token = ctx.require(Scope.READ)
        brains = await ctx.engine(ctx.state.service.list_brains)
        return [Brain.from_info(b) for b in brains if token.may_use(b.name)]

    @strawberry.field(
        description="One version of a brain, by number or tag (a collected one too: its "
        "record stays)."
    )
    async def brain_version(
        self,
        info: Info,
        brain: str,
        version: VersionRef,
    ) -> BrainVersion:
        ctx = info.context
        ctx.require(Scope.READ)
        ctx.require_brain(brain)
        record = await ctx.engine(ctx.state.service.show_version, brain, version)
        return BrainVersion.from_record(record, brain)

    @strawberry.field(
        description="What changed from version a to version b (numbers or tags): neurons and "
        "synapses added and removed, weight changes. NOT_FOUND for an unknown or collected "
        "version."
    )
    async def version_diff(
        self,
        info: Info,
        brain: str,
        a: VersionRef,
        b: VersionRef,
    ) -> VersionDiff:
        ctx = info.context
        ctx.require(Scope.READ)
        ctx.require_brain(brain)
        return VersionDiff.from_dict(await ctx.engine(ctx.state.service.diff_versions, brain, a, b))

    @strawberry.field(description="One neuron of a brain's current version.")
    async def neuron(self, info: Info, brain: str, id: int) -> Neuron | None:
        info.context.require(Scope.READ)
        return await _neuron(info, brain, id)

    @strawberry.field(
        description="The strongest path from one neuron to another: the largest product of "
        "|weight| / max|weight| over its synapses. Null when no path joins them."
    )
    async def pathway(
        self,
        info: Info,
        brain: str,
        from_: Annotated[int, strawberry.argument(name="from")],
        to: int,
    ) -> Pathway | None:
        ctx = info.context
        ctx.require(Scope.READ)
        await asyncio.gather(_neuron(info, brain, from_), _neuron(info, brain, to))
        record = await ctx.brain(brain)
        found = await ctx.engine(ctx.state.service.pathway, record.graph_key, from_, to)
        if found is None:
            return None
        path, synapses = found
        rows = synapses.take(pa.array(path.edges, type=pa.int64())).to_pylist()
        return Pathway(
            neurons=path.neurons,
            synapses=[Synapse.from_row(brain, row) for row in rows],
            strength=path.strength,
            relative_strength=path.relative_strength,
            hops=len(rows),
        )

    @strawberry.field(
        description="A read-only Cypher query (row limit and timeout apply). $brain, $lo and "
        "$hi are bound to the brain's name and current uid range [lo, hi)."
    )
    async def cypher(
        self, info: Info, brain: str, query: str, params: JSON | None = None
    ) -> CypherResult:
        ctx = info.context
        ctx.require(Scope.READ)
        ctx.require_unlimited(
            "exploration queries read the whole graph; use a token not limited to brains"
        )
        given = _query_params(params)
        record = await ctx.brain(brain)
        lo, hi = uid_range(record.graph_key)
        scope = {"brain": brain, "lo": lo, "hi": hi}
        # The engine refuses parameters a query does not use: bind only the mentioned ones.
        mentioned = set(_PARAM.findall(query))
        bound = {**given, **{k: v for k, v in scope.items() if k in mentioned}}
        result = await ctx.engine(ctx.state.service.query, query, bound)
        return CypherResult(
            columns=list(result.columns), rows=json_safe(result.rows), truncated=result.truncated
        )

    @strawberry.field(description="Jobs, newest first, optionally of one brain or in one state.")
    async def jobs(
        self,
        info: Info,
        brain: str | None = None,
        state: str | None = None,
        first: First = None,
    ) -> list[Job]:
        ctx = info.context
        token = ctx.require(Scope.READ)
        limit = page_size(first, ctx.settings.graphql_page_max)
        views = await ctx.engine(ctx.state.jobs.list, brain, state, limit, token.brains)
        return [Job.from_view(v) for v in views]

    @strawberry.field(description="One job by id.")
    async def job(self, info: Info, id: strawberry.ID) -> Job | None:
        ctx = info.context
        ctx.require(Scope.READ)
        return Job.from_view(ctx.require_job(await ctx.engine(ctx.state.jobs.get, str(id))))

    # -- datasets ---------------------------------------------------------------------

    @strawberry.field(description="Every stored dataset, by name.")
    async def datasets(self, info: Info) -> list[Dataset]:
        ctx = info.context
        ctx.require(Scope.READ)
        rows = await ctx.engine(ctx.state.service.list_datasets)
        return [Dataset.from_row(row) for row in rows]

    @strawberry.field(description="One stored dataset by name; NOT_FOUND when there is none.")
    async def dataset(self, info: Info, name: str) -> Dataset | None:
        ctx = info.context
        ctx.require(Scope.READ)
        return await ctx.engine(_dataset, ctx.state.service, name)

    @strawberry.field(
        description="One dataset version by number or tag (default: the latest); NOT_FOUND "
        "names the versions and tags there are."
    )
    async def dataset_version(
        self, info: Info, name: str, ref: str | None = None
    ) -> DatasetVersion | None:
        ctx = info.context
        ctx.require(Scope.READ)
        found = await ctx.engine(ctx.state.service.dataset_version, name, ref)
        return DatasetVersion.from_info(found)

    @strawberry.field(
        description="Rows added and removed (counting repeats) from one version to another."
    )
    async def dataset_diff(
        self,
        info: Info,
        name: str,
        from_: Annotated[str, strawberry.argument(name="from")],
        to: str,
        limit: Annotated[
            int, strawberry.argument(description="Most rows listed of each side, 0..1000.")
        ] = 100,
    ) -> DatasetDiff | None:
        ctx = info.context
        ctx.require(Scope.READ)
        if not 0 <= limit <= DIFF_ROWS_MAX:
            raise ApiError(f"limit: expected 0..{DIFF_ROWS_MAX}, got {limit}", BAD_USER_INPUT)
        changes, info_a, info_b = await ctx.engine(ctx.state.service.diff_datasets, name, from_, to)
        return DatasetDiff(
            from_=DatasetVersion.from_info(info_a),
            to=DatasetVersion.from_info(info_b),
            added=changes.n_added,
            removed=changes.n_removed,
            base_hash=changes.base_hash,
            target_hash=changes.target_hash,
            added_rows=cast(JSON, rows_as_json(changes.added, limit)),
            removed_rows=cast(JSON, rows_as_json(changes.removed, limit)),
        )


def _dataset(service: BrainService, name: str) -> Dataset:
    """The dataset's summary; NotFound (naming the datasets there are) when unknown."""
    for row in service.list_datasets():
        if row["name"] == name:
            return Dataset.from_row(row)
    service.dataset_versions(name)  # raises the NotFound that names the known datasets
    raise NotFound(f"unknown dataset {name!r}")


async def _neuron(info: Info, brain: str, neuron_id: int) -> Neuron:
    """The neuron, through the request's loader; NOT_FOUND when the brain lacks it."""
    ctx = info.context
    record = await ctx.brain(brain)
    row = await ctx.loaders.neuron.load((brain, neuron_id))
    if row is None:
        raise ApiError(
            f"brain {brain!r} has no neuron with id {neuron_id} "
            f"(version {record.version}, {record.neuron_count} neurons)",
            NOT_FOUND,
        )
    return Neuron.from_row(brain, row)


def _query_params(params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ApiError(
            f"params: expected a JSON object of parameter values, got {type(params).__name__}",
            BAD_USER_INPUT,
        )
    reserved = sorted(set(params) & set(SCOPE_PARAMS))
    if reserved:
        raise ApiError(
            f"params: {reserved[0]!r} is bound by the server (brain name and uid range); "
            f"rename your parameter",
            BAD_USER_INPUT,
        )
    return dict(params)
