"""``Brain``: MARBLE for notebooks. Train on Python objects, infer on Python objects.

    from marble_graph import Brain

    brain = Brain("reviews", home="./marble-data")
    brain.train([("great film", "pos"), ("dull", "neg"), ...], epochs=5)
    brain.infer(["what a film"])            # -> ["pos"]

Data may be a list of ``(input, target)`` pairs (numbers, vectors, text or
bytes), ``(X, y)`` numpy arrays, a torch ``DataLoader`` of ``(x, y)``
batches, a pandas DataFrame or a pyarrow Table. ``train`` stores it as the
next version of a dataset (``<brain>-data`` unless named), creates the brain
sized for it on first use, and trains; every version stays in the data home,
reachable from the CLI, REST and GraphQL like any other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from marble_graph.config import MarbleConfig, load_config
from marble_graph.data_home import DataHome
from marble_graph.datasets import python_rows
from marble_graph.errors import NotFound, ValidationFailed
from marble_graph.service import BrainService, DatasetVersionInfo, RunSummary


class Brain:
    """One brain in one data home, driven from Python objects."""

    def __init__(
        self,
        name: str,
        *,
        home: str | Path | None = None,
        config: MarbleConfig | None = None,
        service: BrainService | None = None,
    ) -> None:
        self.name = name
        self._owns_service = service is None
        if service is None:
            config = config or load_config(None)
            service = BrainService(config, DataHome.resolve(home, configured=config.storage.home))
        self.service = service

    def __enter__(self) -> Brain:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_service:
            self.service.close()

    def add_data(
        self,
        data: object,
        *,
        dataset: str | None = None,
        target: str | None = None,
        inputs: list[str] | None = None,
        encoders: dict[str, dict[str, Any]] | None = None,
    ) -> DatasetVersionInfo:
        """Store ``data`` as the next version of ``dataset`` (default ``<brain>-data``)."""
        table = rows_from_data(data)
        info, _ = self.service.create_dataset(
            dataset or f"{self.name}-data",
            table,
            input_columns=inputs,
            target_column=target,
            encoders=encoders,
        )
        return info

    def train(
        self,
        data: object,
        *,
        epochs: int | None = None,
        dataset: str | None = None,
        target: str | None = None,
        inputs: list[str] | None = None,
        encoders: dict[str, dict[str, Any]] | None = None,
    ) -> RunSummary:
        """Train on ``data`` (objects, or a stored spec like ``"reviews@2"``); the brain is
        created sized for the data when it does not exist yet."""
        if isinstance(data, str):
            spec = data
        else:
            spec = self.add_data(
                data, dataset=dataset, target=target, inputs=inputs, encoders=encoders
            ).spec
        try:
            self.service.get_brain(self.name)
        except NotFound:
            self.service.create_brain_for_dataset(self.name, spec)
        return self.service.train(self.name, spec, epochs=epochs)

    def infer(self, objects: object) -> list[Any] | np.ndarray:
        """Outputs for ``objects``: decoded (labels, numbers, bytes) when the brain was
        trained on stored data whose target can be decoded; else the output array.

        A 2-D numeric array is taken as ready feature vectors.
        """
        if isinstance(objects, np.ndarray) and objects.ndim == 2 and objects.dtype.kind in "fiu":
            result = self.service.infer(self.name, objects)
            return result.labels if result.labels is not None else result.outputs
        answer = self.service.infer_objects(self.name, _plain(objects))
        if answer.decoded is not None:
            return answer.decoded
        return answer.inference.outputs


def rows_from_data(data: object) -> pa.Table:
    """Rows from any data ``Brain.train`` takes; a torch DataLoader is read batch by batch."""
    if _is_data_loader(data):
        inputs, targets = [], []
        for batch in data:  # type: ignore[attr-defined]
            if not isinstance(batch, list | tuple) or len(batch) != 2:
                raise ValidationFailed(
                    "DataLoader batches must be (inputs, targets) pairs, "
                    f"got {type(batch).__name__}"
                )
            inputs.append(np.asarray(batch[0]))
            targets.append(np.asarray(batch[1]))
        if not inputs:
            raise ValidationFailed("the DataLoader yielded no batches")
        x, y = np.concatenate(inputs), np.concatenate(targets)
        return python_rows.rows_from_objects((x.reshape(len(x), -1), y))
    return python_rows.rows_from_objects(data)


def _is_data_loader(data: object) -> bool:
    try:
        from torch.utils.data import DataLoader
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return isinstance(data, DataLoader)


def _plain(objects: object) -> object:
    """numpy rows to lists, so a batch of vectors reads as one vector per object."""
    if isinstance(objects, np.ndarray):
        return list(objects)
    return objects
