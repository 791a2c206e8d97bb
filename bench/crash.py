"""Crash loop: ``kill -9`` of ``marble train`` at random instants, then every check.

One data home, one small brain trained with ``checkpoint_every: 1`` (a
write-back per epoch). Each iteration starts ``marble train`` and kills it
with SIGKILL, either at a random instant of the run (untargeted) or aimed at
a write-back: the bench watches the metadata store for a version's pending
row (the write-back has begun) and kills a random few milliseconds later
(targeted). Then this process opens the home, as the next command would,
and checks:

- opening, ``brain show``, the recomputed hash and inference all work;
- the current version's recorded graph hash equals the recomputed one, and
  its neuron and synapse counts equal the graph store's;
- the brain is not marked damaged; no pending version is visible;
- the version number never goes backwards;
- a version's inference outputs equal those seen for it before the kill.

Any failure is a violation. Prints one JSON line: ``iterations``,
``targeted`` (kills aimed at write-backs), ``violations`` and the details.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
MARBLE = [sys.executable, "-m", "marble_graph.cli"]
PROBE = np.linspace(-3, 3, 9, dtype=np.float32).reshape(-1, 1)
CONFIG = """\
seed: {width: 6, height: 6, output_fanin: 16, random_seed: 7}
learning: {epochs: 4, checkpoint_every: 1}
dataset: {stratify: false}
storage: {graph_engine: %s}
logging: {level: WARNING}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--targeted", type=int, default=25, help="iterations aimed at write-back")
    parser.add_argument("--engine", default="ladybug", choices=("ladybug", "kuzu"))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="marble-crash-") as folder:
        home = Path(folder) / "home"
        config = Path(folder) / "marble.yaml"
        config.write_text(CONFIG % args.engine)
        base = [*MARBLE, "--home", str(home), "--config", str(config)]
        _run([*base, "brain", "create", "wave", "--dataset", "sine"])
        started = time.monotonic()
        _run([*base, "train", "wave", "--dataset", "sine"])
        run_s = time.monotonic() - started
        checker = Checker(home, config)
        checker.check("calibration")
        plan = [True] * args.targeted + [False] * (args.iterations - args.targeted)
        rng.shuffle(plan)
        targeted = 0
        for number, aimed in enumerate(plan, 1):
            hit = _kill_one_run([*base, "train", "wave", "--dataset", "sine"], aimed, run_s, rng)
            targeted += hit
            checker.check(f"iteration {number} ({'targeted' if hit else 'random'})")
            print(
                f"iteration {number}/{len(plan)}: {'write-back' if hit else 'random'} kill, "
                f"version {checker.last_version}, violations {len(checker.violations)}",
                file=sys.stderr,
            )
    print(
        json.dumps(
            {
                "bench": "crash",
                "engine": args.engine,
                "iterations": len(plan),
                "targeted": targeted,
                "violations": len(checker.violations),
                "versions_seen": len(checker.outputs),
                "final_version": checker.last_version,
                "run_s": round(run_s, 2),
                "details": checker.violations[:20],
            }
        )
    )


def _run(command: list[str]) -> None:
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[2:])} failed:\n{done.stderr[-2000:]}")


def _kill_one_run(command: list[str], aimed: bool, run_s: float, rng: random.Random) -> bool:
    """Start a training run and SIGKILL it; True when the kill landed inside a write-back."""
    home = Path(command[command.index("--home") + 1])
    child = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + (run_s * 1.5 if aimed else rng.uniform(0.2, run_s))
    hit = False
    while time.monotonic() < deadline and child.poll() is None:
        if aimed and _pending_versions(home):
            time.sleep(rng.uniform(0.0, 0.05))
            hit = child.poll() is None
            break
        time.sleep(0.002)
    if child.poll() is None:
        os.kill(child.pid, signal.SIGKILL)
    child.wait()
    return hit


def _pending_versions(home: Path) -> int:
    try:
        with sqlite3.connect(f"file:{home / 'metadata.sqlite'}?mode=ro", uri=True) as db:
            row = db.execute("SELECT count(*) FROM brain_versions WHERE state = 'pending'")
            return int(row.fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # busy or not created yet: no pending row seen this time


class Checker:
    """Opens the home after each kill and records every violated invariant."""

    def __init__(self, home: Path, config: Path) -> None:
        self.home, self.config = home, config
        self.outputs: dict[int, np.ndarray] = {}
        self.last_version = 0
        self.violations: list[str] = []

    def check(self, when: str) -> None:
        try:
            problems = self._problems()
        except Exception as exc:  # any failure to read is itself a violation
            problems = [f"a read failed: {type(exc).__name__}: {exc}"]
        self.violations += [f"{when}: {p}" for p in problems]

    def _problems(self) -> list[str]:
        from sqlalchemy import func, select

        from marble_graph.config import load_config
        from marble_graph.data_home import DataHome
        from marble_graph.service import BrainService
        from marble_graph.store.metadata import BrainVersion, VersionState

        problems: list[str] = []
        with BrainService(load_config(self.config), DataHome(self.home)) as service:
            info = service.get_brain("wave")
            service.show_brain("wave")
            if info.damage:
                problems.append(f"brain marked damaged: {info.damage}")
            if service.stored_graph_hash("wave") != info.graph_hash:
                problems.append("recorded graph hash differs from the recomputed one")
            counts = service.graph.generation_counts().get(info.graph_key, (0, 0))
            if counts != (info.neuron_count, info.synapse_count):
                recorded = (info.neuron_count, info.synapse_count)
                problems.append(f"counts {counts} differ from the record {recorded}")
            with service.metadata.session() as session:
                pending = session.scalar(
                    select(func.count()).where(BrainVersion.state != VersionState.COMMITTED)
                )
            if pending:
                problems.append(f"{pending} pending version(s) visible after open")
            if info.version < self.last_version:
                problems.append(f"version went back from {self.last_version} to {info.version}")
            outputs = service.infer("wave", PROBE).outputs
            seen = self.outputs.setdefault(info.version, outputs)
            if not np.array_equal(seen, outputs):
                problems.append(f"outputs of version {info.version} changed")
            self.last_version = max(self.last_version, info.version)
        return problems


if __name__ == "__main__":
    main()
