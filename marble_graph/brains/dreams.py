"""Dreams on request: replay a brain's experiences and commit the result (docs/model.md).

``dream_brain`` loads the current version with its experience buffers,
replays ``cycles`` batches sampled from them through the training step
(``Trainer.dream``) and writes the result back as a new version. The write
is the last thing it does and is atomic (``versions.write_back``): a dream
that is cancelled, goes non-finite or dies before it leaves the previous
version current and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from marble_graph.brains.versions import load_brain_tensors, write_back
from marble_graph.errors import Conflict, ValidationFailed
from marble_graph.learning.losses import Objective
from marble_graph.learning.trainer import CycleCallback, Trainer
from marble_graph.store.home_stores import Stores
from marble_graph.store.metadata.brain_records import current_version_row, get_brain

MIN_CYCLES = 1
MAX_CYCLES = 100_000
# Metrics of the version dreamt from that describe its training run, not the dream.
_RUN_ONLY_METRICS = ("test", "last_epoch", "best_epoch", "dream_after_run")


@dataclass
class DreamSummary:
    """What a dream did: ``state`` completed, cancelled or failed; the version it wrote."""

    state: str
    version: int | None
    cycles: int
    cycles_planned: int
    loss: float | None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "version": self.version,
            "cycles": self.cycles,
            "cycles_planned": self.cycles_planned,
            "loss": self.loss,
            "reason": self.reason,
        }


def check_cycles(cycles: int) -> None:
    """ValidationFailed unless ``cycles`` is in ``MIN_CYCLES..MAX_CYCLES``."""
    if isinstance(cycles, bool) or not isinstance(cycles, int):
        raise ValidationFailed(f"cycles: expected an integer, got {cycles!r}")
    if not MIN_CYCLES <= cycles <= MAX_CYCLES:
        raise ValidationFailed(f"cycles: expected {MIN_CYCLES}..{MAX_CYCLES}, got {cycles}")


def check_dream(stores: Stores, name: str, cycles: int) -> None:
    """Refuse a dream before it starts: ``cycles`` out of range (ValidationFailed), an
    unknown brain (NotFound) or one with nothing to replay (Conflict)."""
    check_cycles(cycles)
    info = get_brain(stores.metadata, name)
    with stores.metadata.session() as session:
        recorded = current_version_row(session, name, info.version).experience_blob
    if recorded is None:
        raise Conflict(_nothing_to_replay(name, info.version))


def _nothing_to_replay(name: str, version: int) -> str:
    return (
        f"brain {name!r} has no experiences to replay at version {version}: "
        "train it with dreams.record: true first"
    )


def dream_brain(
    stores: Stores,
    name: str,
    cycles: int,
    *,
    device: torch.device,
    on_cycle: CycleCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> DreamSummary:
    """Replay ``cycles`` batches of ``name``'s experiences and commit a new version.

    ValidationFailed for ``cycles`` out of range; Conflict when the brain has no
    experiences to replay (it must have trained with ``dreams.record: true``).
    """
    check_cycles(cycles)
    loaded = load_brain_tensors(stores, name, device, verify=True)
    if not loaded.experience or "task" not in loaded.metrics:
        raise Conflict(_nothing_to_replay(name, loaded.info.version))
    config = loaded.config
    trainer = Trainer(
        loaded.tensors,
        config,
        Objective.for_task(str(loaded.metrics["task"]), config.learning.loss),
        loaded.shared_state,
        device,
        step=int(loaded.metrics.get("step", 0)),
        experience=loaded.experience,
    )
    trainer.start_dreaming()
    result = trainer.dream(cycles, on_cycle=on_cycle, should_stop=should_stop)
    if result.status != "completed":
        state = "failed" if result.status == "non_finite" else "cancelled"
        return DreamSummary(state, None, result.cycles, cycles, result.loss, result.reason)
    tensors, shared = trainer.result()
    kept = {k: v for k, v in loaded.metrics.items() if k not in _RUN_ONLY_METRICS}
    metrics = {
        **kept,
        "step": trainer.step,
        "neuromodulation": trainer.neuromodulator.snapshot(),
        "dream": {"cycles": result.cycles, "loss": result.loss},
        "dreamt_from": loaded.info.version,
        "experience": trainer.buffers.stats(),
    }
    info = write_back(
        stores,
        name,
        tensors,
        shared,
        base_version=loaded.info.version,
        metrics=metrics,
        note=f"dream: {result.cycles} cycles",
        experience=trainer.experience_state(),
    )
    return DreamSummary("completed", info.version, result.cycles, cycles, result.loss)
