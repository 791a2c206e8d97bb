"""Whole-graph snapshots of brain versions in the blob store.

Every committed version keeps its graph as one content-addressed blob, so a
version whose rows in the graph store were damaged can be rebuilt exactly
(``marble brain repair``) and a backup can copy versions without reading the
graph store. The blob is one Parquet file with a row per graph table, each
holding that table as Parquet bytes: one write, one digest, and the columns
keep their Arrow types, so the rebuilt graph hashes to the recorded value.
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq

from marble_graph.blobs import BlobStore
from marble_graph.brain_graph import TABLE_SCHEMAS, BrainGraph
from marble_graph.errors import StoreError

SNAPSHOT_SUFFIX = ".graph.parquet"


def put_graph_snapshot(blobs: BlobStore, graph: BrainGraph) -> str:
    """Store ``graph`` as one blob and return its digest."""
    names, payloads = [], []
    for name, table in graph.tables():
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        names.append(name)
        payloads.append(buffer.getvalue())
    envelope = pa.table({"table": names, "data": pa.array(payloads, pa.large_binary())})
    out = io.BytesIO()
    pq.write_table(envelope, out, compression="none")
    return blobs.put_bytes(out.getvalue(), SNAPSHOT_SUFFIX)


def get_graph_snapshot(blobs: BlobStore, digest: str) -> BrainGraph:
    """The graph stored by :func:`put_graph_snapshot` (the blob is verified by its digest)."""
    data = blobs.get_bytes(digest, SNAPSHOT_SUFFIX)
    try:
        envelope = pq.read_table(io.BytesIO(data)).to_pydict()
        tables = {
            str(name): pq.read_table(io.BytesIO(payload))
            for name, payload in zip(envelope["table"], envelope["data"], strict=True)
        }
    except (pa.ArrowInvalid, KeyError) as exc:
        raise StoreError(f"graph snapshot {digest} cannot be read: {exc}") from exc
    missing = sorted(set(TABLE_SCHEMAS) - set(tables))
    if missing:
        raise StoreError(f"graph snapshot {digest} lacks the tables {', '.join(missing)}")
    return BrainGraph.from_tables(tables, source=f"graph snapshot {digest}")
