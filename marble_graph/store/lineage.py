"""Lineage in the graph: brain versions, dataset versions and how they relate.

The graph holds a queryable mirror of the SQL version records::

    (BrainVersion)-[VERSION_OF]->(Brain)
    (BrainVersion)-[PARENT]->(BrainVersion)           the version it was trained from
    (BrainVersion)-[TRAINED_ON]->(DatasetVersion)     the data it was trained on
    (DatasetVersion)-[DERIVED_FROM]->(DatasetVersion) the version a diff was applied to

SQL is the truth. Each write adds its nodes and edges right after its SQL
commit, and only ever adds (MERGE), so repeating a write is harmless;
``sync_lineage`` adds whatever a crash between the commit and the graph write
left out, on every open. Node ids are ``"<name>@<version>"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from marble_graph.store.graph import GraphStore
from marble_graph.store.metadata import (
    Brain,
    BrainState,
    BrainVersion,
    Dataset,
    DatasetVersion,
    MetadataStore,
    VersionState,
)


def version_id(name: str, version: int) -> str:
    """The graph id of version ``version`` of a brain or dataset called ``name``."""
    return f"{name}@{version}"


@dataclass(frozen=True)
class DatasetVersionNode:
    dataset: str
    version: int
    content_hash: str
    n_rows: int
    parent: tuple[str, int] | None = None  # (dataset, version) it was derived from

    @property
    def id(self) -> str:
        return version_id(self.dataset, self.version)


@dataclass(frozen=True)
class BrainVersionNode:
    brain: str
    version: int
    graph_hash: str
    parent_version: int | None = None
    trained_on: tuple[str, int] | None = None  # (dataset, version)

    @property
    def id(self) -> str:
        return version_id(self.brain, self.version)


def record_dataset_version(graph: GraphStore, node: DatasetVersionNode) -> None:
    """Add a dataset version's node and its DERIVED_FROM edge (idempotent)."""
    graph.execute(
        "MERGE (d:DatasetVersion {id: $id}) ON CREATE SET d.dataset = $dataset, "
        "d.version = $version, d.content_hash = $hash, d.n_rows = $rows, "
        "d.created_at = current_timestamp()",
        {
            "id": node.id,
            "dataset": node.dataset,
            "version": node.version,
            "hash": node.content_hash,
            "rows": node.n_rows,
        },
    )
    if node.parent is not None:
        graph.execute(
            "MATCH (d:DatasetVersion {id: $id}), (p:DatasetVersion {id: $parent}) "
            "MERGE (d)-[:DERIVED_FROM]->(p)",
            {"id": node.id, "parent": version_id(*node.parent)},
        )


def record_brain_version(graph: GraphStore, node: BrainVersionNode) -> None:
    """Add a brain version's node with its VERSION_OF, PARENT and TRAINED_ON edges.

    The parent's and the dataset version's nodes must already be in the graph
    (they were recorded when they were committed, or by ``sync_lineage``).
    """
    params: dict[str, Any] = {"id": node.id, "brain": node.brain}
    graph.execute(
        "MERGE (v:BrainVersion {id: $id}) ON CREATE SET v.brain = $brain, "
        "v.version = $version, v.graph_hash = $hash, v.created_at = current_timestamp()",
        {**params, "version": node.version, "hash": node.graph_hash},
    )
    graph.execute(
        "MATCH (v:BrainVersion {id: $id}), (b:Brain {name: $brain}) MERGE (v)-[:VERSION_OF]->(b)",
        params,
    )
    if node.parent_version is not None:
        graph.execute(
            "MATCH (v:BrainVersion {id: $id}), (p:BrainVersion {id: $parent}) "
            "MERGE (v)-[:PARENT]->(p)",
            {"id": node.id, "parent": version_id(node.brain, node.parent_version)},
        )
    if node.trained_on is not None:
        graph.execute(
            "MATCH (v:BrainVersion {id: $id}), (d:DatasetVersion {id: $data}) "
            "MERGE (v)-[:TRAINED_ON]->(d)",
            {"id": node.id, "data": version_id(*node.trained_on)},
        )


def delete_brain_lineage(graph: GraphStore, brain: str) -> None:
    """Remove a deleted brain's version nodes (dataset versions stay: other brains may use them)."""
    graph.execute("MATCH (v:BrainVersion) WHERE v.brain = $brain DETACH DELETE v", {"brain": brain})


def sync_lineage(metadata: MetadataStore, graph: GraphStore) -> set[str]:
    """Add every committed version's missing node and edges; return the names touched.

    Two queries find what the graph has; only what is missing is written, so
    an open after a clean shutdown writes nothing.
    """
    present_data = set(graph.arrow("MATCH (d:DatasetVersion) RETURN d.id AS id")["id"].to_pylist())
    present_brains = set(graph.arrow("MATCH (v:BrainVersion) RETURN v.id AS id")["id"].to_pylist())
    touched: set[str] = set()
    for data_node in committed_dataset_versions(metadata):
        if data_node.id not in present_data:
            record_dataset_version(graph, data_node)
            touched.add(data_node.dataset)
    for brain_node in committed_brain_versions(metadata):
        if brain_node.id not in present_brains:
            record_brain_version(graph, brain_node)
            touched.add(brain_node.brain)
    return touched


def committed_dataset_versions(metadata: MetadataStore) -> list[DatasetVersionNode]:
    """Every dataset version, parents before children."""
    parent, parent_set = aliased(DatasetVersion), aliased(Dataset)
    with metadata.session() as session:
        rows = session.execute(
            select(
                Dataset.name,
                DatasetVersion.version,
                DatasetVersion.content_hash,
                DatasetVersion.n_rows,
                parent_set.name,
                parent.version,
            )
            .join(Dataset, DatasetVersion.dataset_id == Dataset.id)
            .outerjoin(parent, DatasetVersion.parent_id == parent.id)
            .outerjoin(parent_set, parent.dataset_id == parent_set.id)
            .order_by(DatasetVersion.id)
        ).all()
    return [
        DatasetVersionNode(
            str(name),
            int(version),
            str(digest),
            int(n_rows),
            None if parent_name is None else (str(parent_name), int(parent_version)),
        )
        for name, version, digest, n_rows, parent_name, parent_version in rows
    ]


def committed_brain_versions(metadata: MetadataStore) -> list[BrainVersionNode]:
    """Every committed version of every committed brain, oldest first per brain."""
    with metadata.session() as session:
        rows = session.execute(
            select(
                Brain.name,
                BrainVersion.version,
                BrainVersion.graph_hash,
                BrainVersion.parent_version,
                Dataset.name,
                DatasetVersion.version,
            )
            .join(Brain, BrainVersion.brain_id == Brain.id)
            .outerjoin(DatasetVersion, BrainVersion.dataset_version_id == DatasetVersion.id)
            .outerjoin(Dataset, DatasetVersion.dataset_id == Dataset.id)
            .where(
                BrainVersion.state == VersionState.COMMITTED,
                Brain.state == BrainState.COMMITTED,
            )
            .order_by(Brain.name, BrainVersion.version)
        ).all()
    return [
        BrainVersionNode(
            str(name),
            int(version),
            str(digest or ""),
            None if parent_version is None else int(parent_version),
            None if data_name is None else (str(data_name), int(data_version)),
        )
        for name, version, digest, parent_version, data_name, data_version in rows
    ]


def trained_on(graph: GraphStore, brain: str, version: int) -> list[dict[str, Any]]:
    """The dataset versions that trained ``brain`` up to ``version``, through its parents.

    Each row: the brain version that trained on it, the dataset version, and
    the dataset versions it derives from. The walk follows at most 30 edges
    each way (the graph engines' bound on a recursive pattern).
    """
    table = graph.arrow(
        "MATCH (v:BrainVersion {id: $id})-[:PARENT*0..30]->(a:BrainVersion)"
        "-[:TRAINED_ON]->(d:DatasetVersion) "
        "OPTIONAL MATCH (d)-[:DERIVED_FROM*1..30]->(p:DatasetVersion) "
        "RETURN a.version AS brain_version, d.dataset AS dataset, d.version AS version, "
        "d.content_hash AS content_hash, d.n_rows AS n_rows, "
        "collect(p.id) AS derived_from "
        "ORDER BY brain_version DESC",
        {"id": version_id(brain, version)},
    )
    # With nothing to derive from, collect() gives [] on LadybugDB and null on Kùzu.
    return [
        {**row, "derived_from": sorted(p for p in row["derived_from"] or [] if p is not None)}
        for row in table.to_pylist()
    ]


def trained_brains(graph: GraphStore, dataset: str, version: int) -> list[dict[str, Any]]:
    """The brain versions trained directly on a dataset version."""
    table = graph.arrow(
        "MATCH (v:BrainVersion)-[:TRAINED_ON]->(d:DatasetVersion {id: $id}) "
        "RETURN v.brain AS brain, v.version AS version, v.graph_hash AS graph_hash "
        "ORDER BY brain, version",
        {"id": version_id(dataset, version)},
    )
    return table.to_pylist()
