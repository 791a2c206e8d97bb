"""Benchmark: seed a 300x300 Mandelbrot brain and persist it in the graph store.

Prints one JSON object. Target (issue 2): 90,000 hidden neurons and about
400,000 synapses seeded and persisted in under 10 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from marble_graph.config import config_from_mapping
from marble_graph.data_home import DataHome
from marble_graph.seed import seed_brain_graph
from marble_graph.service import BrainService

TARGET_SECONDS = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--width", type=int, default=300)
    parser.add_argument("--height", type=int, default=300)
    parser.add_argument("--long-range", type=int, default=40_000)
    parser.add_argument("--engine", choices=["ladybug", "kuzu"], default="ladybug")
    args = parser.parse_args()

    config = config_from_mapping(
        {
            "seed": {
                "width": args.width,
                "height": args.height,
                "long_range_synapses": args.long_range,
            },
            "storage": {"graph_engine": args.engine},
            "logging": {"level": "WARNING"},
        }
    )
    with tempfile.TemporaryDirectory() as tmp, BrainService(config, DataHome(Path(tmp))) as service:
        start = time.perf_counter()
        graph = seed_brain_graph(config)
        seed_only = time.perf_counter() - start
        # The measured operation: what `marble brain create` does (seed + persist both stores).
        start = time.perf_counter()
        info = service.create_brain("bench", config)
        create = time.perf_counter() - start
    result = {
        "bench": "seed_create",
        "engine": args.engine,
        "grid": f"{args.width}x{args.height}",
        "neurons": info.neuron_count,
        "synapses": info.synapse_count,
        "seed_only_s": round(seed_only, 3),
        "create_and_persist_s": round(create, 3),
        "target_s": TARGET_SECONDS,
        "within_target": create < TARGET_SECONDS,
        "graph_neurons_match": graph.neuron_count == info.neuron_count,
        "machine": platform.machine(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
