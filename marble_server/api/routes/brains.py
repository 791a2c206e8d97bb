"""/brains: create, list, get, delete, repair (versions: routes/versions.py)."""

from __future__ import annotations

import asyncio
import dataclasses

from fastapi import APIRouter, Response, status

from marble_server import brain_writes
from marble_server.api.deps import AdminToken, ReadToken, StateDep, TrainToken
from marble_server.api.models import (
    Brain,
    BrainCreate,
    BrainDetails,
    BrainPath,
    RepairReport,
)
from marble_server.auth import require_brain, require_new_brain

router = APIRouter(prefix="/brains", tags=["brains"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=BrainDetails)
async def create_brain(body: BrainCreate, state: StateDep, token: TrainToken) -> BrainDetails:
    """Seed a new brain (from a dataset's preset when ``dataset`` is given) and persist it.

    A token limited to named brains may create only a brain of its list (403 otherwise).
    """
    require_new_brain(token, body.name)

    def create() -> BrainDetails:
        brain_writes.create_brain(state, body.name, body.dataset, body.seed)
        return BrainDetails.model_validate(state.service.show_brain(body.name).as_dict())

    return await asyncio.to_thread(create)


@router.get("", response_model=list[Brain])
async def list_brains(state: StateDep, token: ReadToken) -> list[Brain]:
    """Every committed brain the token may use, by name."""
    brains = await asyncio.to_thread(state.service.list_brains)
    return [Brain.model_validate(b.as_dict()) for b in brains if token.may_use(b.name)]


@router.get("/{name}", response_model=BrainDetails)
async def get_brain(name: BrainPath, state: StateDep, token: ReadToken) -> BrainDetails:
    require_brain(token, name)
    details = await asyncio.to_thread(state.service.show_brain, name)
    return BrainDetails.model_validate(details.as_dict())


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_brain(name: BrainPath, state: StateDep, token: AdminToken) -> Response:
    """Delete a brain and its versions; refused while a training job works on it."""
    require_brain(token, name)

    await asyncio.to_thread(brain_writes.delete_brain, state, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{name}/repair", response_model=RepairReport)
async def repair_brain(name: BrainPath, state: StateDep, token: AdminToken) -> RepairReport:
    """Rebuild a damaged brain's current version from its snapshot (a no-op when intact)."""
    require_brain(token, name)
    report = await asyncio.to_thread(state.service.repair_brain, name)
    return RepairReport.model_validate(dataclasses.asdict(report))
