"""Benchmark: MarbleConv forward+backward throughput against a bare scatter.

Both run on the same graph and the same [N, B, R] states in one process,
alternating call by call (medians reported), so both see the same load: the
baseline gathers each edge's source state and ``index_add_``s it into the
target on node-major states [N, B, R] (the least any gather-scatter message
passing can do); MarbleConv adds attention, synapse weights, the gate,
LayerNorm and the MLP, on its own batch-major layout with the synapse matrix
built once (as a training run does). Prints one JSON object; the acceptance
bar is a ratio of at least 0.5 at R = 16.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable

import torch

from marble_graph.devices import resolve_device
from marble_graph.model import MarbleConv
from marble_graph.model.synapse_matrix import SynapseMatrix

TARGET_RATIO = 0.5


def timed_pair(
    first: Callable[[], None], second: Callable[[], None], device: torch.device, rounds: int
) -> tuple[float, float]:
    """Median seconds per call of each, alternating them so both see the same machine load."""

    def once(step: Callable[[], None]) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - started

    for _ in range(2):  # warm-up
        first()
        second()
    samples = [(once(first), once(second)) for _ in range(rounds)]
    return (
        statistics.median(a for a, _ in samples),
        statistics.median(b for _, b in samples),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--neurons", type=int, default=20_000)
    parser.add_argument("--synapses", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--attention-size", type=int, default=4, help="core.attention_size")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--sort-by-target", action="store_true", help="edges in CSR (target) order")
    args = parser.parse_args()
    device = resolve_device(args.device)
    generator = torch.Generator().manual_seed(0)
    n, e, b, r = args.neurons, args.synapses, args.batch, args.size
    edge_index = torch.randint(0, n, (2, e), generator=generator)
    if args.sort_by_target:
        edge_index = edge_index[:, torch.argsort(edge_index[1], stable=True)]
    edge_index = edge_index.to(device)
    weight = torch.rand(e, generator=generator).to(device).requires_grad_()
    bias = torch.zeros(n, device=device, requires_grad=True)
    h = torch.randn(n, b, r, generator=generator).to(device).requires_grad_()
    h_batch_major = h.detach().transpose(0, 1).reshape(b * n, r).requires_grad_()
    conv = MarbleConv(r, attention_size=args.attention_size).to(device)
    synapses = SynapseMatrix.build(edge_index, n, b)
    src, dst = edge_index

    def marble_step() -> None:
        conv(h_batch_major, synapses, weight, bias).sum().backward()

    def scatter_step() -> None:
        out = torch.zeros(n, b, r, device=device).index_add_(0, dst, h.index_select(0, src))
        out.sum().backward()

    marble, scatter = timed_pair(marble_step, scatter_step, device, args.repeats)
    result = {
        "bench": "message_passing",
        "device": str(device),
        "neurons": n,
        "synapses": e,
        "batch": b,
        "representation_size": r,
        "attention_size": args.attention_size,
        "marble_edges_per_s": round(e * b / marble),
        "index_add_edges_per_s": round(e * b / scatter),
        "ratio": round(scatter / marble, 3),
        "target_ratio": TARGET_RATIO,
        "meets_target": scatter / marble >= TARGET_RATIO,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
