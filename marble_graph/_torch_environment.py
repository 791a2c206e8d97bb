"""The process's native runtime, set up before anything loads torch.

``OMP_WAIT_POLICY=PASSIVE``. By default torch's OpenMP threads spin between
parallel regions. A MARBLE process shares its few cores with other work: the
graph engine's threads (an exploration query keeps one busy for up to
``storage.query_timeout_s``), training jobs, other processes. A spinning
thread then holds a core that the thread every parallel region waits for
needs, and each small operation waits out a scheduler slice: on a 2-core
machine one forward pass went from 0.03 s to 1.5 s while an exploration query
ran, and a training run took 70-130 s instead of 10-13 s on a loaded machine.
Passive waiting (threads sleep) costs nothing measurable when the cores are
free. The OpenMP runtime reads the variable once, when torch loads it, so
this module must run before the first ``import torch``;
``marble_graph/__init__.py`` imports it first. A policy already set in the
environment is kept.

Freed memory is kept for reuse (glibc only). A training step allocates its
activations and frees them again. glibc serves blocks above its mmap
threshold (at most 32 MiB) with a fresh ``mmap`` and returns them to the
kernel on free, and gives back the top of its heap once more than twice that
lies free, so every step faults every 4 KiB page of its large tensors in
again: a step of a 10M-synapse brain (128 MB per [B*N, R] tensor at B = 2)
took 3.5 s, a third of it in the kernel, 8.4 million page faults. With
``mmap`` off for the heap and trimming only beyond 2 GiB, freed blocks are
reused: the same step took 1.65 s (docs/performance.md, Scale). The price is
that the process's resident memory stays near its peak until it exits.
These are ``mallopt`` calls, which apply from then on; a process started
with any of glibc's ``MALLOC_*`` variables (``MALLOC_MMAP_MAX_``,
``MALLOC_TRIM_THRESHOLD_``, ...) keeps its own settings instead.
"""

from __future__ import annotations

import ctypes
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# mallopt parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_TRIM_THRESHOLD_BYTES = 2**31 - 1  # mallopt takes an int: its largest value, 2 GiB


def _keep_freed_memory() -> None:
    if not sys.platform.startswith("linux") or any(k.startswith("MALLOC_") for k in os.environ):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, ...): its allocator, its defaults
        return
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    mallopt(_M_MMAP_MAX, 0)
    mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES)


_keep_freed_memory()
