"""Brain writes the REST routes and the GraphQL mutations share, with the server's rules.

Over the API a dataset is a built-in set or a stored dataset version
(``name``, ``name@3``, ``name@tag``), never a file path: that would let a
caller read files on the server. A bare stored name is pinned to its latest
version when the request arrives, so a queued job trains on the version that
was latest when it was asked for. A brain is not deleted while a training
job is queued or running on it, and its serving model is dropped with it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from marble_graph.config import with_overrides
from marble_graph.datasets import BUILTIN_DATASETS
from marble_graph.errors import Conflict, NotFound, ValidationFailed
from marble_graph.service import DATASET_NAME, TAG

if TYPE_CHECKING:  # the state holds the job manager, which imports this module
    from marble_graph.service import BrainInfo, BrainService
    from marble_server.state import ServerState

# A version reference: a number or a tag (tags cannot look like numbers).
_VERSION_REF = r"(?:[0-9]{1,18}|" + TAG.pattern.strip("^$") + ")"
# What the API accepts as a dataset: a name (built-in or stored), optionally @VERSION or
# @TAG. The OpenAPI schema states the same pattern; no path can match it.
API_DATASET_SPEC = re.compile(
    "^" + DATASET_NAME.pattern.strip("^$") + "(?:@" + _VERSION_REF + ")?$"
)


def check_api_dataset(spec: str) -> str:
    """``spec`` if it is shaped like a dataset the API accepts; file paths are refused."""
    if API_DATASET_SPEC.fullmatch(spec) is None:
        raise ValidationFailed(
            f"dataset {spec!r}: expected a built-in dataset ({', '.join(BUILTIN_DATASETS)}) "
            "or a stored dataset as NAME, NAME@VERSION or NAME@TAG; "
            "file paths are refused over the API"
        )
    return spec


def api_dataset_spec(service: BrainService, spec: str) -> str:
    """The spec the engine gets for an API caller's ``spec``.

    A built-in name and ``name@ref`` stay as they are (``@`` always means a
    stored version to the engine); a bare stored name becomes ``name@N``, its
    latest version now. Any other bare name is NotFound, never handed on: the
    engine would read it as a file path.
    """
    check_api_dataset(spec)
    if spec in BUILTIN_DATASETS or "@" in spec:
        return spec
    try:
        return service.dataset_version(spec).spec
    except NotFound:
        raise NotFound(
            f"unknown dataset {spec!r}: neither a built-in dataset "
            f"({', '.join(BUILTIN_DATASETS)}) nor a stored one (upload it with "
            f"POST /datasets/{spec}); file paths are refused over the API"
        ) from None


def create_brain(
    state: ServerState, name: str, dataset: str | None = None, seed: int | None = None
) -> BrainInfo:
    """What ``marble brain create NAME [--dataset D] [--seed S]`` does, with the server's config."""
    config = state.config
    if seed is not None:
        config = with_overrides(config, {"seed.random_seed": seed})
    if dataset is None:
        return state.service.create_brain(name, config)
    spec = api_dataset_spec(state.service, dataset)
    return state.service.create_brain_for_dataset(name, spec, config)


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


def rollback_brain(state: ServerState, name: str, ref: int | str) -> BrainInfo:
    """Make version ``ref`` of ``name`` current again (a new version), unless a training
    job is queued or running on it: its write-back would then fail on the moved brain."""
    state.service.get_brain(name)  # NotFound names the known brains
    active = state.jobs.active_for(name)
    if active is not None:
        raise Conflict(
            f"brain {name!r} has training job {active.id} ({active.state}); "
            "cancel it or wait for it to finish before rolling the brain back"
        )
    return state.service.rollback(name, ref)
