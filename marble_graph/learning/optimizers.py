"""MARBLE's two gradient optimizers, Adam and SGD, on torch's multi-tensor ops.

Why not ``torch.optim``: constructing or stepping any ``torch.optim``
optimizer imports ``torch._dynamo`` (``add_param_group`` is wrapped in
``torch._disable_dynamo`` and ``step`` checks whether it is being compiled).
That import took about 2.2 s of every ``marble train`` process on the 2-core
development machine (``import torch._dynamo`` after ``import marble_graph,
torch``), and MARBLE never compiles its optimizer. These classes import
nothing beyond ``torch`` itself.

What they reproduce, to float tolerance (tests/learning/test_optimizers.py
compares them step by step with ``torch.optim``):

* ``Adam``: ``torch.optim.AdamW`` with betas (0.9, 0.999), eps 1e-8, weight
  decay decoupled from the gradient, no amsgrad, and bias correction from a
  per-parameter step count (a 0-dim float32 tensor, as torch keeps it). Decay
  added to the gradient instead (``torch.optim.Adam``'s L2) is normalised by
  Adam like any gradient: a parameter whose own gradient is tiny (a rarely
  used neuron's state) then moves toward zero by the full learning rate every
  step, and on digits ``weight_decay: 0.0001`` left 3 of 5 runs at chance.
  Decoupled, it shrinks by ``lr * weight_decay`` of itself per step.
* ``SGD``: ``torch.optim.SGD`` with momentum (dampening 0, no Nesterov), weight
  decay added to the gradient; the first step's momentum buffer is the
  gradient itself. With momentum 0 there is no per-parameter state.

Parameters without a gradient are skipped and get no state, like torch. Each
step runs one ``torch._foreach_*`` op per update term over all parameters of a
device and dtype (no Python loop over elements). The surface the trainer and
``structure.remap_optimizer_state`` use is torch's: ``param_groups`` (list of
dicts with ``"params"`` and ``"lr"``; the trainer rewrites ``"lr"`` every
epoch), ``state`` (per-parameter dict: Adam ``step``, ``exp_avg``,
``exp_avg_sq``; SGD ``momentum_buffer``), ``zero_grad`` and ``step``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, MutableMapping
from typing import Any, Protocol

import torch
from torch import Tensor

__all__ = ["SGD", "Adam", "ForeachOptimizer", "ParameterState"]


class ParameterState(Protocol):
    """What code moving optimizer state needs: torch's optimizers and ours both fit."""

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """Groups of parameters, each a dict with ``"params"`` and its hyperparameters."""
        ...

    @property
    def state(self) -> MutableMapping[Tensor, Any]:
        """Per-parameter state dicts, keyed by the parameter."""
        ...


def _check(name: str, value: float, low: float, high: float = float("inf")) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")


class ForeachOptimizer(ABC):
    """Parameter groups, per-parameter state and ``zero_grad``; subclasses define ``step``."""

    def __init__(self, params: Iterable[Tensor], defaults: dict[str, Any]) -> None:
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if any(not isinstance(p, Tensor) for p in params):
            raise ValueError(f"{type(self).__name__} parameters must be tensors")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{type(self).__name__} got the same parameter twice")
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = [{"params": params, **defaults}]
        self.state: dict[Tensor, dict[str, Any]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (or zero it in place when ``set_to_none`` is off)."""
        grads = []
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    else:
                        p.grad.requires_grad_(False)
                    grads.append(p.grad)
        for batch in _batches(grads):
            torch._foreach_zero_(batch)

    @abstractmethod
    def step(self) -> None:
        """Update every parameter that has a gradient."""


def _batches(tensors: list[Tensor]) -> list[list[Tensor]]:
    """``tensors`` split by device and dtype: one foreach op runs per batch."""
    batches: dict[tuple[torch.device, torch.dtype], list[Tensor]] = {}
    for tensor in tensors:
        batches.setdefault((tensor.device, tensor.dtype), []).append(tensor)
    return list(batches.values())


def _grads(params: list[Tensor]) -> list[Tensor]:
    """The gradients of ``params``, which all have one (``step`` filtered them)."""
    return [p.grad for p in params if p.grad is not None]


class Adam(ForeachOptimizer):
    """``torch.optim.AdamW`` (no amsgrad, decoupled weight decay) on multi-tensor ops."""

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        _check("lr", lr, 0.0)
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:  # beta 1 would divide by a zero bias correction
                raise ValueError(f"betas[{i}] must be in [0, 1), got {beta}")
        _check("eps", eps, 0.0)
        _check("weight_decay", weight_decay, 0.0)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    def step(self) -> None:
        """One Adam update of every parameter that has a gradient."""
        with torch.no_grad():
            for group in self.param_groups:
                params = [p for p in group["params"] if p.grad is not None]
                for p in params:  # state starts at a parameter's first gradient, as in torch
                    if p not in self.state:
                        self.state[p] = {
                            "step": torch.tensor(0.0),
                            "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                            "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
                        }
                for batch in _batches(params):
                    states = [self.state[p] for p in batch]
                    _adam(
                        batch,
                        _grads(batch),
                        [s["exp_avg"] for s in states],
                        [s["exp_avg_sq"] for s in states],
                        [s["step"] for s in states],
                        group,
                    )


def _adam(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    steps: list[Tensor],
    group: dict[str, Any],
) -> None:
    """torch's ``_multi_tensor_adamw`` for one device and dtype, without amsgrad."""
    beta1, beta2 = group["betas"]
    lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
    torch._foreach_add_(steps, 1)
    if weight_decay != 0:
        torch._foreach_mul_(params, 1 - lr * weight_decay)
    torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2)
    # Per-parameter bias correction: one scalar per tensor, not per element.
    counts = [float(step.item()) for step in steps]
    step_sizes = [-lr / (1 - beta1**count) for count in counts]
    correction_sqrts = [(1 - beta2**count) ** 0.5 for count in counts]
    denominators = torch._foreach_sqrt(exp_avg_sqs)
    torch._foreach_div_(denominators, correction_sqrts)
    torch._foreach_add_(denominators, eps)
    torch._foreach_addcdiv_(params, exp_avgs, denominators, step_sizes)


class SGD(ForeachOptimizer):
    """``torch.optim.SGD`` (dampening 0, no Nesterov, L2 weight decay) on multi-tensor ops."""

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        _check("lr", lr, 0.0)
        _check("momentum", momentum, 0.0)
        _check("weight_decay", weight_decay, 0.0)
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    def step(self) -> None:
        """One SGD update of every parameter that has a gradient."""
        with torch.no_grad():
            for group in self.param_groups:
                params = [p for p in group["params"] if p.grad is not None]
                for batch in _batches(params):
                    self._sgd(batch, _grads(batch), group)

    def _sgd(self, params: list[Tensor], grads: list[Tensor], group: dict[str, Any]) -> None:
        """torch's ``_multi_tensor_sgd`` for one device and dtype, dampening 0."""
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        if weight_decay != 0:
            grads = list(torch._foreach_add(grads, params, alpha=weight_decay))
        if momentum != 0:
            states = [self.state.setdefault(p, {}) for p in params]
            held = [i for i, state in enumerate(states) if "momentum_buffer" in state]
            if held:
                buffers = [states[i]["momentum_buffer"] for i in held]
                torch._foreach_mul_(buffers, momentum)
                torch._foreach_add_(buffers, [grads[i] for i in held])
            for state, grad in zip(states, grads, strict=True):
                if "momentum_buffer" not in state:  # first step: the buffer is the gradient
                    state["momentum_buffer"] = grad.detach().clone()
            grads = [state["momentum_buffer"] for state in states]
        torch._foreach_add_(params, grads, alpha=-lr)
