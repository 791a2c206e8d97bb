"""OpenMP's wait policy, set before anything loads torch (and with it the OpenMP runtime).

By default torch's OpenMP threads spin between parallel regions. A MARBLE
process shares its few cores with other work: the graph engine's threads
(an exploration query keeps one busy for up to ``storage.query_timeout_s``),
training jobs, other processes. A spinning thread then holds a core that the
thread every parallel region waits for needs, and each small operation waits
out a scheduler slice: on a 2-core machine one forward pass went from 0.03 s
to 1.5 s while an exploration query ran, and a training run took 70-130 s
instead of 10-13 s on a loaded machine. Passive waiting (threads sleep) costs
nothing measurable when the cores are free.

The runtime reads the variable once, when it loads, so this module must run
before the first ``import torch``; ``marble_graph/__init__.py`` imports it
first. A policy already set in the environment is kept.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
