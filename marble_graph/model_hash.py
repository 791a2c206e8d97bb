"""The model hash: one digest of everything that determines a brain version's outputs.

A version's inference outputs follow from four things, and the hash covers
each of them:

- the graph (neurons, synapses, lobes: ``brain_graph.graph_hash``);
- the config (``core`` sizes the model, ``seed.random_seed`` seeds it), as the
  SHA-256 of its canonical JSON, which is the brain's ``config_hash``;
- the shared layer, the trained parameters that are not graph properties
  (the version's ``params_blob``): every tensor's name, dtype, shape and raw
  bytes, in name order; ``None`` (never trained) hashes apart from ``{}``;
- the version's metrics, which serving reads (task, normalisation record,
  neuromodulation signals), as canonical JSON.

Two versions with equal model hashes answer every request bit for bit alike.
The config enters as the JSON mapping that travels, not as a parsed
``MarbleConfig``: a later MARBLE that adds a config key with a default still
verifies an older export.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from marble_graph.config.loader import canonical_json

MODEL_HASH_SCHEME = "marble-model-hash/1"


def dtype_name(tensor: Tensor) -> str:
    """The tensor's dtype without the ``torch.`` prefix (``float32``)."""
    return str(tensor.dtype).removeprefix("torch.")


def tensor_bytes(tensor: Tensor) -> bytes:
    """The tensor's elements in row-major order as raw (native, little-endian) bytes."""
    flat = tensor.detach().cpu().contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes()


def model_hash(
    graph_digest: str,
    config: Mapping[str, Any],
    shared_state: Mapping[str, Tensor] | None,
    metrics: Mapping[str, Any],
) -> str:
    """SHA-256 over graph hash, config, shared tensors and metrics (see the module doc)."""
    digest = hashlib.sha256(f"{MODEL_HASH_SCHEME};".encode())
    config_digest = hashlib.sha256(canonical_json(dict(config)).encode("utf-8")).hexdigest()
    digest.update(f"graph:{graph_digest};config:{config_digest};".encode())
    if shared_state is None:
        digest.update(b"shared:none;")
    else:
        digest.update(f"shared:{len(shared_state)};".encode())
        for name in sorted(shared_state):
            tensor = shared_state[name]
            raw = tensor_bytes(tensor)
            # A JSON header per tensor: names may hold any character, so no separator is safe.
            header = [name, dtype_name(tensor), list(tensor.shape), len(raw)]
            digest.update(canonical_json(header).encode("utf-8"))
            digest.update(raw)
    digest.update(b"metrics:")
    digest.update(canonical_json(dict(metrics)).encode("utf-8"))
    return digest.hexdigest()
