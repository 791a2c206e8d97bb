"""Content-addressed artifacts under ``<MARBLE_HOME>/blobs``.

A blob's name is the SHA-256 of its bytes, so writing the same content twice
stores it once, and a reader can verify what it got. Tensors are saved with
``torch.save`` and read back with ``weights_only=True``: a blob can never run
code when loaded. Arrays are stored as ``.npz`` and read with pickling off.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from marble_graph.errors import NotFound, StoreError

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, digest: str, suffix: str) -> Path:
        if not _DIGEST.match(digest):
            raise StoreError(f"invalid blob name {digest!r}: expected 64 hex digits")
        return self.root / digest[:2] / f"{digest}{suffix}"

    def put_bytes(self, data: bytes, suffix: str) -> str:
        """Store ``data`` (atomically) and return its SHA-256."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest, suffix)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, staging = tempfile.mkstemp(dir=target.parent, prefix=".blob-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(staging, target)
        finally:
            Path(staging).unlink(missing_ok=True)
        return digest

    def get_bytes(self, digest: str, suffix: str) -> bytes:
        target = self.path(digest, suffix)
        try:
            data = target.read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"blob {digest} is missing from {self.root}") from exc
        if hashlib.sha256(data).hexdigest() != digest:
            raise StoreError(f"blob {target} is corrupt: its content does not match its name")
        return data

    def put_tensors(self, tensors: dict[str, torch.Tensor]) -> str:
        buffer = io.BytesIO()
        torch.save({name: t.detach().cpu().contiguous() for name, t in tensors.items()}, buffer)
        return self.put_bytes(buffer.getvalue(), ".pt")

    def get_tensors(self, digest: str) -> dict[str, torch.Tensor]:
        loaded = torch.load(
            io.BytesIO(self.get_bytes(digest, ".pt")), map_location="cpu", weights_only=True
        )
        if not isinstance(loaded, dict):
            raise StoreError(f"blob {digest} does not hold a tensor dictionary")
        return {str(k): v for k, v in loaded.items()}

    def put_arrays(self, arrays: dict[str, np.ndarray]) -> str:
        buffer = io.BytesIO()
        np.savez(buffer, **cast(dict[str, Any], arrays))
        return self.put_bytes(buffer.getvalue(), ".npz")

    def get_arrays(self, digest: str) -> dict[str, np.ndarray]:
        with np.load(io.BytesIO(self.get_bytes(digest, ".npz")), allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
