"""The server's answers as typed, immutable pydantic models.

Fields follow the server's JSON (``schema/openapi.json``); fields a newer server
adds are ignored, so an older client keeps working.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

# Jobs move queued -> running -> one of the finished states.
FINISHED_STATES = frozenset({"succeeded", "failed", "cancelled", "interrupted"})


class MarbleModel(BaseModel):
    """Base of every response model: frozen, unknown fields ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Health(MarbleModel):
    """``GET /health``: the process is up."""

    status: str


class Ready(MarbleModel):
    """``GET /ready``: both stores are open and answer (the status only: no token, no details)."""

    status: str


class Brain(MarbleModel):
    """A brain as listed: its current committed version and its size."""

    name: str
    version: int
    neuron_count: int
    synapse_count: int
    graph_hash: str
    config_hash: str
    random_seed: int
    created_at: datetime
    damage: str | None = None
    """Why the stored graph no longer matches this version; None when it does."""


class RepairReport(MarbleModel):
    """``POST /brains/{name}/repair``: what the repair found and did."""

    name: str
    version: int
    repaired: bool
    graph_hash: str
    detail: str


class BrainDetails(Brain):
    """One brain in full: counts by kind and type, and its config."""

    neurons_by_kind: dict[str, int]
    synapses_by_type: dict[str, int]
    config: dict[str, Any]


class BrainVersion(MarbleModel):
    """One numbered version of a brain's graph."""

    version: int
    state: str
    parent_version: int | None
    graph_hash: str
    neuron_count: int
    synapse_count: int
    note: str | None
    metrics: dict[str, Any]
    run_id: int | None
    created_at: datetime
    committed_at: datetime | None


class InferResult(MarbleModel):
    """Outputs for each input row (a single row is a batch of one), and the version used."""

    brain: str
    version: int
    outputs: list[list[float]]
    labels: list[int] | None = None
    probabilities: list[list[float]] | None = None


class JobRecord(MarbleModel):
    """A background job as the server last reported it."""

    id: str
    kind: str
    state: str
    brain: str | None
    progress: float
    payload: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        """Whether the job reached a final state (succeeded, failed, cancelled, interrupted)."""
        return self.state in FINISHED_STATES

    @property
    def succeeded(self) -> bool:
        return self.state == "succeeded"


class JobEvent(MarbleModel):
    """One server-sent event of a job: ``state``, ``progress`` (per epoch) or ``end`` (last)."""

    event: str
    job: JobRecord
    metrics: dict[str, Any] = {}


class BackupBrain(MarbleModel):
    """One brain as a backup holds it: its current version when the backup was taken."""

    name: str
    version: int
    graph_key: int
    graph_hash: str
    neuron_count: int
    synapse_count: int


class BackupSummary(MarbleModel):
    """``POST /admin/backup``: where the backup lies (relative to the data home), its brains."""

    path: str
    created_at: datetime
    brains: list[BackupBrain]
    blobs: int
    bytes: int


class CypherResult(MarbleModel):
    """Rows of a read-only Cypher query; ``truncated`` when the server's row limit cut it."""

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool


class GraphHeader(MarbleModel):
    """The first line of a graph export: which version, and rows per table in it."""

    brain: str
    version: int
    graph_hash: str
    counts: dict[str, int]
    offset: int
    limit: int | None


class GraphRow(MarbleModel):
    """One row of a graph export: its ``table`` and its column ``values``."""

    table: str
    values: dict[str, Any]
