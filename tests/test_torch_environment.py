"""The native runtime set-up that importing marble_graph does (_torch_environment)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Allocate and free a 64 MiB tensor (above glibc's largest mmap threshold,
# 32 MiB) a few times, then count the page faults of three more rounds. The
# warm-up rounds matter: torch asks for aligned blocks, and the pieces glibc
# trims off an aligned block can land where the next request of the same size
# would have fitted, so a heap holds enough reusable space only after a few
# rounds; measured from the second allocation, about half the runs fault
# every page once.
REALLOCATE = """
import resource
import marble_graph
import torch

def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

for _ in range(3):
    torch.ones(16 * 2**20).sum()
before = faults()
for _ in range(3):
    torch.ones(16 * 2**20).sum()
print(faults() - before)
"""
PAGES_OF_64_MIB = 64 * 2**20 // 4096


def _second_allocation_faults(extra_env: dict[str, str]) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    child = subprocess.run(
        [sys.executable, "-c", REALLOCATE],
        env={**env, **extra_env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    return int(child.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator: Linux only")
def test_freed_memory_is_reused_unless_the_environment_tunes_malloc() -> None:
    kept = _second_allocation_faults({})
    defaults = _second_allocation_faults({"MALLOC_PERTURB_": "0"})
    # Reused: the measured tensors land in pages already faulted in. With
    # glibc's defaults each is a fresh mmap, every page faulted again.
    assert kept < PAGES_OF_64_MIB // 8, kept
    assert defaults > 3 * PAGES_OF_64_MIB // 2, defaults


def test_openmp_threads_wait_passively_unless_the_environment_says_otherwise() -> None:
    script = "import os, marble_graph; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    run = [sys.executable, "-c", script]
    assert subprocess.run(run, env=env, capture_output=True, text=True).stdout.strip() == (
        "PASSIVE"
    )
    own = {**env, "OMP_WAIT_POLICY": "ACTIVE"}
    assert subprocess.run(run, env=own, capture_output=True, text=True).stdout.strip() == "ACTIVE"
