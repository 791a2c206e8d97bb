"""GraphQL types of brain history: the ``VersionRef`` scalar, the version a read is
served from, and a diff of two versions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NewType, TypeAlias

import strawberry

from marble_graph.service import VersionRef as EngineVersionRef
from marble_server.graphql.errors import BAD_USER_INPUT, ApiError


def _parse_version_ref(value: Any) -> EngineVersionRef:
    # bool is an int subclass: `true` is not a version.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(
            f"expected a version number or a tag, got {type(value).__name__} {value!r}"
        )
    return value


if TYPE_CHECKING:
    # To the type checker a VersionRef argument is what the engine takes.
    VersionRef: TypeAlias = EngineVersionRef
else:
    VersionRef = NewType("VersionRef", object)
# The schema maps VersionRef to this definition (router.py's StrawberryConfig.scalar_map).
VERSION_REF_SCALAR = strawberry.scalar(
    name="VersionRef",
    description='A brain version: its number (3, or "3") or one of its tags ("best").',
    serialize=lambda value: value,
    parse_value=_parse_version_ref,
)


def served_version(version: int | None, tag: str | None) -> EngineVersionRef | None:
    """The version a read that takes ``version`` (a number) or ``tag`` is served from;
    None for the current one."""
    if version is not None and tag is not None:
        raise ApiError("give version or tag, not both", BAD_USER_INPUT)
    return tag if tag is not None else version


@strawberry.type(description="One side of a version diff.")
class VersionSide:
    version: int
    graph_hash: str
    neuron_count: int
    synapse_count: int


@strawberry.type(description="Ids added and removed between two versions.")
class IdChanges:
    added: int
    removed: int
    added_ids: list[int] = strawberry.field(description="Ids added (at most idsLimit).")
    removed_ids: list[int] = strawberry.field(description="Ids removed (at most idsLimit).")

    @classmethod
    def from_dict(cls, changes: dict[str, Any]) -> IdChanges:
        return cls(
            added=changes["added"],
            removed=changes["removed"],
            added_ids=list(changes["added_ids"]),
            removed_ids=list(changes["removed_ids"]),
        )


@strawberry.type(description="Synapses added and removed (a synapse is its id and endpoints).")
class SynapseChanges(IdChanges):
    common: int = strawberry.field(description="Synapses in both versions.")

    @classmethod
    def from_dict(cls, changes: dict[str, Any]) -> SynapseChanges:
        return cls(
            added=changes["added"],
            removed=changes["removed"],
            added_ids=list(changes["added_ids"]),
            removed_ids=list(changes["removed_ids"]),
            common=changes["common"],
        )


@strawberry.type(description="Weight changes over the synapses in both versions.")
class WeightChanges:
    compared: int
    changed: int
    mean_abs_change: float
    max_abs_change: float
    mean_change: float
    rms_change: float


@strawberry.type(description="What changed from version a to version b of a brain.")
class VersionDiff:
    brain: str
    a: VersionSide
    b: VersionSide
    neurons: IdChanges
    synapses: SynapseChanges
    weights: WeightChanges
    ids_limit: int

    @classmethod
    def from_dict(cls, diff: dict[str, Any]) -> VersionDiff:
        return cls(
            brain=diff["brain"],
            a=VersionSide(**diff["a"]),
            b=VersionSide(**diff["b"]),
            neurons=IdChanges.from_dict(diff["neurons"]),
            synapses=SynapseChanges.from_dict(diff["synapses"]),
            weights=WeightChanges(**diff["weights"]),
            ids_limit=diff["ids_limit"],
        )
