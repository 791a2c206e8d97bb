"""Every REST router, aggregated in one place, with the error responses they share."""

from typing import Any

from fastapi import APIRouter

from marble_server.api.models import ProblemDetails
from marble_server.api.routes import (
    activations,
    admin,
    brains,
    datasets,
    graph,
    health,
    infer,
    jobs,
    memories,
    versions,
    whoami,
)
from marble_server.problems import PROBLEM_MEDIA_TYPE


def _problem(description: str) -> dict[str, Any]:
    return {
        "model": ProblemDetails,
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {}},
    }


PROTECTED_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _problem("Malformed JSON, or a refused query"),
    401: _problem("Missing, invalid or revoked token"),
    403: _problem("The token lacks the route's scope"),
    404: _problem("Unknown brain, job, dataset or version"),
    409: _problem("Conflicts with the current state"),
    413: _problem("Request body over max_body_bytes"),
    422: _problem("Invalid input; `errors` lists each field"),
}

api_router = APIRouter()
api_router.include_router(health.router)
for module in (brains, versions, memories, activations, jobs, graph, datasets, admin, whoami):
    api_router.include_router(module.router, responses=PROTECTED_ERRORS)

# Included by the app ahead of ``api_router``: routes are matched in order, one
# pattern after another and one included router inside another, and /infer, the
# route called most, then matches at the first level.
infer_router = APIRouter()
infer_router.include_router(infer.router, responses=PROTECTED_ERRORS)
