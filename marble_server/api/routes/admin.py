"""/admin: operations on the whole data home (admin scope); today, online backup."""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from marble_graph.backup_format import BACKUP_NAME
from marble_server.api.deps import AdminToken, StateDep
from marble_server.api.models import StrictModel
from marble_server.auth import require_unlimited

router = APIRouter(prefix="/admin", tags=["admin"])


class BackupRequest(StrictModel):
    destination: str = Field(
        pattern=BACKUP_NAME.pattern,
        description="Name of the backup, written to <home>/backups/<destination>: 1-128 "
        "letters, digits, _ - . starting with a letter or digit (a name, never a path).",
    )


class BackupBrain(BaseModel):
    name: str
    version: int
    graph_key: int
    graph_hash: str
    neuron_count: int
    synapse_count: int


class BackupSummary(BaseModel):
    path: str = Field(description="Where the backup lies, relative to the data home.")
    created_at: datetime
    brains: list[BackupBrain]
    blobs: int = Field(description="Blob files copied (trained parameters, snapshots, datasets).")
    bytes: int = Field(description="Size of the backup on disk.")


@router.post("/backup", status_code=status.HTTP_201_CREATED, response_model=BackupSummary)
async def backup(body: BackupRequest, state: StateDep, token: AdminToken) -> BackupSummary:
    """Copy the data home, as one consistent state, to ``<home>/backups/<destination>``.

    Serving and training go on meanwhile; a training job's final write-back waits
    until the copy is done. An existing name is refused (409). Restore it with
    ``marble restore`` into an empty home.
    """
    require_unlimited(token, "a backup copies every brain")
    service = state.service
    manifest = await asyncio.to_thread(service.backup_into_home, body.destination)
    return BackupSummary.model_validate(manifest.summary(service.home.root))
