"""A dataset version's rows as one Parquet blob in the content-addressed store."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq

from marble_graph.blobs import BlobStore
from marble_graph.errors import StoreError

ROWS_SUFFIX = ".rows.parquet"


def put_rows(blobs: BlobStore, table: pa.Table) -> str:
    """Store ``table`` as Parquet and return the blob's digest."""
    buffer = io.BytesIO()
    # Snappy: the compression pyarrow picks by default, fast to write and read.
    pq.write_table(table, buffer, compression="snappy")
    return blobs.put_bytes(buffer.getvalue(), ROWS_SUFFIX)


def get_rows(blobs: BlobStore, digest: str) -> pa.Table:
    """The rows stored by :func:`put_rows` (the blob is verified by its digest)."""
    data = blobs.get_bytes(digest, ROWS_SUFFIX)
    try:
        return pq.read_table(io.BytesIO(data))
    except pa.ArrowInvalid as exc:
        raise StoreError(f"dataset rows blob {digest} cannot be read: {exc}") from exc
