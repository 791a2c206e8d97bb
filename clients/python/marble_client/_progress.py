"""A text progress bar for ``Job.wait(progress=True)``, drawn on stderr with no dependency.

On a terminal the bar redraws in place; elsewhere (a log, CI) each update is a line.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from marble_client._models import JobEvent, JobRecord

BAR_WIDTH = 30
# The metrics worth a glance, in this order, when an epoch reports them.
SHOWN_METRICS = ("loss", "val_loss", "accuracy", "val_accuracy")


def render_line(
    job: JobRecord, metrics: dict[str, Any] | None = None, width: int = BAR_WIDTH
) -> str:
    """``job 1a2b3c4d [######------]  50% running epoch 2/4 loss 0.1234`` (a dream job:
    ``cycle 3/10`` instead of the epoch)."""
    fraction = min(1.0, max(0.0, job.progress))
    filled = round(fraction * width)
    parts = [
        f"job {job.id[:8]} [{'#' * filled}{'-' * (width - filled)}] {fraction:4.0%}",
        job.state,
    ]
    metrics = metrics or {}
    if "epoch" in metrics:
        planned = job.payload.get("epochs")
        parts.append(f"epoch {metrics['epoch']}" + (f"/{planned}" if planned else ""))
    if "cycle" in metrics:  # a dream job
        parts.append(f"cycle {metrics['cycle']}/{metrics.get('cycles', '?')}")
    for name in SHOWN_METRICS:
        value = metrics.get(name)
        if isinstance(value, int | float):
            parts.append(f"{name} {value:.4g}")
    if job.finished and job.error:
        parts.append(f"({job.error})")
    return " ".join(parts)


class ProgressBar:
    """Draws one job's progress from its events."""

    def __init__(self, stream: TextIO | None = None, width: int = BAR_WIDTH) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self._inline = bool(getattr(self.stream, "isatty", lambda: False)())
        self._metrics: dict[str, Any] = {}
        self._drawn = 0
        self._last = ""

    def update(self, event: JobEvent) -> None:
        if event.metrics:
            self._metrics = dict(event.metrics)
        line = render_line(event.job, self._metrics, self.width)
        if line == self._last:  # `end` repeats the final state
            return
        self._last = line
        if self._inline:
            padding = " " * max(0, self._drawn - len(line))
            self.stream.write(f"\r{line}{padding}")
            self._drawn = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the redrawn line, so later output starts on a line of its own."""
        if self._inline and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = 0
