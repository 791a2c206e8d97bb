"""The hand-built 4-neuron brain that the structural plasticity tests start from.

The brain (rows 0..3, ids 0, 2, 5, 7)::

    input(0) --0.3--> hidden(1) --0.8--> output(3)
        \\--(-0.5)--> hidden(2) --0.2--/
                 hidden(1) --0.6, excitatory--> hidden(2)

Synapse positions 0..4 have ids 0, 1, 3, 4, 8, so new neurons start at id 8
and new synapses at id 9.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import torch
from torch import Tensor

from marble_graph.brain_graph import MEMORY_SCHEMA
from marble_graph.tensors.brain_tensors import (
    KIND_HIDDEN,
    KIND_INPUT,
    KIND_OUTPUT,
    TYPE_EXCITATORY,
    TYPE_STANDARD,
    BrainTensors,
)

EDGES = [(0, 1), (0, 2), (1, 3), (2, 3), (1, 2)]
STATE = [[1.0, 2.0], [3.0, -1.0], [0.5, 0.5], [-2.0, 4.0]]
SEED = [[0.0, 0.0, 0.0], [0.5, 1.0, 0.25], [1.5, -1.0, 0.75], [2.0, 2.0, 1.0]]


def brain(**overrides: Any) -> BrainTensors:
    """The brain drawn in the module docstring; keyword arguments replace fields."""
    f32 = torch.float32
    t = BrainTensors(
        neuron_id=torch.tensor([0, 2, 5, 7]),
        kind=torch.tensor([KIND_INPUT, KIND_HIDDEN, KIND_HIDDEN, KIND_OUTPUT]),
        neuron_type=torch.zeros(4, dtype=torch.long),
        neuron_type_names=["standard"],
        state=torch.tensor(STATE),
        bias=torch.tensor([0.0, 0.25, -0.25, 0.5]),
        attention=torch.tensor([0.0, 1.0, 2.0, 0.0]),
        energy=torch.ones(4),
        seed_features=torch.tensor(SEED),
        neuron_created_step=torch.zeros(4, dtype=torch.long),
        edge_index=torch.tensor(EDGES).T.contiguous(),
        synapse_id=torch.tensor([0, 1, 3, 4, 8]),
        weight=torch.tensor([0.3, -0.5, 0.8, 0.2, 0.6]),
        synapse_type=torch.tensor([TYPE_STANDARD] * 4 + [TYPE_EXCITATORY]),
        potential=torch.ones(5, dtype=f32),
        fatigue=torch.full((5,), 0.25),
        visit_count=torch.full((5,), 2, dtype=torch.long),
        frozen=torch.zeros(5, dtype=torch.bool),
        synapse_created_step=torch.zeros(5, dtype=torch.long),
        lobe_id=torch.tensor([3]),
        lobe_names=["core"],
        lobe_attention=torch.tensor([0.5]),
        neuron_lobe=torch.tensor([-1, 0, 0, -1]),
        memories=MEMORY_SCHEMA.empty_table(),
    )
    return replace(t, **overrides)


def edges(t: BrainTensors) -> list[tuple[int, int]]:
    """Edges as (src id, dst id) pairs in position order."""
    ids = t.neuron_id[t.edge_index]
    return list(zip(ids[0].tolist(), ids[1].tolist(), strict=True))


def assert_same_tensors(a: BrainTensors, b: BrainTensors) -> None:
    for f in fields(BrainTensors):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, Tensor):
            assert x.dtype == y.dtype, f.name
            assert torch.equal(x, y), f.name
        else:
            assert x == y, f.name


def assert_round_trips(t: BrainTensors) -> None:
    """The persisted graph can hold the result: from_graph(to_graph()) gives it back."""
    assert_same_tensors(BrainTensors.from_graph(t.to_graph()), t)


def hot(position: int, potential: float = 12.0) -> Tensor:
    p = torch.ones(5)
    p[position] = potential
    return p
