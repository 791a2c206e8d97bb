"""GraphQL types of operation results: jobs and their events, inference, paths, queries."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

import numpy as np
import strawberry
from strawberry.scalars import JSON

from marble_graph.service import Inference, JobView
from marble_server.events import JobEvent as EngineJobEvent
from marble_server.graphql.json_values import json_safe
from marble_server.graphql.types import Synapse


@strawberry.type(description="A background job (training) and where it stands.")
class Job:
    id: strawberry.ID
    kind: str
    state: str = strawberry.field(
        description="queued, running, succeeded, failed, cancelled or interrupted."
    )
    brain: str | None
    progress: float = strawberry.field(description="Fraction of planned epochs done, 0..1.")
    payload: JSON
    result: JSON | None
    error: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @classmethod
    def from_view(cls, view: JobView) -> Job:
        return cls.from_dict(view.as_dict())

    @classmethod
    def from_dict(cls, job: dict[str, Any]) -> Job:
        return cls(
            id=strawberry.ID(str(job["id"])),
            kind=str(job["kind"]),
            state=str(job["state"]),
            brain=job.get("brain"),
            progress=float(job.get("progress") or 0.0),
            payload=json_safe(job.get("payload") or {}),
            result=json_safe(job.get("result")),
            error=job.get("error"),
            created_at=_timestamp(job["created_at"]),
            started_at=_timestamp(job.get("started_at")),
            finished_at=_timestamp(job.get("finished_at")),
        )


@strawberry.type(description="One event of a job: a state change, an epoch's progress, or the end.")
class JobEvent:
    event: str = strawberry.field(description="state, progress or end (always last).")
    job: Job
    metrics: JSON = strawberry.field(description="The epoch's metrics, for progress events.")

    @classmethod
    def from_event(cls, event: EngineJobEvent) -> JobEvent:
        return cls(event=event.kind, job=Job.from_dict(event.job), metrics=json_safe(event.metrics))


@strawberry.type(description="Outputs of the brain for each input row.")
class InferenceResult:
    version: int = strawberry.field(description="The brain version that answered.")
    outputs: list[list[float]] = strawberry.field(description="[rows, outputs] raw outputs.")
    labels: list[int] | None = strawberry.field(
        description="Predicted class per row (classification brains)."
    )
    probabilities: list[list[float]] | None

    @classmethod
    def from_inference(cls, answer: Inference) -> InferenceResult:
        return cls(
            version=answer.version,
            outputs=answer.outputs.astype(np.float64).tolist(),
            labels=None if answer.labels is None else [int(v) for v in answer.labels],
            probabilities=None
            if answer.probabilities is None
            else answer.probabilities.astype(np.float64).tolist(),
        )


@strawberry.enum(description="auto derives signals from training; manual uses the stored values.")
class NeuromodulationMode(Enum):
    MANUAL = "manual"
    AUTO = "auto"


@strawberry.type(description="A brain's neuromodulation settings, used by its next training run.")
class Neuromodulation:
    mode: NeuromodulationMode
    reward: float
    stress: float
    arousal: float
    emotion: str
    arousal_gain: float
    min_factor: float
    max_factor: float

    @classmethod
    def from_section(cls, section: dict[str, Any]) -> Neuromodulation:
        return cls(
            mode=NeuromodulationMode(section["mode"]),
            reward=float(section["reward"]),
            stress=float(section["stress"]),
            arousal=float(section["arousal"]),
            emotion=str(section["emotion"]),
            arousal_gain=float(section["arousal_gain"]),
            min_factor=float(section["min_factor"]),
            max_factor=float(section["max_factor"]),
        )


@strawberry.type(
    description="The strongest path between two neurons: the largest product of "
    "|weight| / max|weight| over its synapses."
)
class Pathway:
    neurons: list[int] = strawberry.field(description="Neuron ids, from first to last.")
    synapses: list[Synapse] = strawberry.field(description="One synapse per hop, in order.")
    strength: float = strawberry.field(description="Product of |weight| along the path.")
    relative_strength: float = strawberry.field(
        description="Product of |weight| / max|weight| (the brain's strongest synapse): "
        "the quantity the path maximises, in (0, 1]."
    )
    hops: int


@strawberry.type(description="Rows of a read-only Cypher query.")
class CypherResult:
    columns: list[str]
    rows: JSON = strawberry.field(description="A list of rows, each a list of column values.")
    truncated: bool = strawberry.field(description="True when the row limit cut the result.")


@strawberry.type(description="A brain as a backup holds it: its current version.")
class BackupBrain:
    name: str
    version: int
    graph_hash: str
    neuron_count: int
    synapse_count: int


@strawberry.type(description="A finished backup of the data home.")
class BackupResult:
    path: str = strawberry.field(description="Where the backup lies, relative to the data home.")
    created_at: dt.datetime
    brains: list[BackupBrain]
    blobs: int = strawberry.field(description="Blob files copied.")
    bytes: float = strawberry.field(description="Size on disk (a Float: it may pass 2^31).")

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> BackupResult:
        return cls(
            path=str(summary["path"]),
            created_at=_timestamp(summary["created_at"]),
            brains=[
                BackupBrain(
                    name=b["name"],
                    version=b["version"],
                    graph_hash=b["graph_hash"],
                    neuron_count=b["neuron_count"],
                    synapse_count=b["synapse_count"],
                )
                for b in summary["brains"]
            ],
            blobs=int(summary["blobs"]),
            bytes=float(summary["bytes"]),
        )


def _timestamp(value: Any) -> Any:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))
