"""The fused attention kernel (C) against the PyTorch operations it replaces in training."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from marble_graph.model import MarbleConv
from marble_graph.model.c_library import load_c_library
from marble_graph.model.fused_attention import attention_mean, fused_attention_applies
from marble_graph.model.synapse_matrix import SynapseMatrix
from tests.compiler import needs_compiler
from tests.model.test_conv import naive_round

# Only a machine without a C compiler skips these; with one, a kernel that
# fails to build fails them. The fallback is tested on every machine.
needs_kernel = needs_compiler("the kernel")


@pytest.fixture(autouse=True)
def _kernel_built(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("skipif") is not None:
        assert load_c_library("fused_attention.c") is not None, "the kernel did not build"


def _graph(nodes: int, synapses: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random edges with repeats and neurons that receive nothing; the targets to update."""
    generator = torch.Generator().manual_seed(seed)
    src = torch.randint(0, nodes, (synapses,), generator=generator)
    dst = torch.randint(
        0, nodes - 3, (synapses,), generator=generator
    )  # the last 3 receive nothing
    dst[:4] = dst[0]  # one target hears the same source four times
    src[:4] = src[0]
    targets = torch.arange(1, nodes, 2)  # every other neuron, some without synapses
    return torch.stack([src, dst]), targets


def _pytorch_mean(queries, keys, states, weight, synapses):  # type: ignore[no-untyped-def]
    score = synapses.sampled_dot(queries, keys)
    unnormalised, total = synapses.softmax_terms(score)
    summed = synapses.matmul(unnormalised * weight.repeat(synapses.batch), states)
    return summed / total.unsqueeze(-1)


@needs_kernel
@pytest.mark.parametrize(("size", "width"), [(16, 4), (24, 3), (8, 8)])
def test_kernel_gives_the_mean_and_gradients_of_the_pytorch_operations(
    size: int, width: int
) -> None:
    nodes, batch = 37, 5
    edge_index, targets = _graph(nodes, 300, seed=size)
    synapses = SynapseMatrix.build(edge_index, nodes, batch, targets)
    generator = torch.Generator().manual_seed(1)
    inputs = {
        "queries": torch.randn(synapses.rows, width, generator=generator),
        "keys": torch.randn(batch * nodes, width, generator=generator),
        "states": torch.randn(batch * nodes, size, generator=generator),
        "weight": torch.randn(edge_index.shape[1], generator=generator)[synapses.edge_order],
    }
    grad_out = torch.randn(synapses.rows, size, generator=generator)
    results = []
    for function in (attention_mean, _pytorch_mean):
        leaves = {name: value.clone().requires_grad_() for name, value in inputs.items()}
        mean = function(*leaves.values(), synapses)
        (mean * grad_out).sum().backward()
        results.append((mean.detach(), {n: v.grad for n, v in leaves.items()}))
    (fused, fused_grads), (reference, reference_grads) = results
    assert torch.allclose(fused, reference, atol=1e-5, rtol=1e-5)
    empty_rows = (synapses.block_crow[1:] == synapses.block_crow[:-1]).repeat(batch)
    assert empty_rows.any() and torch.equal(fused[empty_rows], torch.zeros_like(fused[empty_rows]))
    for name, grad in reference_grads.items():
        assert torch.allclose(fused_grads[name], grad, atol=1e-4, rtol=1e-4), name


@needs_kernel
def test_training_rounds_run_the_kernel_and_match_the_per_edge_formula() -> None:
    torch.manual_seed(0)
    conv = MarbleConv(size=16, alpha=0.3, temperature=0.7, attention_size=4)
    nodes, batch = 9, 3
    edge_index, _ = _graph(nodes, 40, seed=3)
    weight = torch.randn(edge_index.shape[1])
    bias = torch.randn(nodes)
    h = torch.randn(nodes, batch, 16)
    synapses = SynapseMatrix.build(edge_index, nodes, batch)
    flat = h.transpose(0, 1).reshape(batch * nodes, 16).requires_grad_()
    assert fused_attention_applies(flat, synapses)
    out = conv(flat, synapses, weight, bias).view(batch, nodes, 16).transpose(0, 1)
    with torch.no_grad():
        assert not fused_attention_applies(flat, synapses)  # inference: PyTorch's operations
        expected = naive_round(conv, h, edge_index, weight, bias)
    assert torch.allclose(out.detach(), expected, atol=1e-5)


@needs_kernel
def test_splitting_the_batch_over_threads_changes_nothing() -> None:
    nodes, batch, size = 30, 6, 16
    edge_index, targets = _graph(nodes, 200, seed=7)
    synapses = SynapseMatrix.build(edge_index, nodes, batch, targets)
    generator = torch.Generator().manual_seed(2)
    queries = torch.randn(synapses.rows, 4, generator=generator)
    keys = torch.randn(batch * nodes, 4, generator=generator)
    weight = torch.randn(synapses.block_col.numel(), generator=generator)
    results = []
    threads = torch.get_num_threads()
    try:
        for count in (1, 3):
            torch.set_num_threads(count)
            states = torch.randn(batch * nodes, size, generator=torch.Generator().manual_seed(3))
            states.requires_grad_()
            mean = attention_mean(queries, keys, states, weight, synapses)
            mean.sum().backward()
            results.append((mean.detach(), states.grad))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(results[0][0], results[1][0])
    assert torch.equal(results[0][1], results[1][1])


_PROBE = (
    "import marble_graph, logging; logging.basicConfig(level=logging.INFO);"
    "from marble_graph.model.c_library import load_c_library;"
    "print(load_c_library('fused_attention.c') is not None)"
)


def _probe(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _PROBE],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


@needs_kernel
def test_the_kernel_is_built_once_per_machine_and_reused(tmp_path: Path) -> None:
    env = {"MARBLE_KERNEL_CACHE": str(tmp_path)}
    first = _probe(env)
    assert first.stdout.strip() == "True" and "built fused_attention.c" in first.stderr
    built = list(tmp_path.glob("fused_attention-*.so"))
    assert len(built) == 1
    second = _probe(env)
    assert second.stdout.strip() == "True" and "built" not in second.stderr
    assert list(tmp_path.glob("*.so")) == built  # nothing half-written left behind either


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CC": "/nonexistent/cc"}, "no C compiler"),
        ({"CC": "false"}, "could not build fused_attention.c"),
        ({"MARBLE_NATIVE_KERNELS": "0"}, "switched off"),
    ],
)
def test_without_the_kernel_training_uses_pytorch_operations(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    done = _probe({"MARBLE_KERNEL_CACHE": str(tmp_path), **env})
    assert done.stdout.strip() == "False"
    assert message in done.stderr
    assert not list(tmp_path.glob("*.so"))


@needs_kernel
def test_a_cached_kernel_others_could_write_is_not_loaded(tmp_path: Path) -> None:
    env = {"MARBLE_KERNEL_CACHE": str(tmp_path)}
    _probe(env)
    (built,) = tmp_path.glob("fused_attention-*.so")
    built.chmod(0o777)  # group- and world-writable: anyone could have replaced it
    done = _probe(env)
    assert done.stdout.strip() == "False"
    assert "is not this user's alone" in done.stderr
