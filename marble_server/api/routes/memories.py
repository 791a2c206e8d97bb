"""A brain's memories: remember inputs and facts, recall by cosine, look up by key, forget.

Reads (the list, a key) need the ``read`` scope; recall runs the brain's
model on the query, as inference does, and needs ``infer``; remembering and
forgetting write to the brain and need ``train``. A key without memories is
a 404 naming it; bad input (an embedding of the wrong width, k outside
1..1000, both or neither forget rule) is a 422 naming it. docs/memory.md.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from marble_server.api.deps import InferToken, ReadToken, StateDep, TrainToken
from marble_server.api.memory_models import (
    MAX_KEY_LENGTH,
    MemoriesForgotten,
    Memory,
    MemoryForget,
    MemoryIds,
    MemoryPage,
    MemoryRecall,
    MemoryRemember,
)
from marble_server.api.models import BrainPath
from marble_server.auth import require_brain
from marble_server.row_json import objects_from_json

router = APIRouter(prefix="/brains", tags=["memories"])

KeyPath = Annotated[
    str, Path(min_length=1, max_length=MAX_KEY_LENGTH, description="A memory's key.")
]


@router.post("/{name}/memories", status_code=status.HTTP_201_CREATED, response_model=MemoryIds)
async def remember(
    name: BrainPath, body: MemoryRemember, state: StateDep, token: TrainToken
) -> MemoryIds:
    """Remember input rows or raw objects (each with its embedding, the brain's state for
    it) or, with neither, facts: a key and a JSON value each."""
    require_brain(token, name)
    objects = None if body.objects is None else objects_from_json(body.objects)
    ids = await asyncio.to_thread(
        state.service.remember,
        name,
        inputs=body.inputs,
        objects=objects,
        key=body.key,
        keys=body.keys,
        value=body.value,
        values=body.values,
    )
    return MemoryIds(brain=name, ids=ids)


@router.get("/{name}/memories", response_model=MemoryPage)
async def list_memories(
    name: BrainPath,
    state: StateDep,
    token: ReadToken,
    limit: Annotated[int, Query(ge=1, le=1000, description="Memories per page.")] = 50,
    before: Annotated[
        int | None, Query(ge=0, description="Only ids below this one (the next page).")
    ] = None,
) -> MemoryPage:
    """A page of the brain's memories and facts, newest first."""
    require_brain(token, name)
    page = await asyncio.to_thread(state.service.list_memories, name, limit, before)
    return MemoryPage(
        brain=name,
        total=page.total,
        next_before=page.next_before,
        memories=[Memory.of(m) for m in page.memories],
    )


@router.post("/{name}/memories/recall", response_model=list[Memory])
async def recall(
    name: BrainPath, body: MemoryRecall, state: StateDep, token: InferToken
) -> list[Memory]:
    """The k memories nearest one query by cosine similarity, nearest first (an empty
    list when the brain has none)."""
    require_brain(token, name)
    obj = None if body.object is None else objects_from_json(body.object, "object")
    found = await asyncio.to_thread(
        state.service.recall,
        name,
        features=body.features,
        obj=obj,
        embedding=body.embedding,
        k=body.k,
        exact=body.exact,
    )
    return [Memory.of(m) for m in found]


# ``:path``: a key may hold "/" (the server decodes %2F before it matches a route).
@router.get("/{name}/memories/keys/{key:path}", response_model=list[Memory])
async def lookup(name: BrainPath, key: KeyPath, state: StateDep, token: ReadToken) -> list[Memory]:
    """The memories and facts stored under ``key``, newest first (404 when none)."""
    require_brain(token, name)
    found = await asyncio.to_thread(state.service.lookup_memory, name, key)
    return [Memory.of(m) for m in found]


@router.post("/{name}/memories/forget", response_model=MemoriesForgotten)
async def forget(
    name: BrainPath, body: MemoryForget, state: StateDep, token: TrainToken
) -> MemoriesForgotten:
    """Forget memories created before ``older_than``, or all but the newest ``keep_last``."""
    require_brain(token, name)
    removed = await asyncio.to_thread(
        state.service.forget_memories, name, older_than=body.older_than, keep_last=body.keep_last
    )
    return MemoriesForgotten(brain=name, removed=removed)
