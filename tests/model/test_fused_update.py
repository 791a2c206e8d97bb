"""The fused gated-update kernel (C) against ``gated_update``, the operations it replaces."""

from __future__ import annotations

import pytest
import torch

from marble_graph.model import MarbleConv, fused_update
from marble_graph.model.c_library import load_c_library
from marble_graph.model.conv import gated_update
from marble_graph.model.fused_update import fused_gated_update, fused_update_applies
from tests.compiler import needs_compiler

pytestmark = needs_compiler("the kernel (tests/model/test_fused_attention.py covers the fallback)")


@pytest.fixture(autouse=True)
def _kernel_built() -> None:
    assert load_c_library("fused_update.c") is not None, "the kernel did not build"


@pytest.mark.parametrize(("size", "units"), [(16, 7), (8, 3), (24, 5)])
def test_kernel_gives_the_update_and_gradients_of_the_pytorch_operations(
    size: int, units: int
) -> None:
    torch.manual_seed(size)
    conv = MarbleConv(size, alpha=0.3, activation="tanh")
    with torch.no_grad():  # LayerNorm's affine parameters away from their 1 and 0
        conv.norm.weight.normal_(1.0, 0.3)
        conv.norm.bias.normal_(0.0, 0.3)
    batch = 4
    inputs = {
        "h_rows": torch.randn(batch * units, size),
        "mean": torch.randn(batch * units, size),
        "bias_rows": torch.randn(units),
    }
    inputs["mean"][0] = 0.0  # |agg| at 0: the gate's gradient there is PyTorch's (0)
    grad_out = torch.randn(batch * units, size)
    results = []
    for fused in (True, False):
        conv.zero_grad()
        leaves = {name: value.clone().requires_grad_() for name, value in inputs.items()}
        weights = conv.dense_weights()
        if fused:
            assert fused_update_applies(leaves["h_rows"], weights, "tanh")
            out = fused_gated_update(*leaves.values(), weights, conv.alpha, conv.norm.eps)
        else:
            out = gated_update(*leaves.values(), weights, batch, conv.alpha, "tanh", conv.norm.eps)
        (out * grad_out).sum().backward()
        grads = {name: value.grad for name, value in leaves.items()}
        grads.update(
            {name: p.grad.clone() for name, p in conv.named_parameters() if p.grad is not None}
        )
        results.append((out.detach(), grads))
    (fused_out, fused_grads), (reference, reference_grads) = results
    assert torch.allclose(fused_out, reference, atol=1e-5, rtol=1e-5)
    assert set(fused_grads) == set(reference_grads)
    for name, grad in reference_grads.items():
        assert torch.allclose(fused_grads[name], grad, atol=1e-4, rtol=1e-4), name


def test_other_activations_and_inference_use_the_pytorch_operations() -> None:
    conv = MarbleConv(16, activation="relu")
    h_rows = torch.randn(6, 16)
    assert not fused_update_applies(h_rows, conv.dense_weights(), "relu")
    assert fused_update_applies(h_rows, conv.dense_weights(), "tanh")
    with torch.no_grad():
        assert not fused_update_applies(h_rows, conv.dense_weights(), "tanh")
    assert not fused_update_applies(h_rows.double(), conv.dense_weights(), "tanh")


def test_splitting_the_rows_over_threads_changes_nothing_but_summation_order() -> None:
    torch.manual_seed(1)
    conv = MarbleConv(16, activation="tanh")
    h_rows, mean, bias_rows = torch.randn(40, 16), torch.randn(40, 16), torch.randn(8)
    results = []
    threads = torch.get_num_threads()
    try:
        for count in (1, 3):
            torch.set_num_threads(count)
            conv.zero_grad()
            leaf = h_rows.clone().requires_grad_()
            out = fused_gated_update(leaf, mean, bias_rows, conv.dense_weights(), 0.5, 1e-5)
            out.sum().backward()
            results.append((out.detach(), leaf.grad, conv.value.weight.grad.clone()))
    finally:
        torch.set_num_threads(threads)
    (out_one, grad_one, value_one), (out_three, grad_three, value_three) = results
    assert torch.equal(out_one, out_three) and torch.equal(grad_one, grad_three)
    assert torch.allclose(value_one, value_three, atol=1e-6)  # summed in parts


@pytest.mark.parametrize("size", [16, 24])
def test_saving_the_rows_for_backward_gives_the_gradients_of_recomputing_them(
    size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(size)
    conv = MarbleConv(size, alpha=0.2, activation="tanh")
    units, batch = 9, 5
    inputs = [torch.randn(batch * units, size), torch.randn(batch * units, size)]
    bias_rows = torch.randn(units)
    grad_out = torch.randn(batch * units, size)
    results = []
    for limit in (fused_update._SAVE_LIMIT_BYTES, 0):  # saved, then recomputed
        monkeypatch.setattr(fused_update, "_SAVE_LIMIT_BYTES", limit)
        conv.zero_grad()
        leaves = [value.clone().requires_grad_() for value in [*inputs, bias_rows]]
        out = fused_gated_update(*leaves, conv.dense_weights(), conv.alpha, conv.norm.eps)
        saved = out.grad_fn.saved_tensors[3]  # type: ignore[union-attr]
        assert (saved.numel() > 0) == (limit > 0)
        (out * grad_out).sum().backward()
        grads = [leaf.grad for leaf in leaves] + [p.grad for p in conv.parameters()]
        results.append((out.detach(), [g for g in grads if g is not None]))
    (saved_out, saved_grads), (recomputed_out, recomputed_grads) = results
    assert torch.equal(saved_out, recomputed_out)
    assert len(saved_grads) == len(recomputed_grads) >= 8
    for saved_grad, recomputed_grad in zip(saved_grads, recomputed_grads, strict=True):
        assert torch.equal(saved_grad, recomputed_grad)
