"""Benchmark: two MARBLE trainings on one machine share its cores instead of fighting.

The demo training (what ``make run`` does: ``marble brain create demo
--dataset digits`` then ``marble train demo --dataset digits --epochs 12``)
runs through the real ``marble`` CLI as subprocesses, each in its own
temporary MARBLE_HOME: first alone, then two at once (two homes), started
together. Only the ``train`` commands are timed (the brains are created
before the clock starts); the concurrent figure is the wall time until both
have finished.

Prints one JSON line: ``alone_s``, ``concurrent_s`` and ``ratio``
(concurrent_s / alone_s), and the CPU seconds each training used alone and
when concurrent (``alone_cpu_s``, ``concurrent_cpu_s``: threads spinning
against each other raise them even when other load hides it in the wall
time). Two runs that shared the cores perfectly would take 2x on a machine
whose cores one run already fills; the target is at most 2.3. A missed
target exits 0 (the JSON says so); a failed command exits 1.

``--epochs`` shortens the training (the ratio, not the absolute time, is the
figure). The subprocesses inherit this environment, so ``PYTHONPATH=...``
measures another checkout with the same virtual environment; ``--threads``
sets ``core.threads`` for the trainings (through a ``marble.yaml``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 2.3
DEFAULT_MARBLE = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "marble"


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MARBLE_HOME"] = str(home)
    # A marble.yaml in the caller's directory must not change what is measured.
    env.pop("MARBLE_CONFIG", None)
    return env


def _create(marble: str, home: Path, dataset: str) -> None:
    command = [marble, "brain", "create", "demo", "--dataset", dataset, "--format", "json"]
    done = subprocess.run(command, env=_env(home), cwd=home, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")


def _start_train(
    marble: str, home: Path, dataset: str, epochs: int, config: Path | None
) -> subprocess.Popen[str]:
    command = [marble] + (["--config", str(config)] if config else [])
    command += ["train", "demo", "--dataset", dataset, "--epochs", str(epochs)]
    command += ["--format", "json"]
    return subprocess.Popen(
        command,
        env=_env(home),
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait(process: subprocess.Popen[str]) -> None:
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"marble train failed ({process.returncode}):\n{err[-3000:]}")
    if json.loads(out)["state"] != "completed":
        raise RuntimeError(f"marble train did not complete:\n{out[-3000:]}")


def _timed(
    marble: str, homes: list[Path], dataset: str, epochs: int, config: Path | None
) -> tuple[float, float]:
    """Wall seconds until every training finished, and CPU seconds per training."""
    cpu_before = _children_cpu_s()
    started = time.perf_counter()
    processes = [_start_train(marble, home, dataset, epochs, config) for home in homes]
    for process in processes:
        _wait(process)
    return time.perf_counter() - started, (_children_cpu_s() - cpu_before) / len(homes)


def _children_cpu_s() -> float:
    # Threads that spin against each other show up here even when the wall time
    # hides it behind other load on the machine.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--epochs", type=int, default=12, help="Epochs per training (12).")
    parser.add_argument("--dataset", default="digits", help="Dataset (digits).")
    parser.add_argument("--marble", default=str(DEFAULT_MARBLE), help="The marble executable.")
    parser.add_argument(
        "--threads", default=None, help="core.threads for the trainings (default: unset)."
    )
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    with tempfile.TemporaryDirectory(prefix="marble-contention-") as tmp:
        homes = [Path(tmp) / name for name in ("alone", "first", "second")]
        config = None
        if args.threads is not None:
            config = Path(tmp) / "marble.yaml"
            config.write_text(f"core:\n  threads: {args.threads}\n", encoding="utf-8")
        for home in homes:
            home.mkdir()
            _create(args.marble, home, args.dataset)
        loadavg_before = os.getloadavg()[0]
        try:
            alone_s, alone_cpu_s = _timed(args.marble, homes[:1], args.dataset, args.epochs, config)
            concurrent_s, concurrent_cpu_s = _timed(
                args.marble, homes[1:], args.dataset, args.epochs, config
            )
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    ratio = concurrent_s / alone_s
    line = {
        "bench": "contention",
        "dataset": args.dataset,
        "epochs": args.epochs,
        "alone_s": round(alone_s, 2),
        "concurrent_s": round(concurrent_s, 2),
        "ratio": round(ratio, 3),
        "alone_cpu_s": round(alone_cpu_s, 2),
        "concurrent_cpu_s": round(concurrent_cpu_s, 2),
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio <= TARGET_RATIO,
        "threads": args.threads,
        # Other work on the machine skews both figures: the 1-minute load before and after.
        "loadavg_1m": [round(loadavg_before, 2), round(os.getloadavg()[0], 2)],
        "cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "pythonpath": os.environ.get("PYTHONPATH") or None,
        "machine": platform.machine(),
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
