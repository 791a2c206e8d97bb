"""POST /brains/{name}/activations: every neuron's final state for one input.

It runs the brain's current version (or the ``version`` asked for, a number
or a tag) on the input, as inference does, so it needs the ``infer`` scope.
An input of the wrong width, or an object for a brain not trained on a
stored dataset, is a 422 naming it; an unknown brain or version a 404.
The explorer's activation heatmap reads it.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from marble_server.api.activation_models import ActivationsRequest, ActivationsResponse
from marble_server.api.deps import InferToken, StateDep
from marble_server.api.models import BrainPath
from marble_server.auth import require_brain
from marble_server.row_json import objects_from_json

router = APIRouter(prefix="/brains", tags=["inference"])


@router.post("/{name}/activations", response_model=ActivationsResponse)
async def activations(
    name: BrainPath, body: ActivationsRequest, state: StateDep, token: InferToken
) -> ActivationsResponse:
    """Every neuron's final state after message passing for one input (neurons in id
    order, with their kinds), and the brain's outputs for it, from its current version
    or exactly `version`."""
    require_brain(token, name)
    obj = None if body.object is None else objects_from_json(body.object, "object")
    found = await asyncio.to_thread(
        state.service.activations, name, body.inputs, obj=obj, version=body.version
    )
    return ActivationsResponse.of(found)
