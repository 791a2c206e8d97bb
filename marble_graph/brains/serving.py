"""A brain version held in memory, ready to answer inference requests.

``ServingModel`` is built once per (brain, version) and reused: building it
reads the graph from the store, constructing the model and its edge index
costs far more than a forward pass over a small batch. The server keeps one
per brain (``ModelCache``) and swaps it when a new version commits; the CLI
builds one per call. Any retained earlier version can be served too, named
by number or tag (``brains/history.py`` loads it from its snapshot); the
cache holds a few such pinned versions beside each brain's current one.

Every interface (CLI, REST, GraphQL) infers through ``ServingModel.predict``,
the one place that scales a caller's features as the version was trained
and maps regression outputs back to the target's own units.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from marble_graph.brains.history import (
    load_version_tensors,
    resolve_retained_version,
    resolve_version,
)
from marble_graph.brains.versions import LoadedBrain, load_brain_tensors
from marble_graph.datasets import check_features
from marble_graph.datasets.normalisation import Normalisation
from marble_graph.errors import StoreError, VersionCollected
from marble_graph.model import BrainModel
from marble_graph.model.predictions import join_predictions, task_predictions
from marble_graph.model.scripted_forward import ScriptedForward
from marble_graph.store.home_stores import Stores
from marble_graph.store.metadata.brain_records import get_brain
from marble_graph.store.metadata.version_history import VersionRef

# Rows per forward pass: bounds peak memory of [N, B, R] activations.
FORWARD_CHUNK = 1024
# A version's generation can be garbage-collected between reading the brain's
# record and reading its graph (a write-back just committed); the read is then
# short and is retried against the new record.
LOAD_ATTEMPTS = 3
# Versions other than the current one a ``ModelCache`` holds, least recently used first out.
PINNED_MODELS = 8


@dataclass
class Inference:
    version: int
    outputs: np.ndarray  # [B, O] logits for classification; regression in the target's units
    labels: np.ndarray | None  # [B] predicted class, for classification and binary brains
    probabilities: np.ndarray | None


class ServingModel:
    """One committed brain version in eval mode; ``predict`` is deterministic."""

    def __init__(self, loaded: LoadedBrain, device: torch.device) -> None:
        self.loaded = loaded
        self.name = loaded.info.name
        self.version = loaded.info.version
        self.device = device
        self.input_width = int(loaded.tensors.input_rows.numel())
        self.output_width = int(loaded.tensors.output_rows.numel())
        self.task: str | None = loaded.metrics.get("task")
        self.normalisation = Normalisation.from_metrics(
            loaded.metrics,
            self.input_width,
            self.output_width if self.task == "regression" else None,
        )
        model = BrainModel(loaded.tensors, loaded.config.core, loaded.config.seed.random_seed)
        if loaded.shared_state is not None:
            model.load_shared_state(loaded.shared_state)
        self.model = model.eval()
        signals = loaded.metrics.get("neuromodulation", {})
        self.reward = float(signals.get("reward", 0.0))
        self.stress = float(signals.get("stress", 0.0))
        # One TorchScript call per forward pass, so a server's forward thread does
        # not queue for the GIL behind its event loop (model/scripted_forward.py).
        self.scripted = ScriptedForward.build(self.model, self.reward, self.stress)
        # The eager model caches synapse matrices per batch size: one embedding at a time.
        self._eager = threading.Lock()

    @property
    def embedding_width(self) -> int:
        """Values in one embedding: outputs x representation_size (``embed``)."""
        return self.output_width * self.loaded.tensors.representation_size

    def embed(self, features: np.ndarray, carriers: int) -> tuple[np.ndarray, np.ndarray]:
        """The brain's state for each input (docs/model.md, Embeddings).

        ``features`` [B, I] are in the data's units (checked, then scaled as in
        training). Returns the embeddings [B, O*R] float32, the output neurons'
        final states concatenated, and per input the ids of the ``carriers``
        output neurons whose final states have the largest norm [B, C], largest first.
        """
        checked = check_features(features, self.input_width)
        batch = torch.from_numpy(self.normalisation.features(checked)).to(self.device)
        tensors = self.loaded.tensors
        with self._eager, torch.inference_mode():
            states = self.model.embed(batch, self.reward, self.stress)  # [B, O*R]
            per_output = states.view(states.shape[0], self.output_width, -1)  # [B, O, R]
            count = min(carriers, self.output_width)
            strongest = torch.topk(per_output.norm(dim=-1), count, dim=1).indices  # [B, C]
            output_ids = tensors.neuron_id.index_select(0, tensors.output_rows)  # [O]
            carried_by = output_ids.to(strongest.device)[strongest]  # [B, C]
        return _numpy(states.float()), _numpy(carried_by)

    def activations(self, features: np.ndarray) -> tuple[np.ndarray, Inference]:
        """Every neuron's final state for each input, with the inference they give.

        ``features`` [B, I] are in the data's units (checked, then scaled as in
        training). Returns the states [B, N, R] float32, neurons in id order,
        from one forward pass that updates every neuron in every round
        (``BrainModel.activations``), and the outputs, labels and
        probabilities ``predict`` gives for the same rows.
        """
        checked = check_features(features, self.input_width)
        batch = torch.from_numpy(self.normalisation.features(checked)).to(self.device)
        with self._eager, torch.inference_mode():
            states, outputs = self.model.activations(batch, self.reward, self.stress)
            inference = self._inference(outputs, task_predictions(outputs, self.task or ""))
        return _numpy(states.float()), inference

    @classmethod
    def load(
        cls,
        stores: Stores,
        name: str,
        device: torch.device | str = "cpu",
        version: VersionRef | None = None,
    ) -> ServingModel:
        """The brain's current committed version, read consistently from the stores; or
        exactly ``version`` (a number or a tag) while retention keeps it."""
        target = torch.device(device)
        if version is not None:
            number = resolve_version(stores, name, version)
            return cls(load_version_tensors(stores, name, number, target), target)
        for _ in range(LOAD_ATTEMPTS):
            loaded = load_brain_tensors(stores, name, target)
            tensors, info = loaded.tensors, loaded.info
            if (tensors.num_neurons, tensors.num_synapses) == (
                info.neuron_count,
                info.synapse_count,
            ):
                return cls(loaded, target)
        raise StoreError(
            f"brain {name!r} kept changing while it was loaded ({LOAD_ATTEMPTS} attempts); "
            "try again"
        )

    def forward(self, features: np.ndarray) -> Tensor:
        """The model's outputs [B, O] (in its scaled space) for features [B, I] in the
        data's units (checked: width, finiteness; then scaled as in training)."""
        return self._outputs(check_features(features, self.input_width), "")[0]

    def predict(self, features: np.ndarray) -> Inference:
        """Outputs with labels and probabilities where the brain's task has them."""
        return self.predict_checked(check_features(features, self.input_width))

    def predict_checked(self, features: np.ndarray) -> Inference:
        """``predict`` for features ``check_features`` already passed (float32 [B, I],
        finite): the server checks each request once, as it arrives, not again here."""
        return self._inference(*self._outputs(features, self.task or ""))

    def _inference(self, outputs: Tensor, extra: dict[str, Tensor]) -> Inference:
        """Outputs [B, O] in the target's units, with the task's labels and probabilities."""
        return Inference(
            version=self.version,
            outputs=_numpy(self.normalisation.outputs_to_units(outputs)),
            labels=_numpy(extra["label"]) if "label" in extra else None,
            probabilities=_numpy(extra["probabilities"]) if "probabilities" in extra else None,
        )

    def _outputs(self, features: np.ndarray, task: str) -> tuple[Tensor, dict[str, Tensor]]:
        """Outputs [B, O] for checked features and ``task_predictions`` of them ("": none),
        in chunks of rows."""
        batch = torch.from_numpy(self.normalisation.features(features))
        if batch.device != self.device:
            batch = batch.to(self.device)
        # inference_mode, not no_grad: outputs never reach autograd, so skipping
        # version counters and view tracking is free (about 5% of a batch of 64).
        with torch.inference_mode():
            # The common case in one call: in a server, each torch call from Python can
            # wait for the event loop to let go of the GIL (model/scripted_forward.py).
            if batch.shape[0] <= FORWARD_CHUNK:
                return self._chunk(batch, task)
            return join_predictions([self._chunk(c, task) for c in batch.split(FORWARD_CHUNK)])

    def _chunk(self, features: Tensor, task: str) -> tuple[Tensor, dict[str, Tensor]]:
        if self.scripted is not None:
            return self.scripted.predict(features, task)
        outputs = self.model(features, reward=self.reward, stress=self.stress)
        return outputs, task_predictions(outputs, task)


def infer(
    stores: Stores,
    name: str,
    features: np.ndarray,
    device: torch.device,
    version: VersionRef | None = None,
) -> Inference:
    """Outputs of the brain's current version (or exactly ``version``, a number or a tag);
    deterministic and changes nothing."""
    return ServingModel.load(stores, name, device, version).predict(features)


def _numpy(tensor: Tensor) -> np.ndarray:
    # .cpu() on a CPU tensor is a torch call all the same (see _outputs).
    return tensor.numpy() if tensor.device.type == "cpu" else tensor.cpu().numpy()


class ModelCache:
    """The serving model of each brain's current version, reloaded when it changes.

    ``get`` reads the brain's current version from the metadata store only when
    the stores committed something since the last check, and rebuilds only
    when the version moved; answers always come from the last committed
    version and never from one still being written. ``get(name, version)``
    serves exactly that version (a number or a tag): models are keyed by
    (brain, version number), the current one is shared, and up to
    ``PINNED_MODELS`` others are kept; a tag is re-resolved after every commit
    (it may have moved, or its version been collected).
    """

    def __init__(self, stores: Stores, device: torch.device | str = "cpu") -> None:
        self.stores = stores
        self.device = torch.device(device)
        self._models: dict[str, ServingModel] = {}
        self._checked_at: dict[str, int] = {}  # stores.changes when each was last checked
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        # (brain, version number) -> model of a version other than the current one.
        self._pinned: OrderedDict[tuple[str, int], ServingModel] = OrderedDict()
        # (brain, reference as given) -> (stores.changes when resolved, version number).
        self._resolved: dict[tuple[str, VersionRef], tuple[int, int]] = {}

    def get(self, name: str, version: VersionRef | None = None) -> ServingModel:
        """The model of ``name``'s current version, or of exactly ``version``."""
        if version is not None:
            return self._get_pinned(name, version)
        cached = self._models.get(name)
        changes = self.stores.changes
        if cached is not None and self._checked_at.get(name) == changes:
            return cached  # nothing committed since the last check: no store read
        current = get_brain(self.stores.metadata, name).version
        if cached is not None and cached.version == current:
            self._checked_at[name] = changes
            return cached
        with self._lock_for(name):
            cached = self._models.get(name)
            if cached is None or cached.version < current:
                cached = ServingModel.load(self.stores, name, self.device)
                self._models[name] = cached
            self._checked_at[name] = changes
            return cached

    def cached(self, name: str) -> ServingModel | None:
        """The model held for ``name`` without checking the store."""
        return self._models.get(name)

    def forget(self, name: str) -> None:
        self._models.pop(name, None)
        self._checked_at.pop(name, None)
        with self._guard:
            for key in [k for k in self._pinned if k[0] == name]:
                del self._pinned[key]
            for ref in [k for k in self._resolved if k[0] == name]:
                del self._resolved[ref]

    def _get_pinned(self, name: str, version: VersionRef) -> ServingModel:
        number = self._resolve(name, version)
        current = self.get(name)
        if current.version == number:
            return current
        key = (name, number)
        with self._guard:
            cached = self._pinned.get(key)
            if cached is not None:
                self._pinned.move_to_end(key)
                return cached
        with self._lock_for(name):
            cached = self._pinned.get(key)
            if cached is None:
                cached = ServingModel.load(self.stores, name, self.device, number)
            with self._guard:
                self._pinned[key] = cached
                self._pinned.move_to_end(key)
                while len(self._pinned) > PINNED_MODELS:
                    self._pinned.popitem(last=False)
            return cached

    def _resolve(self, name: str, version: VersionRef) -> int:
        """The version number ``version`` names, read again after any commit: a tag may
        have moved, a version may have been collected (VersionCollected then, even while
        its model is still cached)."""
        changes = self.stores.changes
        known = self._resolved.get((name, version))
        if known is not None and known[0] == changes:
            return known[1]
        try:
            number = resolve_retained_version(self.stores, name, version)
        except VersionCollected as collected:
            with self._guard:
                self._pinned.pop((name, collected.version), None)
            raise
        self._resolved[(name, version)] = (changes, number)
        return number

    def _lock_for(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())
