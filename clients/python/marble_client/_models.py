"""The server's answers as typed, immutable pydantic models.

Fields follow the server's JSON (``schema/openapi.json``); fields a newer server
adds are ignored, so an older client keeps working.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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
    tags: list[str] = Field(default_factory=list)
    """Tags naming this version."""
    current: bool = False
    """Whether this is the brain's current version."""
    collected: bool = False
    """Retention removed its snapshot: it can no longer be served, compared or restored."""
    collected_at: datetime | None = None


class VersionSide(MarbleModel):
    """One side of a ``VersionDiff``."""

    version: int
    graph_hash: str
    neuron_count: int
    synapse_count: int


class IdChanges(MarbleModel):
    """Ids added and removed; the id lists hold at most ``VersionDiff.ids_limit`` each."""

    added: int
    removed: int
    added_ids: list[int]
    removed_ids: list[int]


class SynapseChanges(IdChanges):
    """Synapses added and removed (a synapse is its id with its endpoints)."""

    common: int


class WeightChanges(MarbleModel):
    """Weight changes over the synapses in both versions."""

    compared: int
    changed: int
    mean_abs_change: float
    max_abs_change: float
    mean_change: float
    rms_change: float


class VersionDiff(MarbleModel):
    """``GET /brains/{name}/versions/{a}/diff/{b}``: what changed from ``a`` to ``b``."""

    brain: str
    a: VersionSide
    b: VersionSide
    neurons: IdChanges
    synapses: SynapseChanges
    weights: WeightChanges
    ids_limit: int


class InferResult(MarbleModel):
    """Outputs for each input row (a single row is a batch of one), and the version used."""

    brain: str
    version: int
    outputs: list[list[float]]
    labels: list[int] | None = None
    probabilities: list[list[float]] | None = None
    decoded: list[Any] | None = None
    """For ``objects``: each output decoded by the target's encoder (a label, a number,
    or bytes as ``{"base64": ...}``); None when it cannot decode."""


class NeuronActivations(MarbleModel):
    """``POST /brains/{name}/activations``: every neuron's final state for one input, in
    neuron id order, and the brain's outputs for it (``states[i]`` is ``neurons[i]``'s)."""

    brain: str
    version: int
    representation_size: int
    neurons: list[int]
    kinds: list[str]
    """Each neuron's kind: input, hidden, output (or concept)."""
    states: list[list[float]]
    """``representation_size`` values per neuron."""
    outputs: list[float]
    probabilities: list[float] | None = None
    """For classification and binary brains; None otherwise."""


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


class DatasetSummary(MarbleModel):
    """A stored dataset as listed: its name and how many versions it has."""

    name: str
    description: str | None
    created_at: datetime
    versions: int
    latest_version: int | None


class DatasetVersion(MarbleModel):
    """One immutable version of a stored dataset; ``spec`` (NAME@N) names it for training."""

    dataset: str
    version: int
    spec: str
    content_hash: str
    n_rows: int
    n_features: int
    columns: list[dict[str, Any]]
    encoding: dict[str, Any] | None = None
    parent: str | None
    note: str | None
    tags: list[str]
    created_at: datetime
    created: bool | None = None
    """After ``upload`` or ``revert``: False when the rows equal the latest version's, which
    is the version returned (nothing new was recorded); None on reads."""


class DatasetDiff(MarbleModel):
    """Rows added and removed (counting repeats) from one version to another."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    added: int
    removed: int
    base_hash: str
    target_hash: str
    added_rows: list[dict[str, Any]]
    """Up to ``limit`` added rows; bytes as ``{"base64": ...}``."""
    removed_rows: list[dict[str, Any]]


class TrainedBrain(MarbleModel):
    """A brain version trained directly on a dataset version."""

    brain: str
    version: int
    graph_hash: str


class Memory(MarbleModel):
    """A remembered input (with its embedding, the brain's state for it) or a fact."""

    id: int
    similarity: float | None = None
    """Cosine similarity to the query (``recall`` only)."""
    key: str | None
    value: Any
    created_at: datetime
    brain_version: int
    neurons: list[int]
    """The output neurons that carried the input."""
    embedded: bool
    """Whether it holds an embedding (False: a fact)."""


class MemoryPage(MarbleModel):
    """``GET /brains/{name}/memories``: a page of memories, newest first."""

    brain: str
    total: int
    next_before: int | None
    """Pass as ``before`` for the next page; None: no more."""
    memories: list[Memory]
