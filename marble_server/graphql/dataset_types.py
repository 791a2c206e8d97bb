"""The GraphQL types of stored datasets: datasets, their versions, diffs, and lineage.

A ``DatasetVersion`` is built from the service's record; its ``trainedBrains``
and ``derivedFrom`` read lineage when asked for. ``training_data`` is the other
direction, behind ``BrainVersion.trainedOn``: from a brain version to the
dataset versions that trained it. A token limited to brains sees only its own
brains among those trained on a version, as everywhere else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from marble_graph.service import BrainService, DatasetVersionInfo
from marble_server.graphql.context import MarbleContext
from marble_server.graphql.json_values import json_safe

# As in types.py, which imports this module (BrainVersion.trainedOn) and so cannot be imported.
Info = strawberry.Info[MarbleContext, None]

# How far derivedFrom follows parents: the depth lineage queries follow too.
MAX_ANCESTORS = 64


@strawberry.type(description="A brain version trained directly on a dataset version.")
class TrainedBrain:
    brain: str
    version: int
    graph_hash: str


@strawberry.type(description="One immutable version of a stored dataset.")
class DatasetVersion:
    dataset: str
    version: int
    spec: str = strawberry.field(description="NAME@VERSION: how training and inference name it.")
    content_hash: str = strawberry.field(description="Hash of the rows as a multiset.")
    n_rows: int
    n_features: int = strawberry.field(description="Width of the encoded input.")
    columns: JSON = strawberry.field(description="Each column: name, type, role, encoder.")
    parent: str | None = strawberry.field(
        description="NAME@VERSION this version was derived from (null for a first version)."
    )
    tags: list[str]
    note: str | None
    created_at: datetime

    @strawberry.field(
        description="Brain versions trained directly on this version (those the token may use)."
    )
    async def trained_brains(self, info: Info) -> list[TrainedBrain]:
        ctx = info.context
        rows = await ctx.engine(
            ctx.state.service.brains_trained_on, self.dataset, str(self.version)
        )
        token = ctx.token
        return [
            TrainedBrain(brain=r["brain"], version=int(r["version"]), graph_hash=r["graph_hash"])
            for r in rows
            if token is not None and token.may_use(r["brain"])
        ]

    @strawberry.field(
        description="The versions this one derives from, nearest first: its parent, the "
        "parent's parent, and so on."
    )
    async def derived_from(self, info: Info) -> list[DatasetVersion]:
        return await info.context.engine(ancestors, info.context.state.service, self.parent)

    @classmethod
    def from_info(cls, info: DatasetVersionInfo) -> DatasetVersion:
        record = info.to_dict()
        return cls(
            dataset=info.dataset,
            version=info.version,
            spec=info.spec,
            content_hash=info.content_hash,
            n_rows=info.n_rows,
            n_features=info.n_features,
            columns=json_safe(info.columns),
            parent=record["parent"],
            tags=list(info.tags),
            note=info.note,
            created_at=info.created_at,
        )


@strawberry.type(description="A stored dataset: a name and its numbered versions.")
class Dataset:
    name: str
    description: str | None
    created_at: datetime
    version_count: int
    latest_version: int | None

    @strawberry.field(description="Every version, oldest first.")
    async def versions(self, info: Info) -> list[DatasetVersion]:
        ctx = info.context
        infos = await ctx.engine(ctx.state.service.dataset_versions, self.name)
        return [DatasetVersion.from_info(i) for i in infos]

    @strawberry.field(description="One version by number or tag (default: the latest).")
    async def version(self, info: Info, ref: str | None = None) -> DatasetVersion:
        ctx = info.context
        found = await ctx.engine(ctx.state.service.dataset_version, self.name, ref)
        return DatasetVersion.from_info(found)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Dataset:
        return cls(
            name=str(row["name"]),
            description=row.get("description"),
            created_at=datetime.fromisoformat(str(row["created_at"])),
            version_count=int(row["versions"]),
            latest_version=row.get("latest_version"),
        )


@strawberry.type(description="Rows added and removed (counting repeats) between two versions.")
class DatasetDiff:
    from_: DatasetVersion = strawberry.field(name="from")
    to: DatasetVersion
    added: int
    removed: int
    base_hash: str
    target_hash: str
    added_rows: JSON = strawberry.field(
        description='Up to `limit` added rows as objects; bytes as {"base64": ...}.'
    )
    removed_rows: JSON = strawberry.field(description="Up to `limit` removed rows.")


def ancestors(service: BrainService, parent: str | None) -> list[DatasetVersion]:
    """The versions up the parent chain from ``parent`` (NAME@N), nearest first."""
    found: list[DatasetVersion] = []
    while parent is not None and len(found) < MAX_ANCESTORS:
        name, _, number = parent.rpartition("@")
        current = DatasetVersion.from_info(service.dataset_version(name, number))
        found.append(current)
        parent = current.parent
    return found


def training_data(service: BrainService, brain: str, version: int) -> list[DatasetVersion]:
    """Each dataset version that trained the brain version or its ancestors, once, the one
    the newest training used first."""
    seen: set[tuple[str, int]] = set()
    found = []
    for row in service.data_of_brain_version(brain, version):  # newest brain version first
        key = (str(row["dataset"]), int(row["version"]))
        if key not in seen:
            seen.add(key)
            found.append(DatasetVersion.from_info(service.dataset_version(*key)))
    return found
