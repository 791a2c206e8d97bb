"""GraphQL for a brain's memories: the ``Memory`` type and its query and mutation fields.

Queries: ``memories`` (a page, newest first) and ``lookup`` (by key) need
``read``; ``recall`` runs the brain's model on the query, as inference does,
and needs ``infer``. Mutations: ``remember`` and ``forget`` write to the
brain and need ``train``. ``Query`` and ``Mutation`` (queries.py,
mutations.py) take these fields from ``MemoryQueries`` and ``MemoryMutations``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from marble_graph.service import MemoryRecord
from marble_graph.tokens import Scope
from marble_server.graphql.errors import engine_errors
from marble_server.graphql.json_values import json_safe
from marble_server.graphql.types import Info
from marble_server.row_json import objects_from_json


@strawberry.type(description="A remembered input (with its embedding) or a fact (key and value).")
class Memory:
    id: int = strawberry.field(description="Increases per brain; never reused.")
    similarity: float | None = strawberry.field(
        description="Cosine similarity to the query (recall only)."
    )
    key: str | None
    value: JSON = strawberry.field(description="The JSON value remembered with it.")
    created_at: datetime
    brain_version: int = strawberry.field(description="The version whose state it holds.")
    neurons: list[int] = strawberry.field(description="The output neurons that carried it.")
    embedded: bool = strawberry.field(description="Whether it holds an embedding (false: a fact).")

    @classmethod
    def from_record(cls, record: MemoryRecord) -> Memory:
        return cls(
            id=record.id,
            similarity=record.similarity,
            key=record.key,
            value=json_safe(record.value),
            created_at=record.created_at,
            brain_version=record.brain_version,
            neurons=record.neurons,
            embedded=record.embedded,
        )


@strawberry.type(description="A page of a brain's memories, newest first.")
class MemoryPage:
    total: int = strawberry.field(description="Memories the brain holds, facts included.")
    next_before: int | None = strawberry.field(
        description="Pass as `before` for the next page; null: no more."
    )
    memories: list[Memory]


@strawberry.type
class MemoryQueries:
    @strawberry.field(description="A page of the brain's memories and facts, newest first.")
    async def memories(
        self,
        info: Info,
        brain: str,
        first: Annotated[int, strawberry.argument(description="1..1000 per page.")] = 50,
        before: Annotated[
            int | None, strawberry.argument(description="Only ids below this one.")
        ] = None,
    ) -> MemoryPage:
        ctx = info.context
        ctx.require(Scope.READ)
        ctx.require_brain(brain)
        page = await ctx.engine(ctx.state.service.list_memories, brain, first, before)
        return MemoryPage(
            total=page.total,
            next_before=page.next_before,
            memories=[Memory.from_record(m) for m in page.memories],
        )

    @strawberry.field(
        description="The k (1..1000) memories nearest one query by cosine similarity, nearest "
        "first: `features` (one input row), `object` (one raw object) or `embedding`. An empty "
        "list when the brain has none. Needs the infer scope."
    )
    async def recall(
        self,
        info: Info,
        brain: str,
        features: list[float] | None = None,
        object: JSON | None = None,
        embedding: list[float] | None = None,
        k: int = 10,
        exact: Annotated[
            bool, strawberry.argument(description="Scan the graph instead of the index.")
        ] = False,
    ) -> list[Memory]:
        ctx = info.context
        ctx.require(Scope.INFER)
        ctx.require_brain(brain)
        with engine_errors():
            raw = None if object is None else objects_from_json(object, "object")
        found = await ctx.engine(
            ctx.state.service.recall,
            brain,
            features=features,
            obj=raw,
            embedding=embedding,
            k=k,
            exact=exact,
        )
        return [Memory.from_record(m) for m in found]

    @strawberry.field(
        description="The memories and facts stored under `key`, newest first; NOT_FOUND when "
        "there is none."
    )
    async def lookup(self, info: Info, brain: str, key: str) -> list[Memory]:
        ctx = info.context
        ctx.require(Scope.READ)
        ctx.require_brain(brain)
        found = await ctx.engine(ctx.state.service.lookup_memory, brain, key)
        return [Memory.from_record(m) for m in found]


@strawberry.type
class MemoryMutations:
    @strawberry.mutation(
        description="Remember input rows or raw objects (each embedded by the current version) "
        "or, with neither, facts. `key`/`value` apply to every row, `keys`/`values` give one "
        "per row. Returns the new ids."
    )
    async def remember(
        self,
        info: Info,
        brain: str,
        inputs: list[list[float]] | None = None,
        objects: JSON | None = None,
        key: str | None = None,
        keys: list[str | None] | None = None,
        value: JSON | None = None,
        values: list[JSON] | None = None,
    ) -> list[int]:
        ctx = info.context
        ctx.require(Scope.TRAIN)
        ctx.require_brain(brain)
        with engine_errors():
            raw: Any = None if objects is None else objects_from_json(objects)
        ids: list[int] = await ctx.engine(
            ctx.state.service.remember,
            brain,
            inputs=inputs,
            objects=raw,
            key=key,
            keys=keys,
            value=value,
            values=values,
        )
        return ids

    @strawberry.mutation(
        description="Forget memories created before `olderThan`, or all but the newest "
        "`keepLast` (exactly one). Returns how many were removed."
    )
    async def forget(
        self,
        info: Info,
        brain: str,
        older_than: datetime | None = None,
        keep_last: int | None = None,
    ) -> int:
        ctx = info.context
        ctx.require(Scope.TRAIN)
        ctx.require_brain(brain)
        removed: int = await ctx.engine(
            ctx.state.service.forget_memories, brain, older_than=older_than, keep_last=keep_last
        )
        return removed
