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
    model_validator,
)
from pydantic_core import PydanticCustomError

from marble_graph.datasets import BUILTIN_DATASETS
from marble_graph.errors import ValidationFailed
from marble_graph.service import BRAIN_NAME, DATASET_NAME, TAG
from marble_server.brain_writes import API_DATASET_SPEC, check_api_dataset


def _api_dataset(value: str) -> str:
    try:
        return check_api_dataset(value)
    except ValidationFailed as exc:
        # Context, not the template, carries the message: a value may hold braces.
        raise PydanticCustomError("api_dataset", "{reason}", {"reason": str(exc)}) from exc


# The schema states the pattern the server checks (a built-in dataset, or a stored
# NAME, NAME@VERSION or NAME@TAG), so a generated client cannot send a path.
DatasetName = Annotated[
    str,
    AfterValidator(_api_dataset),
    WithJsonSchema(
        {"type": "string", "pattern": API_DATASET_SPEC.pattern, "examples": list(BUILTIN_DATASETS)}
    ),
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
        default=None,
        description="Size the brain for this dataset and use its task's preset: a built-in "
        "dataset, or a stored NAME (its latest version), NAME@VERSION or NAME@TAG.",
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
    tags: list[str] = Field(default_factory=list, description="Tags naming this version.")
    current: bool = Field(default=False, description="Whether this is the current version.")
    collected: bool = Field(
        default=False,
        description="Retention (versions.keep) removed its snapshot: it can no longer be "
        "served, compared or rolled back to.",
    )
    collected_at: datetime | None = None


# A version in a path: a number, or a tag (a tag starts with a letter).
VERSION_REF = r"^(?:[0-9]{1,18}|" + TAG.pattern.strip("^$") + ")$"
BrainVersionRefPath = Annotated[
    str, Path(pattern=VERSION_REF, description="A version number or a tag.")
]
# ... and in a JSON body: a number, or a tag.
BrainVersionRefValue = (
    Annotated[int, Field(ge=1, le=JSON_SAFE_MAX), WHOLE_NUMBER]
    | Annotated[str, Field(pattern=VERSION_REF)]
)


class TagCreate(StrictModel):
    tag: str = Field(
        pattern=TAG.pattern,
        description="1-64 letters, digits, _ - ., starting with a letter.",
    )


class RollbackRequest(StrictModel):
    version: BrainVersionRefValue = Field(description="The version to make current: number or tag.")


class VersionSide(BaseModel):
    version: int
    graph_hash: str
    neuron_count: int
    synapse_count: int


class IdChanges(BaseModel):
    added: int
    removed: int
    added_ids: list[int] = Field(description="Ids added (at most `ids_limit`).")
    removed_ids: list[int] = Field(description="Ids removed (at most `ids_limit`).")


class SynapseChanges(IdChanges):
    common: int = Field(description="Synapses in both versions (same id and endpoints).")


class WeightChanges(BaseModel):
    compared: int = Field(description="Synapses in both versions.")
    changed: int
    mean_abs_change: float
    max_abs_change: float
    mean_change: float
    rms_change: float


class VersionDiff(BaseModel):
    """What changed from version ``a`` to version ``b`` of a brain."""

    brain: str
    a: VersionSide
    b: VersionSide
    neurons: IdChanges
    synapses: SynapseChanges
    weights: WeightChanges
    ids_limit: int


_ROW_SCHEMA = {"type": "array", "minItems": 1, "items": {"type": "number"}}


class InferRequest(StrictModel):
    # The schema states what the validator below checks: inputs or objects, not both.
    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["inputs"]}, {"required": ["objects"]}]}
    )

    brain: str = Field(pattern=BRAIN_NAME.pattern, description="Name of the brain.")
    # The schema states both accepted forms (the validator below turns one row into a
    # batch) and no null: leave the field out instead.
    inputs: Annotated[
        list[Annotated[list[float], Field(min_length=1)]] | None,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "array", "minItems": 1, "items": _ROW_SCHEMA},
                    _ROW_SCHEMA,
                ]
            }
        ),
    ] = Field(
        default=None,
        min_length=1,
        description="One input row, or a batch of rows, each as wide as the brain's inputs. "
        "Give this or `objects`.",
    )
    objects: Annotated[
        list[Any] | None, WithJsonSchema({"type": "array", "minItems": 1, "items": {}})
    ] = Field(
        default=None,
        min_length=1,
        description="Raw objects instead of feature rows, for a brain trained on a stored "
        "dataset: encoded as its training data was. A list of values (a brain with one input "
        'column) or of {column: value} objects; bytes as {"base64": "..."}.',
    )
    version: BrainVersionRefValue | None = Field(
        default=None,
        description="Serve exactly this version, a number or a tag, while retention keeps "
        "it (default: the current).",
    )

    @field_validator("inputs", mode="before")
    @classmethod
    def _one_row_is_a_batch_of_one(cls, value: Any) -> Any:
        if isinstance(value, list) and value and not isinstance(value[0], list):
            return [value]
        return value

    @model_validator(mode="after")
    def _inputs_or_objects(self) -> InferRequest:
        if (self.inputs is None) == (self.objects is None):
            raise ValueError("give either inputs (feature rows) or objects (raw values)")
        return self


class InferResponse(BaseModel):
    brain: str
    version: int
    outputs: list[list[float]]
    labels: list[int] | None = None
    probabilities: list[list[float]] | None = None
    decoded: list[Any] | None = Field(
        default=None,
        description="For `objects`: each row's output decoded by the target's encoder (a "
        'label, number or {"base64": ...} bytes); null when it cannot decode.',
    )


class TrainRequest(StrictModel):
    dataset: DatasetName = Field(
        description="A built-in dataset, or a stored one: NAME (its latest version, pinned "
        "when the job is queued), NAME@VERSION or NAME@TAG."
    )
    epochs: Annotated[int, Field(ge=1, le=100_000), WHOLE_NUMBER] | None = None


class DreamRequest(StrictModel):
    cycles: Annotated[int, Field(ge=1, le=100_000), WHOLE_NUMBER] | None = Field(
        default=None,
        description="Replay steps, one batch of sampled experiences each (default: the "
        "brain's dreams.cycles).",
    )


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


# -- datasets --------------------------------------------------------------------------

DatasetPath = Annotated[
    str,
    Path(pattern=DATASET_NAME.pattern, description="1-128 letters, digits, _ - ., a letter first."),
]
# A version of a dataset: its number, a tag, or "latest" (which is tag-shaped).
VersionRefPath = Annotated[
    str, Path(pattern=VERSION_REF, description="A version number, a tag, or `latest`.")
]
TagPath = Annotated[str, Path(pattern=TAG.pattern, description="A tag of the dataset.")]


class DatasetSummary(BaseModel):
    name: str
    description: str | None
    created_at: datetime
    versions: int = Field(description="How many versions the dataset has.")
    latest_version: int | None


class DatasetVersion(BaseModel):
    dataset: str
    version: int
    spec: str = Field(description="NAME@VERSION: how training and inference name it.")
    content_hash: str = Field(description="Hash of the rows as a multiset (order-free).")
    n_rows: int
    n_features: int = Field(description="Width of the encoded input (a brain's input neurons).")
    columns: list[dict[str, Any]] = Field(description="Each column: name, type, role, encoder.")
    encoding: dict[str, Any] | None
    parent: str | None = Field(description="NAME@VERSION this version was derived from.")
    note: str | None
    tags: list[str]
    created_at: datetime


class DatasetVersionWritten(DatasetVersion):
    created: bool = Field(
        description="False when the rows equal the latest version's, which is returned "
        "(nothing new was recorded)."
    )


class DatasetDiff(BaseModel):
    # "from" is a Python keyword: the field is from_ and its JSON name "from".
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", description="NAME@VERSION the diff starts from.")
    to: str = Field(description="NAME@VERSION the diff goes to.")
    added: int = Field(description="Rows added, counting repeats.")
    removed: int = Field(description="Rows removed, counting repeats.")
    base_hash: str
    target_hash: str
    added_rows: list[dict[str, Any]] = Field(
        description='Up to `limit` added rows; bytes as {"base64": ...}.'
    )
    removed_rows: list[dict[str, Any]] = Field(description="Up to `limit` removed rows.")


class DatasetTagCreate(StrictModel):
    tag: str = Field(
        pattern=TAG.pattern, description="1-64 letters, digits, _ - ., a letter first."
    )


class DatasetRevert(StrictModel):
    note: str | None = Field(default=None, max_length=512, description="Kept with the version.")


class TrainedBrain(BaseModel):
    """A brain version trained directly on a dataset version."""

    brain: str
    version: int
    graph_hash: str


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    """Only the status: an unauthenticated probe learns no paths, URLs, engine or brain count."""

    status: str


class ServiceLinks(BaseModel):
    """Where the API describes itself (paths on this server)."""

    docs: str = Field(description="Interactive REST docs (Swagger UI).")
    openapi: str = Field(description="The OpenAPI document.")
    explorer: str = Field(description="The web explorer (asks for a token on its login form).")
    graphiql: str | None = Field(
        description="GraphiQL, the in-browser GraphQL IDE; null when the server has it off."
    )


class TokenSelf(BaseModel):
    """What ``GET /auth/me`` answers: the calling token, without its secret."""

    name: str = Field(description="The token's name (`marble token create NAME`).")
    scopes: list[str] = Field(description="The scopes the token was created with.")
    granted: list[str] = Field(
        description="Every scope the token passes (`admin` passes all of them)."
    )
    brains: list[str] | None = Field(
        description="The only brains the token may use; null when it may use every brain."
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
