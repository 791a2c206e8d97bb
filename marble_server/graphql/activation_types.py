"""GraphQL for neuron activations: the ``NeuronActivations`` type and its query field.

``activations`` runs the brain's current version (or the one ``version`` or
``tag`` names) on one input, as inference does, and needs ``infer``;
``Query`` (queries.py) takes the field from ``ActivationQueries``. The same
answer as ``POST /brains/{name}/activations``.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from marble_graph.service import NeuronActivations as FoundActivations
from marble_graph.tokens import Scope
from marble_server.graphql.errors import engine_errors
from marble_server.graphql.types import Info
from marble_server.graphql.version_types import served_version
from marble_server.row_json import objects_from_json


@strawberry.type(
    description="Every neuron's final state for one input, in neuron id order, and the "
    "brain's outputs for it."
)
class NeuronActivations:
    brain: str
    version: int = strawberry.field(description="The brain version that computed the states.")
    representation_size: int = strawberry.field(description="R: values in each neuron's state.")
    neurons: list[int] = strawberry.field(description="Neuron ids, ascending: rows of `states`.")
    kinds: list[str] = strawberry.field(
        description="Each neuron's kind (input, hidden, output, concept), same order."
    )
    states: list[list[float]] = strawberry.field(
        description="Each neuron's final state after message passing: R values per neuron."
    )
    outputs: list[float] = strawberry.field(
        description="Logits for classification, values in the target's units for regression."
    )
    probabilities: list[float] | None = strawberry.field(
        description="For classification and binary brains; null otherwise."
    )

    @classmethod
    def from_found(cls, found: FoundActivations) -> NeuronActivations:
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


@strawberry.type
class ActivationQueries:
    @strawberry.field(
        description="Every neuron's final state after message passing for one input: "
        "`inputs` (one row, as wide as the brain's inputs) or `object` (one raw object, for a "
        "brain trained on a stored dataset), with the outputs, from the current version, or "
        "exactly `version` (a number) or the version `tag` names. Needs the infer scope."
    )
    async def activations(
        self,
        info: Info,
        brain: str,
        inputs: list[float] | None = None,
        object: JSON | None = None,
        version: int | None = None,
        tag: Annotated[
            str | None, strawberry.argument(description="Run the version this tag names.")
        ] = None,
    ) -> NeuronActivations:
        ctx = info.context
        ctx.require(Scope.INFER)
        ctx.require_brain(brain)
        pinned = served_version(version, tag)
        with engine_errors():
            raw = None if object is None else objects_from_json(object, "object")
        found = await ctx.engine(
            ctx.state.service.activations, brain, inputs, obj=raw, version=pinned
        )
        return NeuronActivations.from_found(found)
