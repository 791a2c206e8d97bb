"""Reproduction: does rolling back a relationship COPY lose committed synapses?

Why LadybugDB is MARBLE's default engine. In one child process per engine
(the two engines cannot share a process), through MARBLE's own graph store:
two brains are stored and committed; then a third brain's neurons are
committed and its synapses are copied inside a transaction that rolls back,
as a failed bulk copy or a crash recovery does. The committed synapses of
the first two brains are counted before and after.

Prints one JSON line per engine: ``engine``, ``committed_before``,
``committed_after``, ``lost``. Measured here: Kùzu 0.11.3 loses every
committed synapse of both brains; LadybugDB loses none.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ENGINES = ("kuzu", "ladybug")


def reproduce(engine: str) -> dict[str, object]:
    from marble_graph.bundled_files import graph_schema_dir
    from marble_graph.config import config_from_mapping
    from marble_graph.seed import seed_brain_graph
    from marble_graph.store.graph import GraphStore, store_rows
    from marble_graph.store.graph_rows import key_range

    config = config_from_mapping({"seed": {"width": 40, "height": 30, "random_seed": 3}})
    graph = seed_brain_graph(config)
    with tempfile.TemporaryDirectory() as folder:
        store = GraphStore(Path(folder) / "brains", engine=engine)
        store.migrate(graph_schema_dir())
        store.insert_graph("a", 1, graph)
        store.insert_graph("b", 2, graph)

        def committed() -> int:
            return sum(
                int(
                    store.scalar(
                        "MATCH (x:Neuron)-[s:Synapse]->() WHERE x.uid >= $lo AND x.uid < $hi "
                        "RETURN count(*)",
                        key_range(key),
                    )
                )
                for key in (1, 2)
            )

        before = committed()
        rows = store_rows("c", 3, graph)
        store.execute("COPY Neuron FROM $rows", {"rows": rows["Neuron"]})
        with contextlib.suppress(_RollBack), store.transaction():
            store.execute("COPY Synapse FROM $rows", {"rows": rows["Synapse"]})
            raise _RollBack  # leaving the block by an exception rolls the transaction back
        after = committed()
        store.close()
    return {
        "bench": "engine_rollback",
        "engine": engine,
        "committed_before": before,
        "committed_after": after,
        "lost": before - after,
    }


class _RollBack(Exception):
    """Raised inside the transaction to make it roll back."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=ENGINES, help="run in this process (one engine)")
    args = parser.parse_args()
    if args.engine:
        print(json.dumps(reproduce(args.engine)), flush=True)
        return
    for engine in ENGINES:
        child = subprocess.run(
            [sys.executable, __file__, "--engine", engine],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=Path(__file__).resolve().parents[1],
        )
        if child.returncode != 0:
            sys.exit(f"engine_rollback --engine {engine} failed:\n{child.stderr[-2000:]}")
        sys.stdout.write(child.stdout)


if __name__ == "__main__":
    main()
