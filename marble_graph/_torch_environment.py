"""Environment for torch's native runtime, set before anything loads torch.

Both variables below are read once, when torch (and with it the OpenMP
runtime and torch's CPU allocator) loads, so this module must run before the
first ``import torch``; ``marble_graph/__init__.py`` imports it first. A value
already set in the environment is kept.

``OMP_WAIT_POLICY=PASSIVE``. By default torch's OpenMP threads spin between
parallel regions. A MARBLE process shares its few cores with other work: the
graph engine's threads (an exploration query keeps one busy for up to
``storage.query_timeout_s``), training jobs, other processes. A spinning
thread then holds a core that the thread every parallel region waits for
needs, and each small operation waits out a scheduler slice: on a 2-core
machine one forward pass went from 0.03 s to 1.5 s while an exploration query
ran, and a training run took 70-130 s instead of 10-13 s on a loaded machine.
Passive waiting (threads sleep) costs nothing measurable when the cores are
free.

``THP_MEM_ALLOC_ENABLE=1``. A training step on a large brain allocates
activations of hundreds of MB and frees them again; the C allocator returns
blocks that large to the kernel, so the next step faults every 4 KiB page in
afresh. With this set, torch aligns CPU allocations of 2 MiB and more to huge
pages and asks the kernel for transparent huge pages (``madvise``), 512 times
fewer faults. At 10M synapses a step went from 3.5 s (a third of it in the
kernel) to 2.1 s; small brains allocate nothing that large and do not change
(docs/performance.md, Scale).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
