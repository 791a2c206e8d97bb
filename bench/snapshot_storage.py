"""Benchmark: blob storage of a brain's history, against one full copy per version.

Seeds a brain of about ``--synapses`` synapses, trains it ``--versions``
times (one short epoch each on a small generated regression set, so every
training changes the weights), and keeps every version (``versions.keep``
above the count). Each version's snapshot is a manifest naming one
content-addressed blob per column of each graph table (snapshots.py), so a
column that did not change (synapse endpoints, ids, types; neuron seeds) is
stored once however many versions hold it.

Prints one JSON line: ``bytes_stored`` (every distinct blob file the trained
versions' snapshots and shared layers use) against ``bytes_full_copies``
(the same versions, each stored whole), their ``ratio``, and which columns
the last version shared with the one before.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
from sqlalchemy import select

from marble_graph.config import config_from_mapping
from marble_graph.data_home import DataHome
from marble_graph.service import BrainService
from marble_graph.snapshots import snapshot_blob_files, snapshot_parts
from marble_graph.store.metadata import Brain, BrainVersion

FEATURES = 4


def seed_settings(synapses: int) -> dict[str, int]:
    """A square grid with about one hidden neuron per 10 synapses (as bench/scale.py)."""
    side = max(2, round(math.sqrt(synapses / 10)))
    lattice = 4 * side * (side - 1)
    return {
        "width": side,
        "height": side,
        "long_range_synapses": max(0, synapses - lattice - FEATURES * 8 - 32),
        "input_neurons": FEATURES,
        "output_neurons": 1,
    }


def write_dataset(path: Path, rows: int = 64) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, FEATURES))
    y = x @ rng.normal(size=FEATURES) + 0.1 * rng.normal(size=rows)
    columns = {f"x{i}": x[:, i] for i in range(FEATURES)}
    pcsv.write_csv(pa.table({**columns, "y": y}), path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--synapses", type=int, default=100_000)
    parser.add_argument("--versions", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="marble-snapshots-") as tmp:
        root = Path(tmp)
        data = root / "data.csv"
        write_dataset(data)
        config = config_from_mapping(
            {
                "seed": seed_settings(args.synapses),
                "learning": {"epochs": 1, "validation_fraction": 0.0},
                "versions": {"keep": args.versions + 5},
                "logging": {"level": "WARNING"},
            }
        )
        with BrainService(config, DataHome(root / "home")) as service:
            service.create_brain("history", config)
            for _ in range(args.versions):
                service.train("history", str(data), epochs=1)
            with service.metadata.session() as session:
                rows = session.execute(
                    select(BrainVersion.snapshot_blob, BrainVersion.params_blob)
                    .join(Brain, BrainVersion.brain_id == Brain.id)
                    .where(Brain.name == "history", BrainVersion.version > 1)
                    .order_by(BrainVersion.version)
                ).all()
            blobs = service.blobs
            distinct: set[tuple[str, str]] = set()
            full_copies = 0
            shared_with_previous: list[list[str]] = []
            previous: dict[str, str] = {}
            for snapshot, params in rows:
                files = [*snapshot_blob_files(blobs, snapshot), (params, ".pt")]
                full_copies += sum(blobs.path(d, s).stat().st_size for d, s in files)
                distinct.update(files)
                parts = snapshot_parts(blobs, snapshot)
                shared_with_previous.append(
                    sorted(name for name, d in parts.items() if previous.get(name) == d)
                )
                previous = parts
            stored = sum(blobs.path(d, s).stat().st_size for d, s in distinct)
            synapses = service.get_brain("history").synapse_count
    print(
        json.dumps(
            {
                "bench": "snapshot_storage",
                "synapses": synapses,
                "versions": len(rows),
                "bytes_stored": stored,
                "bytes_full_copies": full_copies,
                "ratio": round(stored / full_copies, 3),
                "columns_shared_with_previous_version": shared_with_previous[-1],
            }
        )
    )


if __name__ == "__main__":
    main()
