"""Request and response bodies of POST /brains/{name}/activations (``routes/activations.py``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from marble_graph.service import NeuronActivations
from marble_server.api.models import BrainVersionRefValue, StrictModel

_ROW = {"type": "array", "minItems": 1, "items": {"type": "number"}}
_ANY_BUT_NULL = {"not": {"type": "null"}}


class ActivationsRequest(StrictModel):
    """One input: a row of numbers, or a raw object."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["inputs"]}, {"required": ["object"]}]}
    )

    inputs: Annotated[list[float] | None, WithJsonSchema(_ROW)] = Field(
        default=None,
        min_length=1,
        description="One input row, as wide as the brain's inputs. Give this or `object`.",
    )
    object: Annotated[Any, WithJsonSchema(_ANY_BUT_NULL)] = Field(
        default=None,
        description="One raw object instead, encoded as the brain's training data was "
        '(bytes as {"base64": "..."}), for a brain trained on a stored dataset.',
    )
    version: BrainVersionRefValue | None = Field(
        default=None,
        description="Run exactly this version, a number or a tag, while retention keeps it "
        "(default: the current).",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        # The schemas allow no null: a field is left out instead.
        if isinstance(data, dict):
            nulls = [f for f in ("inputs", "object") if f in data and data[f] is None]
            if nulls:
                raise ValueError(f"{', '.join(nulls)}: leave the field out instead of sending null")
        return data

    @model_validator(mode="after")
    def _one_input(self) -> ActivationsRequest:
        if len(self.model_fields_set & {"inputs", "object"}) != 1:
            raise ValueError("give exactly one input: inputs or object")
        return self


class ActivationsResponse(BaseModel):
    """Every neuron's final state for the input, in neuron id order, and the outputs."""

    brain: str
    version: int = Field(description="The brain version that computed the states.")
    representation_size: int = Field(description="R: values in each neuron's state.")
    neurons: list[int] = Field(description="Neuron ids, ascending: the rows of `states`.")
    kinds: list[str] = Field(
        description="Each neuron's kind (input, hidden, output, concept), same order."
    )
    states: list[list[float]] = Field(
        description="Each neuron's final state after message passing: R values per neuron."
    )
    outputs: list[float] = Field(
        description="The brain's outputs for the input: logits for classification, values "
        "in the target's units for regression (as POST /infer answers)."
    )
    probabilities: list[float] | None = Field(
        description="For classification and binary brains; null otherwise."
    )

    @classmethod
    def of(cls, found: NeuronActivations) -> ActivationsResponse:
        return cls(
            brain=found.brain,
            version=found.version,
            representation_size=found.representation_size,
            neurons=found.neuron_ids.tolist(),
            kinds=found.kinds,
            states=found.states.tolist(),
            outputs=found.outputs.tolist(),
            probabilities=None if found.probabilities is None else found.probabilities.tolist(),
        )
