"""Benchmark: recall of the in-process memory index against an exact scan in the graph.

A small brain (10 outputs x representation size 8: 80-value embeddings)
remembers ``--memories`` random inputs in one bulk ``remember`` call, as a
user would. ``--queries`` random inputs are embedded by the same brain and
recalled with k=10 two ways through the same store (store/memories.py): the
index (one matrix product and top-k over the brain's mirrored embeddings)
and the exact scan in the engine (``array_cosine_similarity`` over every
memory, ORDER BY ... LIMIT k). recall is the mean share of the exact top-10
ids the index returns; index_ms and brute_ms are milliseconds per query
(the mirror's one-time load is ``index_load_ms``, outside index_ms).

``engine_index_ms`` is the engine's own HNSW index (``QUERY_VECTOR_INDEX``
over a FLOAT[80] copy of the same embeddings) where the engine can
``LOAD vector`` (Kùzu 0.11.3 bundles it; LadybugDB 0.22 must download it),
else null; ``--engine kuzu`` measures it (docs/memory.md has the numbers).

Prints ONE JSON line: memories, recall, index_ms, brute_ms, speedup
(brute_ms / index_ms), engine_index_ms and the set-up times.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import marble_graph  # noqa: F401  # isort: skip  (before torch: passive OpenMP waiting)

import numpy as np
import pyarrow as pa

from marble_graph.config import config_from_mapping
from marble_graph.data_home import DataHome
from marble_graph.service import BrainService

K = 10
INPUTS = 8
REQUIRED_RECALL = 0.95
REQUIRED_SPEEDUP = 5.0


def bench_config(engine: str, device: str) -> Any:
    return config_from_mapping(
        {
            "seed": {
                "width": 12,
                "height": 12,
                "input_neurons": INPUTS,
                "output_neurons": 10,
                "random_seed": 3,
            },
            "core": {"representation_size": 8, "device": device},
            "storage": {"graph_engine": engine},
            "logging": {"level": "WARNING"},
        }
    )


def per_query_ms(run: Any, queries: np.ndarray) -> tuple[float, list[set[int]]]:
    found = []
    started = time.perf_counter()
    for query in queries:
        found.append({memory.id for memory in run(query)})
    return 1000 * (time.perf_counter() - started) / len(queries), found


def engine_index_ms(service: BrainService, name: str, queries: np.ndarray) -> float | None:
    """Per-query time of the engine's HNSW index over the same embeddings; None without it."""
    graph = service.graph
    try:
        graph.execute("LOAD vector")
    except RuntimeError:
        return None
    ids, embeddings = service.stores.memories.embeddings(name)
    width = embeddings.shape[1]
    graph.execute(
        f"CREATE NODE TABLE BenchMemory(id INT64, embedding FLOAT[{width}], PRIMARY KEY (id))"
    )
    indexed = False
    try:
        flat = pa.array(embeddings.reshape(-1))
        rows = pa.table(
            {"id": pa.array(ids), "embedding": pa.FixedSizeListArray.from_arrays(flat, width)}
        )
        graph.copy_rows("BenchMemory", rows)
        graph.execute(
            "CALL CREATE_VECTOR_INDEX('BenchMemory', 'bench_index', 'embedding', "
            "metric := 'cosine')"
        )
        indexed = True
        started = time.perf_counter()
        for query in queries:
            graph.arrow(
                "CALL QUERY_VECTOR_INDEX('BenchMemory', 'bench_index', $q, $k) "
                "RETURN node.id AS id, distance",
                {"q": query.tolist(), "k": K},
            )
        return 1000 * (time.perf_counter() - started) / len(queries)
    finally:
        if indexed:
            graph.execute("CALL DROP_VECTOR_INDEX('BenchMemory', 'bench_index')")
        graph.execute("DROP TABLE BenchMemory")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--engine", default="ladybug", choices=["ladybug", "kuzu"])
    parser.add_argument("--device", default="cpu", help="where the index lives: cpu, cuda")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with (
        tempfile.TemporaryDirectory() as tmp,
        BrainService(bench_config(args.engine, args.device), DataHome(Path(tmp))) as service,
    ):
        service.create_brain("bench")
        started = time.perf_counter()
        service.remember(
            "bench", inputs=rng.normal(size=(args.memories, INPUTS)), value={"source": "bench"}
        )
        remember_s = time.perf_counter() - started
        memories = service.stores.memories
        model = service.memory_models.get("bench")
        queries, _ = model.embed(rng.normal(size=(args.queries, INPUTS)).astype(np.float32), 0)
        created_at = model.loaded.info.created_at

        started = time.perf_counter()
        memories.recall("bench", created_at, queries[0], K, args.device)  # loads the mirror
        load_ms = 1000 * (time.perf_counter() - started)
        index_ms, index_found = per_query_ms(
            lambda q: memories.recall("bench", created_at, q, K, args.device), queries
        )
        brute_ms, exact_found = per_query_ms(
            lambda q: memories.exact_recall("bench", q, K), queries
        )
        recall = float(
            np.mean([len(a & b) / len(b) for a, b in zip(index_found, exact_found, strict=True)])
        )
        engine_ms = engine_index_ms(service, "bench", queries)
        stored = memories.count("bench")
    print(
        json.dumps(
            {
                "bench": "memory_recall",
                "memories": stored,
                "queries": args.queries,
                "width": int(queries.shape[1]),
                "k": K,
                "recall": round(recall, 4),
                "index_ms": round(index_ms, 3),
                "brute_ms": round(brute_ms, 3),
                "speedup": round(brute_ms / index_ms, 1),
                "engine_index_ms": None if engine_ms is None else round(engine_ms, 3),
                "index_load_ms": round(load_ms, 1),
                "remember_s": round(remember_s, 2),
                "engine": args.engine,
                "device": args.device,
                "meets_target": recall >= REQUIRED_RECALL
                and brute_ms / index_ms >= REQUIRED_SPEEDUP,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
