"""Benchmark: where a whole ``marble train`` spends its time, phase by phase.

Creates a brain for the dataset (``marble brain create demo --dataset D`` in
a subprocess, untimed) in a temporary MARBLE_HOME, then runs ``marble train
demo --dataset D --epochs N`` *in this process*, through the real CLI, with
timing wrappers installed on the engine's classes and functions first: the
engine's code is not edited for profiling, the wrappers replace the class
attributes (``Trainer._wander``, ``BrainModel.forward``, ``Tensor.backward``,
the optimizers' ``step`` ...) for this process only.

Each phase's time is *exclusive*: time spent in a nested phase counts for
the nested one (a training step's forward pass is ``forward``, not
``step_other``). Some phases are *opaque*: everything inside them counts for
them (the forward passes of a validation pass are ``validation``). Only the
main thread is timed. On CUDA each wrapper synchronises the device, so the
time of queued kernels lands in the phase that queued them.

Prints one JSON line per phase (``phase``, ``seconds``, ``share`` of the
total, ``calls``) and then a summary line (``total_s`` from process start,
``train_s`` of the command, ``steps``, which ``marble_graph`` ran, and any
wrapper target this checkout lacks). To profile another checkout with the
same virtual environment put it first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import inspect
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

# (phase, "module:attribute" or "module:Class.attribute", opaque)
TARGETS: list[tuple[str, str, bool]] = [
    ("open_stores", "marble_graph.service:BrainService.__init__", False),
    ("open_stores", "marble_graph.service:BrainService.close", False),
    ("load", "marble_graph.brains.training:load_brain_tensors", True),
    ("dataset", "marble_graph.brains.training:load_for_brain", True),
    ("trainer_setup", "marble_graph.learning.trainer:Trainer.__init__", False),
    ("fit_other", "marble_graph.learning.trainer:Trainer.fit", False),
    ("step_other", "marble_graph.learning.trainer:Trainer._train_step", False),
    ("walks", "marble_graph.learning.trainer:Trainer._wander", False),
    ("forward", "marble_graph.model.brain_model:BrainModel.forward", False),
    ("backward", "torch:Tensor.backward", False),
    ("optimizer", "torch.optim:Adam.step", False),
    ("optimizer", "torch.optim:AdamW.step", False),
    ("optimizer", "torch.optim:SGD.step", False),
    ("lobes", "marble_graph.learning.trainer:Trainer._lobe_step", False),
    ("plasticity", "marble_graph.learning.trainer:Trainer._restructure", False),
    ("plasticity", "marble_graph.learning.trainer:Trainer._maybe_neurogenesis", False),
    ("validation", "marble_graph.learning.trainer:Trainer.evaluate", True),
    ("best_snapshot", "marble_graph.learning.trainer:Trainer._remember_if_best", True),
    ("best_snapshot", "marble_graph.learning.trainer:Trainer.restore_best", True),
    ("write_back", "marble_graph.learning.trainer:Trainer.result", True),
    ("write_back", "marble_graph.brains.training:write_back", True),
    ("run_records", "marble_graph.brains.brain_datasets:register_dataset", True),
    ("run_records", "marble_graph.brains.training:start_run", True),
    ("run_records", "marble_graph.brains.training:update_run_summary", True),
    ("run_records", "marble_graph.brains.training:finish_run", True),
    ("baseline", "marble_graph.brains.training:_baseline", True),
]
# The callback ``Trainer.fit`` gets as ``on_epoch``: run records and the CLI's progress bar.
EPOCH_CALLBACK = "progress_and_metadata"
# How docs/performance.md names each phase (``--markdown``).
PHASE_TITLES = {
    "interpreter": "interpreter start",
    "startup_imports": "start-up (imports)",
    "open_stores": "opening and closing the stores",
    "load": "load (brain from the graph store)",
    "dataset": "dataset load",
    "run_records": "run records (start, summary, finish)",
    "trainer_setup": "trainer set-up (out-edges, lobes)",
    "walks": "walks (`Trainer._wander`)",
    "forward": "forward (`BrainModel.forward`, training steps)",
    "backward": "backward (`Tensor.backward`)",
    "lobes": "lobes (`Trainer._lobe_step`)",
    "optimizer": "optimizer step",
    "step_other": "rest of a step (loss, clipping, clamping, EMA)",
    "validation": "validation and test (`Trainer.evaluate`)",
    "best_snapshot": "best-epoch snapshot and restore",
    "plasticity": "plasticity (`_restructure`, `_maybe_neurogenesis`)",
    EPOCH_CALLBACK: "progress and metadata writes (`on_epoch`)",
    "fit_other": "rest of the epoch loop (shuffling, batching)",
    "write_back": "write-back (`Trainer.result`, `write_back`)",
    "baseline": "baseline score",
    "other": "other (CLI, not wrapped)",
}


class PhaseClock:
    """Exclusive wall time per phase on the main thread, from nested timing wrappers."""

    def __init__(self, synchronize: Callable[[], None] | None = None) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[list[Any]] = []  # [phase, started, child_seconds, opaque]
        self._main = threading.get_ident()
        self._synchronize = synchronize

    def timed(self, phase: str, function: Callable[..., Any], opaque: bool) -> Callable[..., Any]:
        clock = self

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != clock._main or (clock._stack and clock._stack[-1][3]):
                return function(*args, **kwargs)
            clock._sync()
            frame = [phase, time.perf_counter(), 0.0, opaque]
            clock._stack.append(frame)
            try:
                return function(*args, **kwargs)
            finally:
                clock._sync()
                elapsed = time.perf_counter() - frame[1]
                clock._stack.pop()
                clock.seconds[phase] += elapsed - frame[2]
                clock.calls[phase] += 1
                if clock._stack:
                    clock._stack[-1][2] += elapsed

        return wrapper

    def _sync(self) -> None:
        if self._synchronize is not None:
            self._synchronize()


def install(clock: PhaseClock) -> list[str]:
    """Replace every target by its timed wrapper; return the targets this checkout lacks."""
    missing = []
    for phase, target, opaque in TARGETS:
        module_name, _, path = target.partition(":")
        try:
            owner: Any = importlib.import_module(module_name)
            *parents, attribute = path.split(".")
            for parent in parents:
                owner = getattr(owner, parent)
            original = getattr(owner, attribute)
        except (ImportError, AttributeError):
            missing.append(target)
            continue
        if phase == "fit_other":
            original = _timing_on_epoch(clock, original)
        setattr(owner, attribute, clock.timed(phase, original, opaque))
    return missing


def _timing_on_epoch(clock: PhaseClock, fit: Callable[..., Any]) -> Callable[..., Any]:
    """``Trainer.fit`` with its ``on_epoch`` argument timed as one opaque phase."""
    signature = inspect.signature(fit)

    @functools.wraps(fit)
    def fit_with_timed_callback(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        callback = bound.arguments.get("on_epoch")
        if callback is not None:
            bound.arguments["on_epoch"] = clock.timed(EPOCH_CALLBACK, callback, True)
        return fit(*bound.args, **bound.kwargs)

    return fit_with_timed_callback


def _process_age_s() -> float | None:
    """Seconds since this process started (Linux /proc), else None."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dataset", default="digits", help="Dataset or preset (digits).")
    parser.add_argument("--epochs", type=int, default=12, help="Epochs (12, as make run).")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (cpu).")
    parser.add_argument("--markdown", type=Path, help="Also write the table as Markdown here.")
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    age_at_script = _process_age_s()

    with tempfile.TemporaryDirectory(prefix="marble-profile-") as tmp:
        env = {**os.environ, "MARBLE_HOME": tmp}
        env.pop("MARBLE_CONFIG", None)
        create = [sys.executable, "-m", "marble_graph.cli", "brain", "create", "demo"]
        create += ["--dataset", args.dataset, "--format", "json"]
        done = subprocess.run(create, env=env, cwd=tmp, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"error: brain create failed:\n{done.stderr}", file=sys.stderr)
            return 1
        os.environ["MARBLE_HOME"] = tmp
        os.environ.pop("MARBLE_CONFIG", None)

        imports_started = time.perf_counter()
        import typer

        import marble_graph
        from marble_graph.cli.app import app

        imports_s = time.perf_counter() - imports_started

        import torch

        sync = torch.cuda.synchronize if args.device.startswith("cuda") else None
        clock = PhaseClock(sync)
        missing = install(clock)
        command = typer.main.get_command(app)
        train_args = ["train", "demo", "--dataset", args.dataset, "--epochs", str(args.epochs)]
        train_args += ["--device", args.device, "--format", "json"]
        out = io.StringIO()
        train_started = time.perf_counter()
        with contextlib.redirect_stdout(out):
            command.main(args=train_args, prog_name="marble", standalone_mode=False)
        train_s = time.perf_counter() - train_started
        summary = json.loads(out.getvalue())

    # Process start (interpreter, this script's stdlib imports) until main() ran.
    interpreter_s = age_at_script if age_at_script is not None else 0.0
    phases: dict[str, float] = {"interpreter": interpreter_s, "startup_imports": imports_s}
    phases.update(clock.seconds)
    phases["other"] = train_s - sum(clock.seconds.values())
    total = interpreter_s + imports_s + train_s
    calls = {"interpreter": 1, "startup_imports": 1, **clock.calls, "other": 0}
    if args.markdown is not None:
        table = ["| phase | seconds | share | calls |", "|---|---:|---:|---:|"]
        for phase, seconds in phases.items():
            title = PHASE_TITLES.get(phase, phase)
            share = 100 * seconds / total if total else 0.0
            table.append(f"| {title} | {seconds:.2f} | {share:.1f}% | {calls.get(phase, 0)} |")
        table.append(f"| **total** | **{total:.2f}** | 100% | |")
        args.markdown.write_text("\n".join(table) + "\n", encoding="utf-8")
    for phase, seconds in phases.items():
        line = {
            "bench": "profile_train",
            "phase": phase,
            "seconds": round(seconds, 3),
            "share": round(seconds / total, 4) if total else None,
            "calls": calls.get(phase, 0),
        }
        print(json.dumps(line))
    print(
        json.dumps(
            {
                "bench": "profile_train",
                "dataset": args.dataset,
                "epochs": args.epochs,
                "device": args.device,
                "total_s": round(total, 2),
                "train_s": round(train_s, 2),
                "steps": clock.calls.get("step_other", 0),
                "state": summary.get("state"),
                "test": summary.get("test"),
                "torch_threads": torch.get_num_threads(),
                "marble_graph": str(Path(marble_graph.__file__).parent),
                "missing_targets": missing,
                "loadavg_1m": round(os.getloadavg()[0], 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
