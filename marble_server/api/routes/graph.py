"""GET /brains/{name}/graph: the current version's graph, streamed as NDJSON.

The brain is read with one bulk query per table and streamed in chunks of
rows, so a million-synapse brain never becomes one giant JSON document.
``tables`` scopes the export; ``offset``/``limit`` page through each table.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from marble_graph.brain_graph import TABLE_SCHEMAS
from marble_graph.errors import ValidationFailed
from marble_server.api.deps import ReadToken, StateDep
from marble_server.api.models import JSON_SAFE_MAX, BrainPath
from marble_server.auth import require_brain

router = APIRouter(tags=["graph"])

CHUNK_ROWS = 5_000

# ``tables`` as the schema states it: table names joined by commas, nothing else. The
# route checks the same rule itself, so its error names the unknown table.
_TABLE = "(?:" + "|".join(TABLE_SCHEMAS) + ")"
TABLES_PATTERN = f"^{_TABLE}(?:,{_TABLE})*$"


@router.get(
    "/brains/{name}/graph",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
async def export_graph(
    name: BrainPath,
    state: StateDep,
    token: ReadToken,
    tables: Annotated[
        str,
        Query(
            description="Comma-separated tables: " + ", ".join(TABLE_SCHEMAS),
            json_schema_extra={"pattern": TABLES_PATTERN},
        ),
    ] = ",".join(TABLE_SCHEMAS),
    offset: Annotated[
        int, Query(ge=0, le=JSON_SAFE_MAX, description="Rows to skip in each table.")
    ] = 0,
    limit: Annotated[
        int | None, Query(ge=1, le=JSON_SAFE_MAX, description="Most rows per table (default: all).")
    ] = None,
) -> StreamingResponse:
    """One header line (brain, version, counts), then one JSON line per row: {"table", ...}."""
    chosen = tables.split(",")
    unknown = [t for t in chosen if t not in TABLE_SCHEMAS]
    if unknown:
        raise ValidationFailed(
            f"tables: unknown table {unknown[0]!r}; expected table names joined by commas "
            f"(no spaces), some of {', '.join(TABLE_SCHEMAS)}"
        )
    require_brain(token, name)
    info = await asyncio.to_thread(state.service.get_brain, name)
    graph = await asyncio.to_thread(state.service.load_graph, name, info.graph_key)
    header = {
        "brain": name,
        "version": info.version,
        "graph_hash": info.graph_hash,
        "counts": {t: getattr(graph, t).num_rows for t in chosen},
        "offset": offset,
        "limit": limit,
    }
    selected = {t: _window(getattr(graph, t), offset, limit) for t in chosen}
    return StreamingResponse(_lines(header, selected), media_type="application/x-ndjson")


def _window(table: pa.Table, offset: int, limit: int | None) -> pa.Table:
    return table.slice(offset, limit)


def _lines(header: dict[str, Any], tables: dict[str, pa.Table]) -> Iterator[str]:
    yield json.dumps(header) + "\n"
    for name, table in tables.items():
        for batch in table.to_batches(CHUNK_ROWS):
            rows = batch.to_pylist()
            yield "".join(json.dumps({"table": name, **row}, default=str) + "\n" for row in rows)
