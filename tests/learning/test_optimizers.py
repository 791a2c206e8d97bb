"""MARBLE's Adam and SGD match torch.optim step for step, and never import torch._dynamo."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from marble_graph.learning.optimizers import SGD, Adam, ForeachOptimizer
from marble_graph.learning.structure import remap_optimizer_state, remap_rows

REPO_ROOT = Path(__file__).resolve().parents[2]
STEPS = 6


def make_params() -> list[torch.nn.Parameter]:
    """A matrix, a vector and a scalar-like vector; the last one never gets a gradient."""
    generator = torch.Generator().manual_seed(3)
    return [
        torch.nn.Parameter(torch.randn(4, 3, generator=generator)),
        torch.nn.Parameter(torch.randn(5, generator=generator)),
        torch.nn.Parameter(torch.randn(2, generator=generator)),
    ]


def loss_of(params: list[torch.nn.Parameter], step: int) -> torch.Tensor:
    """A loss that changes with the step; ``params[2]`` is left out of it (no gradient)."""
    matrix, vector, _ = params
    return (matrix.sin() * (step + 1)).sum() + (vector**3).sum() * 0.1 + matrix.mean() * vector[0]


def run(
    optimizer: torch.optim.Optimizer | ForeachOptimizer, params: list[torch.nn.Parameter]
) -> None:
    """``STEPS`` steps; the learning rate changes through ``param_groups`` half-way."""
    for step in range(STEPS):
        if step == STEPS // 2:
            for group in optimizer.param_groups:
                group["lr"] = group["lr"] * 0.3
        optimizer.zero_grad(set_to_none=True)
        loss_of(params, step).backward()
        optimizer.step()


Factory = Callable[[list[torch.nn.Parameter], float], "torch.optim.Optimizer | ForeachOptimizer"]
CASES: dict[str, tuple[Factory, Factory]] = {
    "adam": (
        lambda p, wd: torch.optim.AdamW(p, lr=0.05, weight_decay=wd),
        lambda p, wd: Adam(p, lr=0.05, weight_decay=wd),
    ),
    "sgd_momentum": (
        lambda p, wd: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=wd),
        lambda p, wd: SGD(p, lr=0.05, momentum=0.9, weight_decay=wd),
    ),
    "sgd_plain": (
        lambda p, wd: torch.optim.SGD(p, lr=0.05, weight_decay=wd),
        lambda p, wd: SGD(p, lr=0.05, weight_decay=wd),
    ),
}


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("case", sorted(CASES))
def test_parameters_and_state_match_torch_optim_over_several_steps(
    case: str, weight_decay: float
) -> None:
    make_torch, make_ours = CASES[case]
    theirs, ours = make_params(), make_params()
    reference, optimizer = make_torch(theirs, weight_decay), make_ours(ours, weight_decay)
    run(reference, theirs)
    run(optimizer, ours)

    for expected, actual in zip(theirs, ours, strict=True):
        torch.testing.assert_close(actual.detach(), expected.detach(), rtol=0, atol=1e-6)
    # The parameter without a gradient never moved and has no state, as in torch.
    assert torch.equal(ours[2].detach(), make_params()[2].detach())
    assert ours[2] not in optimizer.state and theirs[2] not in reference.state
    for expected_param, actual_param in zip(theirs[:2], ours[:2], strict=True):
        expected_state = reference.state.get(expected_param, {})
        actual_state = optimizer.state.get(actual_param, {})
        assert set(actual_state) == set(expected_state)
        for key, value in expected_state.items():
            torch.testing.assert_close(actual_state[key], value, rtol=0, atol=1e-6)


def test_zero_grad_drops_every_gradient() -> None:
    params = make_params()
    optimizer = Adam(params, lr=0.1)
    loss_of(params, 0).backward()
    optimizer.zero_grad(set_to_none=True)
    assert all(p.grad is None for p in params)


def test_zero_grad_without_set_to_none_zeroes_in_place() -> None:
    params = make_params()
    optimizer = SGD(params, lr=0.1)
    loss_of(params, 0).backward()
    grad = params[0].grad
    optimizer.zero_grad(set_to_none=False)
    assert params[0].grad is grad and grad is not None and not grad.any()
    assert params[2].grad is None


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: Adam(p, lr=-1.0), "lr must be"),
        (lambda p: Adam(p, betas=(0.9, 1.5)), r"betas\[1\] must be"),
        (lambda p: SGD(p, lr=0.1, momentum=-0.5), "momentum must be"),
        (lambda p: SGD(p, lr=0.1, weight_decay=-1.0), "weight_decay must be"),
        (lambda p: SGD([], lr=0.1), "empty parameter list"),
    ],
)
def test_bad_hyperparameters_are_refused_by_name(
    make: Callable[[list[torch.nn.Parameter]], ForeachOptimizer], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make(make_params())


def test_remap_keeps_adam_state_and_the_next_step_matches_a_fresh_continuation() -> None:
    old = torch.nn.Parameter(torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]))
    other = torch.nn.Parameter(torch.ones(3))
    start = old.detach().clone()
    optimizer = Adam([old, other], lr=0.1)
    ((old**2).sum() + other.sum()).backward()
    optimizer.step()
    exp_avg = optimizer.state[old]["exp_avg"].clone()
    exp_avg_sq = optimizer.state[old]["exp_avg_sq"].clone()

    kept = torch.tensor([0, 2, 3])
    new = torch.nn.Parameter(remap_rows(old.detach(), kept, torch.zeros(2, 2)))
    remap_optimizer_state(optimizer, old, new, kept, new_count=2)

    state = optimizer.state[new]
    assert torch.equal(state["exp_avg"][:3], exp_avg[kept])
    assert torch.equal(state["exp_avg_sq"][:3], exp_avg_sq[kept])
    assert torch.equal(state["exp_avg"][3:], torch.zeros(2, 2))
    assert state["step"].item() == 1
    assert old not in optimizer.state
    assert optimizer.param_groups[0]["params"] == [new, other]

    optimizer.zero_grad()
    ((new**2).sum() + other.sum()).backward()
    optimizer.step()
    assert optimizer.state[new]["step"].item() == 2
    # The kept rows continue from their moments: same update as an unchanged Adam.
    reference = torch.nn.Parameter(start)
    twin = torch.optim.Adam([reference], lr=0.1)
    for _ in range(2):
        twin.zero_grad()
        (reference**2).sum().backward()
        twin.step()
    torch.testing.assert_close(new.detach()[:3], reference.detach()[kept], rtol=0, atol=1e-6)


# Trains a tiny brain for one step with each optimizer, in a fresh process:
# the test process itself has imported torch._dynamo through torch.optim above.
TRAIN_ONE_STEP = """
import sys
from marble_graph.config import config_from_mapping
from marble_graph.datasets import load_dataset
from marble_graph.learning.losses import Objective
from marble_graph.learning.trainer import Trainer
from marble_graph.seed.mandelbrot import seed_brain_graph
from marble_graph.tensors import BrainTensors

data = load_dataset("sine")
for optimizer in ("adam", "sgd"):
    config = config_from_mapping({
        "seed": {"width": 6, "height": 6, "input_neurons": 1, "output_neurons": 1},
        "learning": {"task": "regression", "optimizer": optimizer, "batch_size": 1_000_000},
        "core": {"device": "cpu"},
    })
    trainer = Trainer(
        BrainTensors.from_graph(seed_brain_graph(config)), config, Objective.for_task("regression")
    )
    assert trainer.fit(data, None, 1).status == "completed"
    assert trainer.step == 1 and trainer.optimizer.state, optimizer
print("torch._dynamo" in sys.modules)
"""


def test_training_a_step_does_not_import_torch_dynamo() -> None:
    child = subprocess.run(
        [sys.executable, "-c", TRAIN_ONE_STEP],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "False"


def test_adam_weight_decay_shrinks_an_unused_parameter_by_lr_times_decay() -> None:
    """Decoupled decay: a parameter whose gradient is zero shrinks by lr * weight_decay of
    itself per step. With the decay added to the gradient, Adam normalised it and moved
    the parameter by the whole learning rate every step (to 0 in ten steps here)."""
    param = torch.nn.Parameter(torch.full((3,), 0.1))
    optimizer = Adam([param], lr=0.01, weight_decay=1e-4)
    for _ in range(10):
        param.grad = torch.zeros_like(param)
        optimizer.step()
    expected = 0.1 * (1 - 0.01 * 1e-4) ** 10
    torch.testing.assert_close(param.detach(), torch.full((3,), expected), rtol=1e-6, atol=0)
