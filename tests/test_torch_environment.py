"""The native runtime set-up that importing marble_graph does (_torch_environment)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# A 64 MiB tensor (above glibc's largest mmap threshold, 32 MiB) allocated and
# freed, with glibc's own account of its heap (mallinfo2) at each point:
# ``hblkhd`` is the memory it holds in separate mmaps, ``fordblks`` the free
# space it keeps in its heap for reuse.
# (Counting page faults on a second allocation showed the effect too, but not
# always: torch asks for aligned blocks, and where the trimmed-off pieces land
# decides whether the next block fits the freed space; under load, one round
# in several faulted.)
ALLOCATE_AND_FREE = """
import ctypes
import marble_graph
import torch

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd",
        "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
tensor = torch.ones(16 * 2**20)
alive = libc.mallinfo2()
del tensor
freed = libc.mallinfo2()
print(alive.hblkhd, freed.fordblks)
"""
MIB_64 = 64 * 2**20


def _heap_after(extra_env: dict[str, str]) -> tuple[int, int]:
    """(bytes in mmaps while the tensor lives, free bytes kept in the heap after it is freed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    child = subprocess.run(
        [sys.executable, "-c", ALLOCATE_AND_FREE],
        env={**env, **extra_env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    mapped, free = child.stdout.split()[-2:]
    return int(mapped), int(free)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator: Linux only")
def test_freed_memory_stays_in_the_heap_unless_the_environment_tunes_malloc() -> None:
    mapped, kept = _heap_after({})
    # Kept: the tensor comes from the heap, not its own mmap (what is mapped is
    # older: blocks the interpreter took before marble_graph's import set glibc
    # up), and freeing it leaves it in the heap as free space: the next allocation
    # of that size reuses those pages.
    assert mapped < MIB_64, mapped
    assert kept >= MIB_64, kept
    # With glibc's defaults (any MALLOC_* variable keeps them): its own mmap,
    # handed back to the kernel when freed.
    mapped, kept = _heap_after({"MALLOC_PERTURB_": "0"})
    assert mapped >= MIB_64, mapped
    assert kept < MIB_64, kept


def test_openmp_threads_wait_passively_unless_the_environment_says_otherwise() -> None:
    script = "import os, marble_graph; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    run = [sys.executable, "-c", script]
    assert subprocess.run(run, env=env, capture_output=True, text=True).stdout.strip() == (
        "PASSIVE"
    )
    own = {**env, "OMP_WAIT_POLICY": "ACTIVE"}
    assert subprocess.run(run, env=own, capture_output=True, text=True).stdout.strip() == "ACTIVE"
