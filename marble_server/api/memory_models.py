"""Request and response bodies of the memory routes (``routes/memories.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from marble_graph.service import MemoryRecord
from marble_server.api.models import WHOLE_NUMBER, StrictModel

MAX_K = 1000
MAX_KEY_LENGTH = 1024

MemoryKey = Annotated[str, Field(min_length=1, max_length=MAX_KEY_LENGTH)]
Row = Annotated[list[float], Field(min_length=1)]

# Optional fields are left out rather than sent as null: the schemas below say so (no
# null), and the validators read which fields were given, as the schemas' rules do.
_ROW = {"type": "array", "minItems": 1, "items": {"type": "number"}}
_KEY = {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH}
_ANY_BUT_NULL = {"not": {"type": "null"}}


def _not_both(a: str, b: str) -> dict[str, Any]:
    return {"not": {"required": [a, b]}}


def _refuse_nulls(data: Any, fields: tuple[str, ...]) -> Any:
    """``data`` unless it sends null for one of ``fields`` (whose schemas allow no null)."""
    if isinstance(data, dict):
        nulls = [field for field in fields if field in data and data[field] is None]
        if nulls:
            raise ValueError(f"{', '.join(nulls)}: leave the field out instead of sending null")
    return data


class MemoryRemember(StrictModel):
    """What to remember: feature rows, raw objects, or (with neither) facts."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                _not_both("inputs", "objects"),
                _not_both("key", "keys"),
                _not_both("value", "values"),
                {"anyOf": [{"required": [f]} for f in ("inputs", "objects", "key", "keys")]},
            ]
        }
    )

    inputs: Annotated[
        list[Row] | None,
        WithJsonSchema({"anyOf": [{"type": "array", "minItems": 1, "items": _ROW}, _ROW]}),
    ] = Field(
        default=None,
        min_length=1,
        description="One input row or a batch of rows, each embedded by the brain's current "
        "version (the brain's state for it). Give this, `objects`, or neither for a fact.",
    )
    objects: Annotated[
        list[Any] | None, WithJsonSchema({"type": "array", "minItems": 1, "items": {}})
    ] = Field(
        default=None,
        min_length=1,
        description="Raw objects instead of rows, encoded as the brain's training data was "
        '(bytes as {"base64": "..."}).',
    )
    key: Annotated[MemoryKey | None, WithJsonSchema(_KEY)] = Field(
        default=None, description="The key of every row (or of the fact)."
    )
    keys: Annotated[
        list[MemoryKey | None] | None,
        WithJsonSchema(
            {"type": "array", "minItems": 1, "items": {"anyOf": [_KEY, {"type": "null"}]}}
        ),
    ] = Field(
        default=None,
        min_length=1,
        description="One key per row (null: none), or one per fact; as many as the rows.",
    )
    value: Any = Field(default=None, description="A JSON value stored with every row.")
    values: Annotated[
        list[Any] | None, WithJsonSchema({"type": "array", "minItems": 1, "items": {}})
    ] = Field(
        default=None, min_length=1, description="One JSON value per row; as many as the rows."
    )

    @field_validator("inputs", mode="before")
    @classmethod
    def _one_row_is_a_batch_of_one(cls, value: Any) -> Any:
        if isinstance(value, list) and value and not isinstance(value[0], list):
            return [value]
        return value

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        return _refuse_nulls(data, ("inputs", "objects", "key", "keys", "values"))

    @model_validator(mode="after")
    def _fields_given_together(self) -> MemoryRemember:
        given = self.model_fields_set
        for a, b in (("inputs", "objects"), ("key", "keys"), ("value", "values")):
            if a in given and b in given:
                raise ValueError(f"give {a} or {b}, not both")
        if not given & {"inputs", "objects", "key", "keys"}:
            raise ValueError("give inputs or objects to remember, or a key (or keys) for a fact")
        return self


class MemoryIds(BaseModel):
    brain: str
    ids: list[int] = Field(description="The new memories' ids, ascending.")


class MemoryRecall(StrictModel):
    """One query, and how many memories to recall for it."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["features"]},
                {"required": ["object"]},
                {"required": ["embedding"]},
            ]
        }
    )

    features: Annotated[Row | None, WithJsonSchema(_ROW)] = Field(
        default=None, description="One input row."
    )
    object: Annotated[Any, WithJsonSchema(_ANY_BUT_NULL)] = Field(
        default=None, description="One raw object (as for remember)."
    )
    embedding: Annotated[Row | None, WithJsonSchema(_ROW)] = Field(
        default=None, description="An embedding itself: outputs x representation_size values."
    )
    k: Annotated[int, Field(ge=1, le=MAX_K), WHOLE_NUMBER] = Field(
        default=10, description="How many memories, nearest first."
    )
    exact: bool = Field(
        default=False, description="Scan every memory in the graph instead of the index."
    )

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        return _refuse_nulls(data, ("features", "object", "embedding"))

    @model_validator(mode="after")
    def _one_query(self) -> MemoryRecall:
        given = self.model_fields_set & {"features", "object", "embedding"}
        if len(given) != 1 or (self.object is None and "object" in given):
            raise ValueError("give exactly one query: features, object or embedding")
        return self


class Memory(BaseModel):
    id: int
    similarity: float | None = Field(
        default=None, description="Cosine similarity to the query (recall only)."
    )
    key: str | None
    value: Any
    created_at: datetime
    brain_version: int = Field(description="The version whose state the memory holds.")
    neurons: list[int] = Field(description="The output neurons that carried the input.")
    embedded: bool = Field(description="Whether it holds an embedding (false: a fact).")

    @classmethod
    def of(cls, record: MemoryRecord) -> Memory:
        return cls(
            id=record.id,
            similarity=record.similarity,
            key=record.key,
            value=record.value,
            created_at=record.created_at,
            brain_version=record.brain_version,
            neurons=record.neurons,
            embedded=record.embedded,
        )


class MemoryPage(BaseModel):
    brain: str
    total: int = Field(description="Memories the brain holds, facts included.")
    next_before: int | None = Field(description="Pass as `before` for the next page; null: none.")
    memories: list[Memory]


class MemoryForget(StrictModel):
    """Exactly one rule: a time, or how many of the newest to keep."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["older_than"]}, {"required": ["keep_last"]}]}
    )

    older_than: Annotated[
        Annotated[datetime, Field(strict=False)] | None,
        WithJsonSchema({"type": "string", "format": "date-time"}),
    ] = Field(default=None, description="Forget memories created before this time (ISO 8601).")
    keep_last: Annotated[
        Annotated[int, Field(ge=0, le=2**53 - 1), WHOLE_NUMBER] | None,
        WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 2**53 - 1}),
    ] = Field(default=None, description="Forget all but the newest N memories.")

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        return _refuse_nulls(data, ("older_than", "keep_last"))

    @model_validator(mode="after")
    def _one_rule(self) -> MemoryForget:
        if (self.older_than is None) == (self.keep_last is None):
            raise ValueError("give exactly one of older_than and keep_last")
        return self


class MemoriesForgotten(BaseModel):
    brain: str
    removed: int
