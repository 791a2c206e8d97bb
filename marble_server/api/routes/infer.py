"""POST /infer: one row or a batch, micro-batched with concurrent requests."""

from __future__ import annotations

from fastapi import APIRouter, Request

from marble_server.api.deps import InferToken, state_of
from marble_server.api.models import InferRequest, InferResponse
from marble_server.auth import require_brain

router = APIRouter(tags=["inference"])


@router.post("/infer", response_model=InferResponse)
async def infer(body: InferRequest, request: Request, token: InferToken) -> InferResponse:
    """Outputs of the brain's last committed version (also while it trains)."""
    require_brain(token, body.brain)
    # The state read directly, not through StateDep: each dependency FastAPI solves
    # costs about 0.1 ms, and this route is the one called per row of a client's data.
    state = state_of(request)
    answer = await state.batcher.infer(body.brain, body.inputs, body.version)
    return InferResponse(
        brain=body.brain,
        version=answer.version,
        outputs=answer.outputs.tolist(),
        labels=answer.labels.astype(int).tolist() if answer.labels is not None else None,
        probabilities=answer.probabilities.tolist() if answer.probabilities is not None else None,
    )
