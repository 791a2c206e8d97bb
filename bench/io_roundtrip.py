"""Benchmark: moving a large brain between the graph store and tensors.

A brain of about 100,000 neurons and 1,000,000 synapses is seeded and stored,
then, in one process:

- load: ``load_brain_tensors`` (engine reads, schema checks, tensors) against
  the raw engine reads of the same columns (``get_as_arrow``) alone;
- write-back: ``write_back`` of the whole brain as a new version (until it is
  committed and visible) against a raw ``COPY`` of the same rows into fresh
  tables; the deletion of the superseded generation is timed separately;
- Kùzu's own ``QueryResult.get_as_torch_geometric()`` on the same graph, in a
  child process given 60 s.

Prints one JSON object. Targets: load <= 1.5x raw, write-back <= 3x raw COPY.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from marble_graph.brains.versions import load_brain_tensors, write_back
from marble_graph.config import config_from_mapping
from marble_graph.data_home import DataHome
from marble_graph.service import BrainService
from marble_graph.store.graph import GraphStore, store_rows

PYG_TIMEOUT_S = 60
_BENCH_DDL = (
    "CREATE NODE TABLE BenchNeuron(uid INT64, brain STRING, id INT64, kind STRING, "
    "neuron_type STRING, state FLOAT[], bias FLOAT, attention FLOAT, energy FLOAT, "
    "seed_cx FLOAT, seed_cy FLOAT, seed_escape FLOAT, created_step INT64, PRIMARY KEY (uid))",
    "CREATE REL TABLE BenchSynapse(FROM BenchNeuron TO BenchNeuron, brain STRING, id INT64, "
    "weight FLOAT, synapse_type STRING, potential FLOAT, fatigue FLOAT, visit_count INT64, "
    "frozen BOOLEAN, created_step INT64)",
)


def _pyg_child(path: str, engine: str, key: int, out: Any) -> None:
    import warnings

    warnings.filterwarnings("ignore")  # it warns once per property it cannot convert
    try:
        store = GraphStore(Path(path), engine=engine, buffer_pool_mb=8192, read_only=True)
        lo, hi = key << 32, (key + 1) << 32
        started = time.perf_counter()
        data = store.query_as_torch_geometric(
            "MATCH (a:Neuron)-[s:Synapse]->(b:Neuron) WHERE a.uid >= $lo AND a.uid < $hi "
            "RETURN a, s, b",
            {"lo": lo, "hi": hi},
        )
        out.put({"seconds": time.perf_counter() - started, "result": type(data).__name__})
    except Exception as exc:  # the report is the point: say what went wrong
        out.put({"error": f"{type(exc).__name__}: {exc}"[:300]})


def kuzu_pyg(path: Path, engine: str, key: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_pyg_child, args=(str(path), engine, key, queue))
    child.start()
    child.join(PYG_TIMEOUT_S)
    if child.is_alive():
        child.kill()
        child.join()
        return {"finished": False, "note": f"did not finish within {PYG_TIMEOUT_S} s"}
    if queue.empty():
        return {"finished": False, "note": f"failed (exit code {child.exitcode})"}
    result = queue.get()
    if "error" in result:
        return {"finished": False, "note": result["error"]}
    return {"finished": True, "seconds": round(result["seconds"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--side", type=int, default=316, help="grid side: side^2 hidden neurons")
    parser.add_argument("--long-range", type=int, default=610_000)
    parser.add_argument("--engine", choices=["ladybug", "kuzu"], default="ladybug")
    parser.add_argument("--skip-pyg", action="store_true")
    args = parser.parse_args()
    config = config_from_mapping(
        {
            "seed": {
                "width": args.side,
                "height": args.side,
                "long_range_synapses": args.long_range,
            },
            "storage": {"graph_engine": args.engine, "buffer_pool_mb": 4096},
            "logging": {"level": "WARNING"},
        }
    )
    result: dict[str, Any] = {"bench": "io_roundtrip", "engine": args.engine}
    with tempfile.TemporaryDirectory() as tmp:
        home = DataHome(Path(tmp))
        with BrainService(config, home) as service:
            info = service.create_brain("big", config)
            result.update(neurons=info.neuron_count, synapses=info.synapse_count)

            started = time.perf_counter()
            raw = service.graph.read_generation(info.graph_key)
            raw_read = time.perf_counter() - started
            started = time.perf_counter()
            loaded = load_brain_tensors(service.stores, "big")
            load = time.perf_counter() - started

            for statement in _BENCH_DDL:
                service.graph.execute(statement)
            rows = store_rows("big", 99, loaded.tensors.to_graph())
            started = time.perf_counter()
            service.graph.execute("COPY BenchNeuron FROM $t", {"t": rows["Neuron"]})
            service.graph.execute("COPY BenchSynapse FROM $t", {"t": rows["Synapse"]})
            raw_copy = time.perf_counter() - started

            loaded.tensors.weight.mul_(1.01)  # a full weight update
            started = time.perf_counter()
            new = write_back(
                service.stores,
                "big",
                loaded.tensors,
                {},
                base_version=info.version,
                metrics={},
                note="bench",
            )
            writeback = time.perf_counter() - started
            started = time.perf_counter()
            service.graph.delete_generation("big", info.graph_key)
            collect = time.perf_counter() - started
        graph_path = home.graph_path(args.engine)
        pyg = (
            {"skipped": True} if args.skip_pyg else kuzu_pyg(graph_path, args.engine, new.graph_key)
        )
    result.update(
        raw_arrow_read_s=round(raw_read, 3),
        load_s=round(load, 3),
        load_ratio=round(load / raw_read, 3),
        load_target_ratio=1.5,
        raw_copy_s=round(raw_copy, 3),
        write_back_s=round(writeback, 3),
        write_back_ratio=round(writeback / raw_copy, 3),
        write_back_target_ratio=3.0,
        old_version_cleanup_s=round(collect, 3),
        kuzu_get_as_torch_geometric=pyg,
        rows_read=raw["synapses"].num_rows,
        machine=platform.machine(),
    )
    result["meets_targets"] = result["load_ratio"] <= 1.5 and result["write_back_ratio"] <= 3.0
    print(json.dumps(result))


if __name__ == "__main__":
    main()
