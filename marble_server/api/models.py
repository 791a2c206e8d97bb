"""Request and response bodies of the REST API (they become the OpenAPI schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from marble_graph.datasets import BUILTIN_DATASETS
from marble_graph.errors import ValidationFailed
from marble_graph.service import BRAIN_NAME
from marble_server.brain_writes import check_api_dataset


def _builtin_dataset(value: str) -> str:
    try:
        return check_api_dataset(value)
    except ValidationFailed as exc:
        # Context, not the template, carries the message: a value may hold braces.
        raise PydanticCustomError("builtin_dataset", "{reason}", {"reason": str(exc)}) from exc


# The schema lists the built-in datasets (the only ones the API accepts), from the
# same tuple the server checks against, so a generated client cannot send another.
DatasetName = Annotated[
    str,
    AfterValidator(_builtin_dataset),
    WithJsonSchema({"type": "string", "enum": list(BUILTIN_DATASETS)}),
]


def _whole_number(value: Any) -> Any:
    # JSON (and the OpenAPI schema) count 3.0 as an integer; strict mode alone would not.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# The largest integer every JSON client holds exactly: the bound of unbounded counts and
# seeds, so a generated client never sends one that a float would round past a limit.
JSON_SAFE_MAX = 2**53 - 1

# A strict model's integer fields take this after their bounds: they refuse true and
# "3" and accept 3 and 3.0 (bounds first, or the schema shows them as raw ``ge``).
WHOLE_NUMBER = BeforeValidator(_whole_number)

# A brain's name in a path: the schema carries the same pattern brain creation enforces.
BrainPath = Annotated[
    str, Path(pattern=BRAIN_NAME.pattern, description="1-128 letters, digits, _ - .")
]


class StrictModel(BaseModel):
    # Floats must be finite: JSON has no NaN, but Python's parser accepts the literal.
    # Strict: a value of another JSON type (true for an integer, "1.5" for a number) is
    # refused, as the OpenAPI schema says, instead of being coerced.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class BrainCreate(StrictModel):
    name: str = Field(pattern=BRAIN_NAME.pattern, description="1-128 letters, digits, _ - .")
    dataset: DatasetName | None = Field(
        default=None, description="Size the brain for this built-in dataset and use its preset."
    )
    # Inside seed.random_seed's bounds, so the schema refuses what the config would.
    seed: Annotated[int, Field(ge=0, le=JSON_SAFE_MAX), WHOLE_NUMBER] | None = Field(
        default=None, description="Override seed.random_seed."
    )


class Brain(BaseModel):
    name: str
    version: int
    neuron_count: int
    synapse_count: int
    graph_hash: str
    config_hash: str
    random_seed: int
    created_at: datetime
    damage: str | None = Field(
        default=None,
        description="Why the stored graph no longer matches this version (null: it does); "
        "nothing trains or serves a damaged brain until POST /brains/{name}/repair.",
    )


class RepairReport(BaseModel):
    name: str
    version: int
    repaired: bool = Field(description="False when the brain was intact and nothing changed.")
    graph_hash: str
    detail: str


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


_ROW_SCHEMA = {"type": "array", "minItems": 1, "items": {"type": "number"}}


class InferRequest(StrictModel):
    brain: str = Field(pattern=BRAIN_NAME.pattern, description="Name of the brain.")
    inputs: Annotated[
        list[Annotated[list[float], Field(min_length=1)]],
        # The schema states both accepted forms; the validator below turns one row into a batch.
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "array", "minItems": 1, "items": _ROW_SCHEMA},
                    _ROW_SCHEMA,
                ]
            }
        ),
    ] = Field(
        min_length=1,
        description="One input row, or a batch of rows, each as wide as the brain's inputs.",
    )
    version: Annotated[int, Field(ge=1), WHOLE_NUMBER] | None = Field(
        default=None, description="Serve exactly this version (default: the current)."
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
    dataset: DatasetName = Field(description="Built-in dataset to train on.")
    epochs: Annotated[int, Field(ge=1, le=100_000), WHOLE_NUMBER] | None = None


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


class ServiceLinks(BaseModel):
    """Where the API describes itself (paths on this server)."""

    docs: str = Field(description="Interactive REST docs (Swagger UI).")
    openapi: str = Field(description="The OpenAPI document.")
    graphiql: str | None = Field(
        description="GraphiQL, the in-browser GraphQL IDE; null when the server has it off."
    )


class ServiceIndex(BaseModel):
    """What ``GET /`` answers: the service, its version and its documentation."""

    name: str
    version: str
    links: ServiceLinks


class ProblemDetails(BaseModel):
    """RFC 9457 problem details: every error response of the API."""

    type: str = Field(description="Stable URI of the problem kind, urn:marble:problem:<slug>.")
    title: str
    status: int
    detail: str = Field(description="What is wrong, naming the field, value or limit.")
    instance: str | None = None
