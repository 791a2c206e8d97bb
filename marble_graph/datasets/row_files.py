"""Writing a dataset version's rows to a file: CSV, JSON Lines, Parquet or Arrow."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.feather as feather
import pyarrow.parquet as pq

from marble_graph.datasets.ingest import BASE64_KEY
from marble_graph.errors import ValidationFailed

WRITE_FORMATS = ("csv", "jsonl", "parquet", "arrow")


def write_rows(table: pa.Table, path: Path, fmt: str) -> Path:
    """Write ``table`` to ``path`` as ``fmt``; bytes go to JSON Lines as base64 text."""
    path = Path(path)
    if fmt not in WRITE_FORMATS:
        raise ValidationFailed(
            f"unknown export format {fmt!r}: expected one of {', '.join(WRITE_FORMATS)}"
        )
    if fmt == "parquet":
        pq.write_table(table, path)
    elif fmt == "arrow":
        feather.write_feather(table, path, compression="uncompressed")
    elif fmt == "csv":
        nested = [f.name for f in table.schema if not _flat(f.type)]
        if nested:
            raise ValidationFailed(
                f"columns {', '.join(nested)} hold vectors or bytes, which CSV cannot: "
                "export as parquet, arrow or jsonl"
            )
        pcsv.write_csv(table, path)
    else:
        binary = {f.name for f in table.schema if pa.types.is_binary(f.type)}
        with path.open("w", encoding="utf-8") as out:
            for row in table.to_pylist():
                for column in binary:
                    row[column] = {BASE64_KEY: base64.b64encode(row[column]).decode("ascii")}
                out.write(json.dumps(row) + "\n")
    return path


def _flat(kind: pa.DataType) -> bool:
    return not (
        pa.types.is_list(kind)
        or pa.types.is_fixed_size_list(kind)
        or pa.types.is_large_list(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )
