"""Request and response bodies of the REST API (they become the OpenAPI schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from marble_graph.service import BRAIN_NAME


class StrictModel(BaseModel):
    # Floats must be finite: JSON has no NaN, but Python's parser accepts the literal.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class BrainCreate(StrictModel):
    name: str = Field(pattern=BRAIN_NAME.pattern, description="1-128 letters, digits, _ - .")
    dataset: str | None = Field(
        default=None, description="Size the brain for this built-in dataset and use its preset."
    )
    seed: int | None = Field(default=None, ge=0, description="Override seed.random_seed.")


class Brain(BaseModel):
    name: str
    version: int
    neuron_count: int
    synapse_count: int
    graph_hash: str
    config_hash: str
    random_seed: int
    created_at: datetime


class BrainDetails(Brain):
    neurons_by_kind: dict[str, int]
    synapses_by_type: dict[str, int]
    config: dict[str, Any]


class BrainVersion(BaseModel):
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


class InferRequest(StrictModel):
    brain: str = Field(description="Name of the brain.")
    inputs: list[list[float]] = Field(
        description="One input row, or a batch of rows, each as wide as the brain's inputs."
    )
    version: int | None = Field(
        default=None, ge=1, description="Serve exactly this version (default: the current)."
    )

    @field_validator("inputs", mode="before")
    @classmethod
    def _one_row_is_a_batch_of_one(cls, value: Any) -> Any:
        if isinstance(value, list) and value and not isinstance(value[0], list):
            return [value]
        return value


class InferResponse(BaseModel):
    brain: str
    version: int
    outputs: list[list[float]]
    labels: list[int] | None = None
    probabilities: list[list[float]] | None = None


class TrainRequest(StrictModel):
    dataset: str = Field(description="Built-in dataset to train on (digits, sine, ...).")
    epochs: int | None = Field(default=None, ge=1, le=100_000)


class Job(BaseModel):
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


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    """Only the status: an unauthenticated probe learns no paths, URLs, engine or brain count."""

    status: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details: every error response of the API."""

    type: str = Field(description="Stable URI of the problem kind, urn:marble:problem:<slug>.")
    title: str
    status: int
    detail: str = Field(description="What is wrong, naming the field, value or limit.")
    instance: str | None = None
