"""Benchmark: the whole brain cycle at 10k, 100k, 1M and 10M synapses.

Per size, a fresh child process (so its peak RSS is that size's own) runs what
a user's ``marble brain create`` + ``marble train`` does, through the service
layer: seed a brain into a temporary MARBLE_HOME (graph DB, LadybugDB), load
it to tensors, train one epoch on a generated regression CSV (numpy, nothing
downloaded), and write the result back as version 2. Each size prints one JSON
line; a summary line reports the step time per synapse at 10M over that at 1M
(target <= 1.5) and whether peak RSS at 10M stays under 16 GiB.

The load, step and write-back timers wrap the functions ``BrainService.train`` calls
(``load_brain_tensors``, ``Trainer._train_step``, ``write_back``); nothing in
the cycle is replaced.

    python bench/scale.py                       # all four sizes
    python bench/scale.py --sizes 10k,100k      # a subset
    python bench/scale.py --device cuda         # unchanged on a GPU machine
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
FEATURES = 8
EXAMPLES = 96
BATCH_SIZE = 2  # activations of a 1M-neuron brain are ~3 GB per example (K=3, R=16)
STEP_RATIO_TARGET = 1.5
RSS_TARGET_GIB = 16.0


def seed_settings(synapses: int) -> dict[str, int]:
    """A square grid with about one hidden neuron per 10 synapses; long-range edges fill up.

    The 4-neighbour lattice of a g x g grid has 4 g (g - 1) synapses, about
    0.4 per hidden neuron's worth of the total; long-range synapses make the
    rest (duplicates and self-loops the seed drops are a few per million).
    """
    side = max(2, round(math.sqrt(synapses / 10)))
    lattice = 4 * side * (side - 1)
    terminals = FEATURES * 8 + 1 * 32  # input fan-out + output fan-in (the defaults)
    return {
        "width": side,
        "height": side,
        "long_range_synapses": max(0, synapses - lattice - terminals),
        "input_neurons": FEATURES,
        "output_neurons": 1,
    }


def _buffer_pool_mb(label: str) -> int:
    return 4096 if SIZES[label] >= 10_000_000 else 512


def write_dataset(path: Path, seed: int = 0) -> None:
    """A regression CSV: y = x @ w + noise, EXAMPLES rows of FEATURES columns."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(EXAMPLES, FEATURES))
    y = x @ rng.normal(size=FEATURES) + 0.1 * rng.normal(size=EXAMPLES)
    header = ",".join([f"x{i}" for i in range(FEATURES)] + ["y"])
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", header=header, comments="", fmt="%.6f")


def peak_rss_gib() -> float:
    """This process's peak resident set so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def run_size(label: str, device: str) -> dict[str, Any]:
    """The whole cycle for one size, in this process; returns its JSON record."""
    # Imported here so the parent process stays small and never opens a store;
    # marble_graph before torch, so torch's OpenMP threads wait passively
    # (marble_graph/_torch_environment.py) as in the `marble` command.
    import marble_graph  # noqa: F401  # isort: skip

    import torch

    from marble_graph.brains import training as runs
    from marble_graph.config import config_from_mapping
    from marble_graph.data_home import DataHome
    from marble_graph.learning.trainer import Trainer
    from marble_graph.service import BrainService

    timings: dict[str, float] = {}
    rss_after: dict[str, float] = {}
    step_times: list[float] = []

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - start
                rss_after[name] = round(peak_rss_gib(), 3)

        return wrapper

    original_step = Trainer._train_step

    def timed_step(self: Trainer, features: Any, targets: Any) -> Any:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        start = time.perf_counter()
        result = original_step(self, features, targets)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        step_times.append(time.perf_counter() - start)
        return result

    Trainer._train_step = timed_step  # type: ignore[method-assign]
    runs.load_brain_tensors = timed("load", runs.load_brain_tensors)
    runs.write_back = timed("writeback", runs.write_back)

    settings = seed_settings(SIZES[label])
    config = config_from_mapping(
        {
            "seed": settings,
            "core": {"device": device},
            "learning": {"epochs": 1, "batch_size": BATCH_SIZE},
            # The graph engine holds a query's working set in its buffer pool; the
            # default 512 MiB is too small for some whole-brain statements at 10M.
            "storage": {"graph_engine": "ladybug", "buffer_pool_mb": _buffer_pool_mb(label)},
            "logging": {"level": "WARNING"},
        }
    )
    with tempfile.TemporaryDirectory(prefix="marble-scale-") as tmp:
        home = Path(tmp) / "home"
        dataset = Path(tmp) / "scale.csv"
        write_dataset(dataset)
        with BrainService(config, DataHome(home)) as service:
            start = time.perf_counter()
            info = service.create_brain("scale", config)
            seed_s = time.perf_counter() - start
            rss_after["seed"] = round(peak_rss_gib(), 3)
            start = time.perf_counter()
            summary = service.train("scale", str(dataset), epochs=1, device=device)
            cycle_s = time.perf_counter() - start
            final = service.get_brain("scale")
    load_s, writeback_s = timings.get("load", 0.0), timings.get("writeback", 0.0)
    return {
        "bench": "scale",
        "size": label,
        "synapses": info.synapse_count,
        "neurons": info.neuron_count,
        "grid": f"{settings['width']}x{settings['height']}",
        "batch_size": BATCH_SIZE,
        "examples": EXAMPLES,
        "steps": len(step_times),
        "seed_s": round(seed_s, 3),
        "load_s": round(load_s, 3),
        "step_s": round(statistics.median(step_times), 5) if step_times else None,
        "epoch_s": round(summary.history[0]["seconds"], 3) if summary.history else None,
        "writeback_s": round(writeback_s, 3),
        "train_cycle_s": round(cycle_s, 3),
        "version": final.version,
        "state": summary.state,
        "peak_rss_gib": round(peak_rss_gib(), 3),
        "peak_rss_after_gib": rss_after,
        "device": device if device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"),
        "torch_threads": torch.get_num_threads(),
    }


def summary_line(records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The acceptance figures of issue 10 from the per-size records."""
    line: dict[str, Any] = {"bench": "scale", "summary": True}
    big, small = records.get("10m"), records.get("1m")
    if big and small and big.get("step_s") and small.get("step_s"):
        per_big = big["step_s"] / big["synapses"]
        per_small = small["step_s"] / small["synapses"]
        ratio = per_big / per_small
        line["step_per_synapse_ratio_10m_vs_1m"] = round(ratio, 3)
        line["step_ratio_within_target"] = ratio <= STEP_RATIO_TARGET
    if big and "peak_rss_gib" in big:
        line["peak_rss_10m_gib"] = big["peak_rss_gib"]
        line["peak_rss_10m_under_16_gib"] = big["peak_rss_gib"] < RSS_TARGET_GIB
    line["failed"] = sorted(k for k, v in records.items() if "error" in v)
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,100k,1m,10m", help="comma list of 10k,100k,1m,10m")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(run_size(args.child, args.device)), flush=True)
        return

    labels = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in labels if s not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {unknown}: choose from {', '.join(SIZES)}")
    records: dict[str, dict[str, Any]] = {}
    for label in labels:
        command = [sys.executable, __file__, "--child", label, "--device", args.device]
        done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
        if done.returncode == 0 and done.stdout.strip():
            record = json.loads(done.stdout.strip().splitlines()[-1])
        else:
            # A child killed for memory has no line of its own; RUSAGE_CHILDREN still saw it.
            child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
            record = {
                "bench": "scale",
                "size": label,
                "synapses": SIZES[label],
                "error": f"exit {done.returncode}: {done.stderr.strip()[-3000:]}",
                "peak_rss_gib_children_max": round(child_peak, 3),
            }
        records[label] = record
        print(json.dumps(record), flush=True)
    print(json.dumps(summary_line(records)), flush=True)


if __name__ == "__main__":
    main()
