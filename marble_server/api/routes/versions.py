"""A brain's history: its versions, their tags, comparing two, rolling back to one.

A version is named by number or by tag (``/brains/wave/versions/best``).
Reads need the ``read`` scope; tagging and rolling back ``train``. An
unknown version or tag is a 404 (``not-found``) naming the versions and tags
the brain has; a version retention collected (``versions.keep``) is a 404 of
type ``version-collected``; a tag the brain already uses is a 409.

The diff is ``GET /brains/{name}/versions/{a}/diff/{b}``: what changed from
``a`` to ``b``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, status

from marble_graph.service import TAG
from marble_server import brain_writes
from marble_server.api.deps import ReadToken, StateDep, TrainToken
from marble_server.api.models import (
    Brain,
    BrainPath,
    BrainVersion,
    BrainVersionRefPath,
    RollbackRequest,
    TagCreate,
    VersionDiff,
)
from marble_server.auth import require_brain

router = APIRouter(prefix="/brains", tags=["versions"])

TagPath = Annotated[str, Path(pattern=TAG.pattern, description="A tag.")]


@router.get("/{name}/versions", response_model=list[BrainVersion])
async def list_versions(name: BrainPath, state: StateDep, token: ReadToken) -> list[BrainVersion]:
    """Committed versions, oldest first, with their tags; collected ones are flagged."""
    require_brain(token, name)
    rows = await asyncio.to_thread(state.service.list_versions, name)
    return [BrainVersion.model_validate(row) for row in rows]


@router.get("/{name}/versions/{ref}", response_model=BrainVersion)
async def show_version(
    name: BrainPath, ref: BrainVersionRefPath, state: StateDep, token: ReadToken
) -> BrainVersion:
    """One version by number or tag (also when collected: its record stays)."""
    require_brain(token, name)
    record = await asyncio.to_thread(state.service.show_version, name, ref)
    return BrainVersion.model_validate(record)


@router.get("/{name}/versions/{a}/diff/{b}", response_model=VersionDiff)
async def diff_versions(
    name: BrainPath,
    a: BrainVersionRefPath,
    b: BrainVersionRefPath,
    state: StateDep,
    token: ReadToken,
) -> VersionDiff:
    """What changed from version ``a`` to ``b``: neurons and synapses added and removed
    (ids listed up to ``ids_limit``), weight changes over the synapses in both."""
    require_brain(token, name)
    result = await asyncio.to_thread(state.service.diff_versions, name, a, b)
    return VersionDiff.model_validate(result)


@router.post(
    "/{name}/versions/{ref}/tags",
    status_code=status.HTTP_201_CREATED,
    response_model=BrainVersion,
)
async def tag_version(
    name: BrainPath, ref: BrainVersionRefPath, body: TagCreate, state: StateDep, token: TrainToken
) -> BrainVersion:
    """Name a version by a tag; retention never collects a tagged version."""
    require_brain(token, name)
    record = await asyncio.to_thread(state.service.tag_version, name, ref, body.tag)
    return BrainVersion.model_validate(record)


@router.delete("/{name}/tags/{tag}", response_model=BrainVersion)
async def untag_version(
    name: BrainPath, tag: TagPath, state: StateDep, token: TrainToken
) -> BrainVersion:
    """Remove a tag; answers the version it named."""
    require_brain(token, name)
    record = await asyncio.to_thread(state.service.untag_version, name, tag)
    return BrainVersion.model_validate(record)


@router.post("/{name}/rollback", response_model=Brain)
async def rollback(
    name: BrainPath, body: RollbackRequest, state: StateDep, token: TrainToken
) -> Brain:
    """Make an earlier version current again as a new version, identical to it bit for bit
    (refused while a training job works on the brain). Rolling back to the current version
    changes nothing."""
    require_brain(token, name)
    info = await asyncio.to_thread(brain_writes.rollback_brain, state, name, body.version)
    return Brain.model_validate(info.as_dict())
