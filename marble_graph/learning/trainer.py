"""The training loop (docs/model.md, the training step): learn a dataset, rewire, modulate.

One ``Trainer`` owns a brain's tensors on a device, the ``BrainModel`` built
from them and its optimizer. Each step: sample Neuronenblitz walks from the
batch's active inputs (updating potentials, fatigue and visit counts), run
the forward pass (optionally routed through the walked edges only), take an
optimizer step at the neuromodulated learning rate, amplify the step of weak
lobes, and clamp weights. Every ``plasticity_interval`` steps the structure
changes (shortcuts, concepts, splits, prunes) and the parameters and
optimizer state follow the new shapes; neurogenesis fires when validation
loss plateaus. Every epoch yields one metrics dict.

Each step's batch is also recorded, with the salience of the current
neuromodulation signals, into the brain's experience buffers
(``learning/experience.py``); ``dream`` replays batches sampled from them
through the same step, after every ``dreams.every_epochs`` epochs or on request.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor

from marble_graph.config import MarbleConfig
from marble_graph.datasets import Dataset
from marble_graph.devices import resolve_device
from marble_graph.errors import ValidationFailed
from marble_graph.learning import plasticity as plastic
from marble_graph.learning.averaging import ParameterAverage
from marble_graph.learning.experience import DreamBuffers, salience
from marble_graph.learning.lobes import (
    kmeans_lobes,
    lobe_boost,
    lobe_gradient_magnitude,
    update_lobe_attention,
)
from marble_graph.learning.losses import Objective
from marble_graph.learning.neuromodulation import Neuromodulator
from marble_graph.learning.neuronenblitz import (
    OutEdges,
    PatternCounts,
    apply_walks,
    decay_routes,
    edge_scores,
    sample_walks,
)
from marble_graph.learning.optimizers import SGD, Adam, ForeachOptimizer
from marble_graph.learning.structure import StructuralChange, compose, remap_optimizer_state
from marble_graph.model import BrainModel
from marble_graph.model.c_library import kernel_threads, kernels_without_grad
from marble_graph.tensors import BrainTensors

EpochCallback = Callable[[dict[str, Any]], None]
StopCheck = Callable[[], bool]
CycleCallback = Callable[[int, float], None]  # (cycles done, that cycle's loss)
_MIN_IMPROVEMENT = 1e-4
PLASTICITY_COUNTS = ("shortcut", "concept", "split", "prune", "neurogenesis")
# A CPU step whose states ([batch x neurons, R] floats) stay under this runs
# torch's own operations on one thread and splits only the C kernels over the
# process's cores. Each of torch's parallel regions wakes its sleeping threads,
# and on tensors this small that costs what the split saves: the digits step
# (64 x 270 x 16 floats) took 36 and 41 ms (medians of 12 interleaved rounds)
# this way against 41 and 47 ms with both on two threads, and 45 and 43 ms on
# one thread. A 1M-synapse brain's step (2 x 100k x 16 floats) is past the
# limit: it took 0.13-0.14 s with torch on two threads against 0.19-0.20 s on
# one (docs/performance.md, Walks in C, walk patterns merged in bulk, threads
# for small steps).
SMALL_STEP_FLOATS = 1 << 20


@dataclass
class TrainResult:
    status: Literal["completed", "non_finite", "cancelled"]
    history: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None
    stopped_early: bool = False  # completed before the planned epochs (early stopping)


@dataclass
class DreamResult:
    """What one dream did: cycles replayed and their mean loss."""

    status: Literal["completed", "non_finite", "cancelled"]
    cycles: int = 0
    loss: float | None = None  # mean replay loss of the cycles run (None: none ran)
    reason: str | None = None

    def metrics(self) -> dict[str, Any]:
        """``dream_cycles`` and ``dream_loss`` as an epoch or version records them."""
        return {"dream_cycles": self.cycles, "dream_loss": self.loss}


def _to_device(tensor: Tensor, device: torch.device) -> Tensor:
    """Copy to ``device``; to a GPU from pinned memory, without blocking the host."""
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


class Trainer:
    def __init__(
        self,
        tensors: BrainTensors,
        config: MarbleConfig,
        objective: Objective,
        shared_state: dict[str, Tensor] | None = None,
        device: torch.device | None = None,
        step: int = 0,
        experience: dict[str, Tensor] | None = None,
    ) -> None:
        self.config = config
        self.objective = objective
        self.device = resolve_device(device, config.core.device)
        self.tensors = tensors.to(self.device)
        seed = config.seed.random_seed
        self.model = BrainModel(self.tensors, config.core, seed)
        if shared_state is not None:
            self.model.load_shared_state(shared_state)
        self.step = step
        self.generator = torch.Generator().manual_seed(seed + step)  # batches, dropout (CPU)
        self.walk_generator = torch.Generator(device=self.device).manual_seed(seed + step + 1)
        # Recording and dreaming draw from their own streams, so recording on or off
        # leaves training's batches, dropout and walks exactly as they were.
        self.experience_generator = torch.Generator().manual_seed(seed + step + 2)
        self.dream_generator = torch.Generator().manual_seed(seed + step + 3)
        dreams = config.dreams
        self.buffers = DreamBuffers.from_state_dict(
            experience, dreams.instant_capacity, dreams.long_term_capacity, self.device
        )
        self.optimizer = self._make_optimizer()
        self.neuromodulator = Neuromodulator.from_config(config.neuromodulation)
        self.out_edges = OutEdges.build(self.tensors.edge_index, self.tensors.num_neurons)
        self.patterns = PatternCounts.empty(self.tensors.num_neurons, self.device)
        self.average = ParameterAverage(self.model, config.learning.ema_decay)
        self.validation_history: list[float] = []
        self.best: tuple[int, float, BrainTensors, dict[str, Tensor]] | None = None
        self._growth_mark = 0  # validation epochs before this index predate the last growth
        if config.lobes.enabled and self.tensors.lobe_id.numel() == 0:
            self._assign_lobes()

    # -- public -------------------------------------------------------------------

    def fit(
        self,
        train: Dataset,
        validation: Dataset | None,
        epochs: int,
        on_epoch: EpochCallback | None = None,
        should_stop: StopCheck | None = None,
        first_epoch: int = 1,
        total_epochs: int | None = None,
    ) -> TrainResult:
        """Train for ``epochs`` epochs; stop early on non-finite loss or ``should_stop``."""
        features = _to_device(torch.from_numpy(train.features), self.device)
        targets = self.objective.targets(train, self.device)
        total_epochs = total_epochs or epochs
        result = TrainResult(status="completed")
        patience = self.config.learning.early_stopping_patience
        for epoch in range(first_epoch, first_epoch + epochs):
            started = time.perf_counter()
            lr = self._set_learning_rate(epoch, total_epochs)
            counts: Counter[str] = Counter()
            loss_sum, seen, grad_norm = 0.0, 0, 0.0
            order = torch.randperm(train.n_rows, generator=self.generator).to(self.device)
            for batch in order.split(self.config.learning.batch_size):
                if should_stop is not None and should_stop():
                    result.status, result.reason = "cancelled", f"cancelled during epoch {epoch}"
                    return result
                with self._step_threads(len(batch)):
                    loss, grad_norm = self._train_step(features[batch], targets[batch])
                if not math.isfinite(loss):
                    result.status = "non_finite"
                    result.reason = f"loss became {loss} at epoch {epoch}, step {self.step}"
                    return result
                if self.config.dreams.record:
                    self._record(features[batch], targets[batch])
                loss_sum += loss * len(batch)
                seen += len(batch)
                if self._plasticity_due():
                    counts.update(self._restructure())
            train_loss = loss_sum / max(seen, 1)
            dream = self._scheduled_dream(epoch, should_stop)
            if dream.status != "completed":
                result.status, result.reason = dream.status, f"{dream.reason} (epoch {epoch})"
                return result
            evaluation = self._validate(validation) if validation is not None else {}
            if "loss" in evaluation:
                self.validation_history.append(evaluation["loss"])
                self._remember_if_best(epoch, evaluation["loss"])
                counts.update(self._maybe_neurogenesis())
            self.neuromodulator.observe_epoch(train_loss, evaluation.get("loss"), grad_norm)
            metrics: dict[str, Any] = {
                "epoch": epoch,
                "loss": train_loss,
                **{f"val_{k}": v for k, v in evaluation.items()},
                "lr": lr,
                "lr_effective": lr * self.neuromodulator.lr_factor(),
                **self.neuromodulator.snapshot(),
                **{name: counts.get(name, 0) for name in PLASTICITY_COUNTS},
                **dream.metrics(),
                "neurons": self.tensors.num_neurons,
                "synapses": self.tensors.num_synapses,
                "grad_norm": grad_norm,
                "seconds": time.perf_counter() - started,
            }
            result.history.append(metrics)
            if on_epoch is not None:
                on_epoch(metrics)
            if patience and self._stalled(patience):
                result.stopped_early = True
                result.reason = (
                    f"early stop after epoch {epoch}: validation loss did not improve "
                    f"for {patience} epochs"
                )
                break
        return result

    def dream(
        self,
        cycles: int,
        on_cycle: CycleCallback | None = None,
        should_stop: StopCheck | None = None,
    ) -> DreamResult:
        """Replay ``cycles`` batches of ``learning.batch_size`` experiences, sampled from the
        long-term buffer by ``dreams.sampling``, through the training step.

        Runs at the current learning rate; dreamt batches are not recorded again.
        Stops at ``should_stop`` (status ``cancelled``) or a non-finite loss.
        """
        if cycles < 1:
            raise ValidationFailed(f"cycles must be at least 1, got {cycles}")
        if self.buffers.empty_of_experience:
            raise ValidationFailed(
                "the experience buffer is empty: there is nothing to replay "
                "(train with dreams.record: true first)"
            )
        dreams, batch_size = self.config.dreams, self.config.learning.batch_size
        result, loss_sum = DreamResult(status="completed"), 0.0
        for cycle in range(1, cycles + 1):
            if should_stop is not None and should_stop():
                result.status, result.reason = "cancelled", f"dream cancelled at cycle {cycle}"
                break
            features, targets = self.buffers.sample(
                batch_size, dreams.sampling, dreams.temperature, self.dream_generator
            )
            with self._step_threads(batch_size):
                loss, _ = self._train_step(features, targets)
            if not math.isfinite(loss):
                result.status = "non_finite"
                result.reason = f"dream loss became {loss} at cycle {cycle}, step {self.step}"
                break
            loss_sum += loss
            result.cycles = cycle
            if on_cycle is not None:
                on_cycle(cycle, loss)
        result.loss = loss_sum / result.cycles if result.cycles else None
        return result

    def dream_after_run(self, should_stop: StopCheck | None = None) -> DreamResult | None:
        """The dream ``dreams.after_run`` asks for at the end of a run (after the best epoch
        is restored, so the dream is not undone); None when it is off or nothing is held."""
        if not self.config.dreams.after_run or self.buffers.empty_of_experience:
            return None
        return self.dream(self.config.dreams.cycles, should_stop=should_stop)

    def start_dreaming(self) -> float:
        """Set the learning rate for a dream outside a run (the configured rate, neuromodulated,
        no schedule); returns that base rate."""
        return self._set_learning_rate(1, 1)

    def experience_state(self) -> dict[str, Tensor] | None:
        """The experience buffers as CPU tensors to persist; None when they hold nothing."""
        return self.buffers.state_dict() or None

    def _record(self, features: Tensor, targets: Tensor) -> None:
        signals = self.neuromodulator
        value = salience(signals.reward, signals.emotion, signals.arousal, signals.stress)
        self.buffers.record(features, targets, value, self.experience_generator)

    def _scheduled_dream(self, epoch: int, should_stop: StopCheck | None) -> DreamResult:
        """The dream ``dreams.every_epochs`` asks for after the run's ``epoch`` (none: 0
        cycles); it comes before validation, so the epoch's scores include it."""
        every = self.config.dreams.every_epochs
        if not every or epoch % every or self.buffers.empty_of_experience:
            return DreamResult(status="completed")
        return self.dream(self.config.dreams.cycles, should_stop=should_stop)

    def _validate(self, validation: Dataset) -> dict[str, float]:
        """``evaluate`` on the C kernels where training uses them: validation runs every
        epoch (32 ms against 62 ms with the PyTorch operations on digits' 135 rows),
        and its scores differ from ``evaluate``'s by float rounding only. ``predict``
        and ``evaluate`` keep the PyTorch operations, which serving runs too, so
        their outputs are the served ones to the last bit."""
        with kernels_without_grad():
            return self.evaluate(validation)

    def _remember_if_best(self, epoch: int, validation_loss: float) -> None:
        if not self.config.learning.restore_best or not math.isfinite(validation_loss):
            return
        if self.best is None or validation_loss < self.best[1]:
            tensors, shared = self.result()
            self.best = (epoch, validation_loss, tensors.clone(), shared)

    def restore_best(self) -> int | None:
        """Go back to the best validation epoch's parameters; return that epoch (or None)."""
        if self.best is None:
            return None
        epoch, _, tensors, shared = self.best
        self.tensors = tensors.to(self.device)
        self.model.restructure(self.tensors)
        self.model.load_shared_state(shared)
        self.average.reset()
        self.out_edges = OutEdges.build(self.tensors.edge_index, self.tensors.num_neurons)
        self.patterns = PatternCounts.empty(self.tensors.num_neurons, self.device)
        return epoch

    def _stalled(self, patience: int) -> bool:
        """True when none of the last ``patience`` validation losses beat the best before.

        Beating means by more than a relative 1e-4: drift in the last digits is
        not progress.
        """
        history = self.validation_history
        if len(history) <= patience:
            return False
        return min(history[-patience:]) >= min(history[:-patience]) * (1 - _MIN_IMPROVEMENT)

    @torch.no_grad()
    def predict(self, features: Tensor, batch_size: int = 1024) -> Tensor:
        """Raw outputs [B, O] of the averaged parameters, deterministic, side-effect free."""
        self.model.eval()
        with self.average.applied():
            outputs = [
                self.model(chunk.to(self.device), **self._signals())
                for chunk in features.split(batch_size)
            ]
        return torch.cat(outputs) if outputs else torch.empty(0, self.model.output_rows.numel())

    def evaluate(self, dataset: Dataset) -> dict[str, float]:
        outputs = self.predict(torch.from_numpy(dataset.features))
        return self.objective.evaluate(outputs, self.objective.targets(dataset, self.device))

    def result(self) -> tuple[BrainTensors, dict[str, Tensor]]:
        """The learned brain (averaged parameters; tensors on the CPU) and the shared layer."""
        with self.average.applied():
            self.model.sync_to(self.tensors)
            shared = self.model.shared_state()
        return self.tensors.to("cpu"), shared

    # -- one step -------------------------------------------------------------------

    @contextlib.contextmanager
    def _step_threads(self, batch: int) -> Iterator[None]:
        """A small CPU step: torch's operations on one thread, the C kernels on all of
        this process's (see ``SMALL_STEP_FLOATS``); any other step as it is."""
        threads = torch.get_num_threads()
        floats = batch * self.tensors.num_neurons * int(self.model.state.shape[1])
        if self.device.type != "cpu" or threads == 1 or floats > SMALL_STEP_FLOATS:
            yield
            return
        with kernel_threads.splitting_over(threads):
            torch.set_num_threads(1)
            try:
                yield
            finally:
                torch.set_num_threads(threads)

    def _train_step(self, features: Tensor, targets: Tensor) -> tuple[float, float]:
        learning = self.config.learning
        self.model.train()
        if learning.input_dropout > 0:
            keep = torch.rand(features.shape, generator=self.generator).to(self.device)
            features = features * (keep >= learning.input_dropout) / (1 - learning.input_dropout)
        edge_mask = self._wander(features) if self.config.neuronenblitz.enabled else None
        outputs = self.model(features, edge_mask, **self._signals())
        loss = self.objective.loss(outputs, targets, learning.label_smoothing)
        if not torch.isfinite(loss):
            return float(loss.item()), math.nan
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        limit = learning.gradient_clip_value if learning.gradient_clip_value > 0 else math.inf
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), limit))
        boost = self._lobe_step()
        before = self.model.state.detach().clone() if boost is not None else None
        # Frozen synapses get no gradient, but weight decay would still move them.
        frozen_weights = self.model.weight.detach().clone() if self.model.any_frozen() else None
        self.optimizer.step()
        with torch.no_grad():
            if boost is not None and before is not None:
                # Weak lobes learn faster: stretch their step, whatever the optimizer.
                state = self.model.state
                state.add_((boost - 1.0).unsqueeze(-1) * (state - before))
            self.model.weight.clamp_(-learning.weight_limit, learning.weight_limit)
            if frozen_weights is not None:
                weight = self.model.weight
                weight.copy_(torch.where(self.model.frozen, frozen_weights, weight))
        self.average.update()
        self.step += 1
        return float(loss.item()), grad_norm

    def _signals(self) -> dict[str, float]:
        return {"reward": self.neuromodulator.reward, "stress": self.neuromodulator.stress}

    def _wander(self, features: Tensor) -> Tensor | None:
        """Walk from each example's active inputs; return the walked-edge mask if routing."""
        config = self.config.neuronenblitz
        t = self.tensors
        weights = features.abs().detach() + 1e-12  # [B, I]: start where the input is active
        starts = torch.multinomial(
            weights.cpu(), config.wanderers, replacement=True, generator=self.generator
        ).to(self.device)
        rows = t.input_rows[starts.flatten()]
        scores = edge_scores(self.model.weight.detach(), t.potential, t.fatigue, t.visit_count)
        walks = sample_walks(self.out_edges, scores, rows, config, self.walk_generator)
        apply_walks(t.potential, t.fatigue, t.visit_count, walks, config)
        decay_routes(t.potential, t.fatigue, self.step, config)
        self.patterns.add(walks, t.edge_index)
        return walks.edge_mask(t.num_synapses) if config.route_training else None

    def _lobe_step(self) -> Tensor | None:
        """Update neuron and lobe attention from gradients; return per-neuron step boost."""
        t, lobes = self.tensors, self.config.lobes
        grad = self.model.state.grad
        if grad is None:
            return None
        ema = lobes.attention_ema
        t.attention = t.attention * ema + grad.norm(dim=-1) * (1 - ema)
        if not lobes.enabled or t.lobe_id.numel() == 0:
            return None
        magnitude = lobe_gradient_magnitude(grad, t.neuron_lobe, t.lobe_id.numel())
        t.lobe_attention = update_lobe_attention(t.lobe_attention, magnitude, ema)
        return lobe_boost(
            t.lobe_attention, t.neuron_lobe, lobes.weak_lobe_quantile, lobes.lobe_lr_boost
        )

    # -- learning rate ------------------------------------------------------------------

    def _make_optimizer(self) -> ForeachOptimizer:
        # Ours, not torch.optim's: those import torch._dynamo (2.2 s of start-up).
        learning = self.config.learning
        params = list(self.model.parameters())
        if learning.optimizer == "sgd":
            return SGD(
                params,
                lr=learning.learning_rate,
                momentum=learning.momentum,
                weight_decay=learning.weight_decay,
            )
        return Adam(params, lr=learning.learning_rate, weight_decay=learning.weight_decay)

    def _set_learning_rate(self, epoch: int, total_epochs: int) -> float:
        learning = self.config.learning
        lr = learning.learning_rate
        if learning.lr_schedule == "cosine" and total_epochs > 1:
            lr *= 0.5 * (1 + math.cos(math.pi * (epoch - 1) / total_epochs))
        effective = lr * self.neuromodulator.lr_factor()
        for group in self.optimizer.param_groups:
            group["lr"] = effective
        return lr

    # -- structure ---------------------------------------------------------------------

    def _plasticity_due(self) -> bool:
        return (
            self.config.plasticity.enabled
            and self.step % self.config.plasticity.plasticity_interval == 0
        )

    def _restructure(self) -> dict[str, int]:
        """Shortcuts and concepts first (they only append rows), then splits and prunes."""
        config = self.config.plasticity
        self.model.sync_to(self.tensors)
        t = self.tensors
        src, dst = self.patterns.top_shortcuts(config.shortcut_threshold)
        t, change = plastic.add_shortcuts(t, src, dst, self.step)
        a, b = self.patterns.top_pairs(config.concept_threshold)
        t, more = plastic.add_concept_neurons(t, a, b, self.step, config.max_neurons)
        change = compose(change, more)
        t, more = plastic.split_synapses(t, config.plasticity_threshold, self.step)
        change = compose(change, more)
        t, more = plastic.prune_synapses(
            t, config.prune_threshold, config.prune_potential_threshold
        )
        change = compose(change, more)
        self._adopt(t, change)
        return change.counts

    def _maybe_neurogenesis(self) -> dict[str, int]:
        config = self.config.plasticity
        if not config.enabled or not plastic.validation_plateaued(
            self.validation_history[self._growth_mark :], config.neurogenesis_patience
        ):
            return {}
        signals = self.neuromodulator
        count = plastic.neurogenesis_count(
            signals.arousal, signals.reward, config.neurogenesis_factor
        )
        self.model.sync_to(self.tensors)
        t, change = plastic.neurogenesis(
            self.tensors,
            count,
            config.neurogenesis_fanout,
            self.generator,
            self.step,
            config.max_neurons,
        )
        self._adopt(t, change)
        self._growth_mark = len(self.validation_history)  # a full window before growing again
        return change.counts

    def _adopt(self, tensors: BrainTensors, change: StructuralChange) -> None:
        """Swap in a new structure; parameters and optimizer state follow the new shapes."""
        self.patterns.reset()
        if not change.changed:
            return
        old = {"state": self.model.state, "bias": self.model.bias, "weight": self.model.weight}
        self.model.restructure(tensors)
        rows = {
            "state": (change.kept_neurons, change.new_neurons),
            "bias": (change.kept_neurons, change.new_neurons),
            "weight": (change.kept_synapses, change.new_synapses),
        }
        for name, (kept, new_count) in rows.items():
            remap_optimizer_state(
                self.optimizer, old[name], getattr(self.model, name), kept, new_count
            )
        self.tensors = tensors
        self.average.reset()  # the average restarts from the new structure
        self.out_edges = OutEdges.build(tensors.edge_index, tensors.num_neurons)
        self.patterns = PatternCounts.empty(tensors.num_neurons, self.device)

    def _assign_lobes(self) -> None:
        t, lobes = self.tensors, self.config.lobes
        generator = torch.Generator(device=self.device).manual_seed(self.config.seed.random_seed)
        assignment = kmeans_lobes(t.state, lobes.count, lobes.kmeans_iterations, generator)
        count = int(assignment.max().item()) + 1 if assignment.numel() else 0
        t.lobe_id = torch.arange(count, device=self.device)
        t.lobe_names = [f"lobe-{i}" for i in range(count)]
        t.lobe_attention = torch.zeros(count, device=self.device)
        t.neuron_lobe = assignment
