"""Benchmark: a CSV into a dataset version, against pyarrow reading it and writing Parquet.

Generates ``--rows`` rows x 10 numeric columns (plus an integer label) as a
CSV, then, interleaved in one process (``--repeats`` times each, best kept):

- marble: ``BrainService.create_dataset(name, csv)``: read the CSV, hash
  every row and the multiset, fit and check the encoding, write the rows as
  a Parquet blob, record the version in SQL and the graph;
- pyarrow: ``pyarrow.csv.read_csv`` then ``pyarrow.parquet.write_table`` of
  the same file: the least any CSV-to-Parquet ingest can do.

Each marble run creates a new dataset, so none is answered by deduplication.
Prints one JSON line with ``rows``, ``marble_s``, ``pyarrow_s`` and ``ratio``
(target: at most 2).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from marble_graph.config import config_from_mapping
from marble_graph.data_home import DataHome
from marble_graph.service import BrainService


def _write_csv(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    columns = {f"x{i}": rng.normal(size=rows).round(6) for i in range(10)}
    columns["label"] = rng.integers(0, 5, rows)
    pcsv.write_csv(pa.table(columns), path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="marble-ingest-") as tmp:
        root = Path(tmp)
        csv_path = root / "rows.csv"
        _write_csv(csv_path, args.rows)
        config = config_from_mapping({"logging": {"level": "WARNING"}})
        marble_times, pyarrow_times = [], []
        with BrainService(config, DataHome(root / "home")) as service:
            for repeat in range(args.repeats):
                start = time.perf_counter()
                table = pcsv.read_csv(csv_path)
                pq.write_table(table, root / f"baseline-{repeat}.parquet")
                pyarrow_times.append(time.perf_counter() - start)
                del table

                start = time.perf_counter()
                info, created = service.create_dataset(f"ingest{repeat}", csv_path)
                marble_times.append(time.perf_counter() - start)
                assert created and info.n_rows == args.rows
        marble_s, pyarrow_s = min(marble_times), min(pyarrow_times)
        print(
            json.dumps(
                {
                    "bench": "dataset_ingest",
                    "rows": args.rows,
                    "columns": 11,
                    "csv_bytes": csv_path.stat().st_size,
                    "marble_s": round(marble_s, 3),
                    "pyarrow_s": round(pyarrow_s, 3),
                    "ratio": round(marble_s / pyarrow_s, 3),
                    "target_ratio": 2.0,
                }
            )
        )


if __name__ == "__main__":
    main()
