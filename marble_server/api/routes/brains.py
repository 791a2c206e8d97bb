"""/brains: create, list, get, delete, and each brain's versions."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response, status

from marble_graph.config import with_overrides
from marble_graph.errors import Conflict
from marble_graph.versions import list_versions
from marble_server.api.deps import AdminToken, ReadToken, StateDep, TrainToken
from marble_server.api.models import Brain, BrainCreate, BrainDetails, BrainVersion
from marble_server.jobs import check_api_dataset

router = APIRouter(prefix="/brains", tags=["brains"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=BrainDetails)
async def create_brain(body: BrainCreate, state: StateDep, _: TrainToken) -> BrainDetails:
    """Seed a new brain (from a dataset's preset when ``dataset`` is given) and persist it."""
    service = state.service
    config = state.config
    if body.seed is not None:
        config = with_overrides(config, {"seed.random_seed": body.seed})

    def create() -> BrainDetails:
        if body.dataset is None:
            service.create_brain(body.name, config)
        else:
            service.create_brain_for_dataset(body.name, check_api_dataset(body.dataset), config)
        return BrainDetails.model_validate(service.show_brain(body.name).as_dict())

    return await asyncio.to_thread(create)


@router.get("", response_model=list[Brain])
async def list_brains(state: StateDep, _: ReadToken) -> list[Brain]:
    brains = await asyncio.to_thread(state.service.list_brains)
    return [Brain.model_validate(b.as_dict()) for b in brains]


@router.get("/{name}", response_model=BrainDetails)
async def get_brain(name: str, state: StateDep, _: ReadToken) -> BrainDetails:
    details = await asyncio.to_thread(state.service.show_brain, name)
    return BrainDetails.model_validate(details.as_dict())


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_brain(name: str, state: StateDep, _: AdminToken) -> Response:
    """Delete a brain and its versions; refused while a training job works on it."""

    def delete() -> None:
        active = state.jobs.active_for(name)
        if active is not None:
            raise Conflict(
                f"brain {name!r} has {active.state} job {active.id}; cancel it before deleting"
            )
        state.service.delete_brain(name)
        state.models.forget(name)

    await asyncio.to_thread(delete)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{name}/versions", response_model=list[BrainVersion])
async def brain_versions(name: str, state: StateDep, _: ReadToken) -> list[BrainVersion]:
    rows = await asyncio.to_thread(list_versions, state.service, name)
    return [BrainVersion.model_validate(row) for row in rows]
