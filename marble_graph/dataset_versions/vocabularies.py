"""Shared vocabularies (frequent byte n-grams) in the blob store, found by digest.

A vocabulary built for one dataset is stored once, content-addressed; any
other dataset's bytes encoder can name the same digest and reuse it.
"""

from __future__ import annotations

from collections.abc import Callable

from marble_graph.blobs import BlobStore
from marble_graph.datasets.encoders import Vocabulary

VOCABULARY_SUFFIX = ".vocab"


def vocabulary_lookup(blobs: BlobStore) -> Callable[[str], Vocabulary]:
    """A digest -> Vocabulary resolver over ``blobs`` (a missing digest raises NotFound)."""

    def lookup(digest: str) -> Vocabulary:
        return Vocabulary.from_bytes(blobs.get_bytes(digest, VOCABULARY_SUFFIX))

    return lookup
