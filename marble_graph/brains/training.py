"""Training runs on persisted brains (docs/learning.md).

``train_brain`` is the whole cycle: load the brain's current version into
tensors, register the dataset version, train with per-epoch metrics recorded
in the metadata store, evaluate on the held-out split, and write the result
back as a new version. A run that goes non-finite, is cancelled or is
interrupted writes nothing (beyond checkpoints it already committed) and its
record says why; ``resume=True`` continues the latest unfinished run from the
brain's last committed version.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from marble_graph.brains.brain_datasets import load_for_brain, split_for_brain
from marble_graph.brains.versions import load_brain_tensors, write_back
from marble_graph.config import MarbleConfig
from marble_graph.datasets import Dataset, split_dataset
from marble_graph.datasets.normalisation import METRICS_KEY, Normalisation
from marble_graph.errors import ValidationFailed
from marble_graph.learning.losses import Objective
from marble_graph.learning.trainer import Trainer
from marble_graph.store.home_stores import Stores
from marble_graph.store.metadata import RunState
from marble_graph.store.metadata.training_runs import (
    finish_run,
    latest_unfinished_run,
    record_epoch,
    start_run,
    update_run_summary,
)

log = logging.getLogger(__name__)
EpochCallback = Callable[[dict[str, Any]], None]


@dataclass
class RunSummary:
    run_id: int
    state: str
    version: int | None
    epochs: int
    test: dict[str, float] = field(default_factory=dict)
    baseline: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None


def train_brain(
    stores: Stores,
    name: str,
    dataset_spec: str,
    *,
    epochs: int | None = None,
    device: torch.device,
    resume: bool = False,
    on_epoch: EpochCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RunSummary:
    """Train ``name`` on a dataset and write the result back as a new version."""
    loaded = load_brain_tensors(stores, name, device, verify=True)
    config = loaded.config
    loaded_data = load_for_brain(stores, dataset_spec, config, loaded.tensors)
    dataset = loaded_data.dataset
    objective = Objective.for_task(dataset.task, config.learning.loss)
    planned, first_epoch, resumed_from = epochs or config.learning.epochs, 1, None
    if resume:
        previous = latest_unfinished_run(stores.metadata, name)
        planned = int(previous.summary.get("epochs_planned", planned))
        first_epoch = int(previous.summary.get("epochs_committed", 0)) + 1
        resumed_from = previous.id
        if first_epoch > planned:
            raise ValidationFailed(
                f"run {previous.id} of brain {name!r} has nothing left to resume"
            )
    train, test = split_for_brain(dataset, config)
    normalisation = _normalisation(loaded.metrics, train)
    train, test = normalisation.apply(train), normalisation.apply(test)
    fit_split, validation = _validation_split(train, config.learning.validation_fraction, config)
    link = loaded_data.registered(stores)
    run_id = start_run(
        stores.metadata, name, loaded.info.version, link, config, planned, resumed_from
    )

    trainer = Trainer(
        loaded.tensors,
        config,
        objective,
        loaded.shared_state,
        device,
        step=int(loaded.metrics.get("step", 0)),
        experience=loaded.experience,
    )
    base_version, history, stop_reason = loaded.info.version, [], None
    every = config.learning.checkpoint_every
    try:
        epoch = first_epoch
        while epoch <= planned:
            chunk = min(every, planned - epoch + 1) if every else planned - epoch + 1

            def record(metrics: dict[str, Any]) -> None:
                record_epoch(stores.metadata, run_id, metrics)
                if on_epoch is not None:
                    on_epoch(metrics)

            result = trainer.fit(fit_split, validation, chunk, record, should_stop, epoch, planned)
            history.extend(result.history)
            if result.status != "completed":
                state = RunState.FAILED if result.status == "non_finite" else RunState.CANCELLED
                finish_run(stores.metadata, run_id, state, error=result.reason)
                return RunSummary(
                    run_id, state.value, None, len(history), history=history, reason=result.reason
                )
            trained_to = int(result.history[-1]["epoch"]) if result.history else epoch - 1
            finished = result.stopped_early or trained_to >= planned
            best_epoch = trainer.restore_best() if finished else None
            # After the best epoch is restored, so restoring does not undo the dream.
            dream = trainer.dream_after_run(should_stop) if finished else None
            if dream is not None and dream.status != "completed":
                state = RunState.FAILED if dream.status == "non_finite" else RunState.CANCELLED
                finish_run(stores.metadata, run_id, state, error=dream.reason)
                return RunSummary(
                    run_id, state.value, None, len(history), history=history, reason=dream.reason
                )
            test_metrics = trainer.evaluate(test)
            tensors, shared = trainer.result()
            metrics = {
                "step": trainer.step,
                "task": dataset.task,
                "test": test_metrics,
                "epoch": trained_to,
                "neuromodulation": trainer.neuromodulator.snapshot(),
                "last_epoch": result.history[-1] if result.history else {},
                "best_epoch": best_epoch,
                METRICS_KEY: normalisation.to_record(),
                "experience": trainer.buffers.stats(),
                **({"dream_after_run": dream.metrics()} if dream is not None else {}),
            }
            info = write_back(
                stores,
                name,
                tensors,
                shared,
                base_version=base_version,
                metrics=metrics,
                run_id=run_id,
                dataset=link,
                note=f"run {run_id}, epoch {trained_to} of {planned}",
                experience=trainer.experience_state(),
            )
            base_version = info.version
            update_run_summary(
                stores.metadata,
                run_id,
                {"epochs_committed": trained_to, "stop_reason": result.reason},
            )
            epoch = planned + 1 if result.stopped_early else trained_to + 1
            stop_reason = result.reason
    except KeyboardInterrupt:
        finish_run(stores.metadata, run_id, RunState.INTERRUPTED, error="interrupted (Ctrl-C)")
        raise
    except BaseException as exc:
        finish_run(stores.metadata, run_id, RunState.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    baseline = _baseline(train, test, objective)
    finish_run(
        stores.metadata,
        run_id,
        RunState.COMPLETED,
        result_version=base_version,
        summary={"test": test_metrics, "baseline": baseline},
    )
    return RunSummary(
        run_id,
        RunState.COMPLETED.value,
        base_version,
        len(history),
        test=test_metrics,
        baseline=baseline,
        history=history,
        reason=stop_reason,
    )


# -- helpers --------------------------------------------------------------------------


def _normalisation(metrics: dict[str, Any], train: Dataset) -> Normalisation:
    """The scaling a run trains with: the one the brain's version already learned
    under (continued training keeps the meaning of its inputs), else fitted on
    the training split only."""
    if METRICS_KEY in metrics:
        return Normalisation.from_record(metrics[METRICS_KEY])
    return Normalisation.fit(train)


def _validation_split(
    train: Dataset, fraction: float, config: MarbleConfig
) -> tuple[Dataset, Dataset | None]:
    if fraction <= 0 or train.n_rows < 10:
        return train, None
    return split_dataset(
        train, fraction, config.dataset.split_random_state, config.dataset.stratify
    )


def _baseline(train: Dataset, test: Dataset, objective: Objective) -> dict[str, float]:
    """The trivial predictor's score: majority class, or the training mean."""
    if objective.task == "regression":
        mean = train.targets.mean(axis=0, keepdims=True)
        return {"mse": float(((test.targets - mean) ** 2).mean())}
    if objective.task == "classification":
        majority = np.bincount(train.targets).argmax()
        return {"accuracy": float((test.targets == majority).mean())}
    majority_bit = float(train.targets.mean() >= 0.5)
    return {"accuracy": float((test.targets == majority_bit).mean())}
