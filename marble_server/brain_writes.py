"""Brain writes the REST routes and the GraphQL mutations share, with the server's rules.

Over the API a dataset is one of the built-in sets: a file path would let a
caller read files on the server. A brain is not deleted while a training job
is queued or running on it, and its serving model is dropped with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from marble_graph.config import with_overrides
from marble_graph.datasets import BUILTIN_DATASETS
from marble_graph.errors import Conflict, ValidationFailed

if TYPE_CHECKING:  # the state holds the job manager, which imports this module
    from marble_graph.service import BrainInfo
    from marble_server.state import ServerState


def check_api_dataset(spec: str) -> str:
    """``spec`` if it names a built-in dataset; file paths are refused over the API."""
    if spec not in BUILTIN_DATASETS:
        raise ValidationFailed(
            f"dataset {spec!r}: the server accepts the built-in datasets "
            f"({', '.join(BUILTIN_DATASETS)}); file paths are refused over the API"
        )
    return spec


def create_brain(
    state: ServerState, name: str, dataset: str | None = None, seed: int | None = None
) -> BrainInfo:
    """What ``marble brain create NAME [--dataset D] [--seed S]`` does, with the server's config."""
    config = state.config
    if seed is not None:
        config = with_overrides(config, {"seed.random_seed": seed})
    if dataset is None:
        return state.service.create_brain(name, config)
    return state.service.create_brain_for_dataset(name, check_api_dataset(dataset), config)


def delete_brain(state: ServerState, name: str) -> None:
    """Delete ``name`` from both stores unless a training job is queued or running on it."""
    state.service.get_brain(name)  # NotFound names the known brains
    active = state.jobs.active_for(name)
    if active is not None:
        raise Conflict(
            f"brain {name!r} has training job {active.id} ({active.state}); "
            "cancel it or wait for it to finish before deleting the brain"
        )
    state.service.delete_brain(name)
    state.models.forget(name)
