"""``Stores``: the stores of one data home, handed to the operations that use them.

The service opens them (``marble_graph.service``); operations (``marble_graph.brains``,
``marble_graph.backup``) receive this bundle and never the service, so they
read downward only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from marble_graph.blobs import BlobStore
from marble_graph.config import StorageConfig, VersionsConfig
from marble_graph.data_home import DataHome
from marble_graph.store.graph import GraphStore
from marble_graph.store.memories import MemoryStore
from marble_graph.store.metadata import MetadataStore


@dataclass
class Stores:
    home: DataHome
    metadata: MetadataStore
    graph: GraphStore
    blobs: BlobStore
    storage: StorageConfig
    # Brain history retention (``versions.keep``), applied after each write-back.
    versions: VersionsConfig = field(default_factory=VersionsConfig)
    # Held by every write to the stores (create, delete, import, write-back,
    # repair, garbage collection): a backup holds it to copy one consistent state.
    write_lock: threading.RLock = field(default_factory=threading.RLock)
    # Commits made through these stores (creates, deletes, new versions). This
    # process is the graph database's only writer, so an unchanged count means
    # every brain is still at the version a reader last saw.
    changes: int = 0
    # Memories in the graph store, with each brain's recall index (store/memories.py).
    memories: MemoryStore = field(init=False)

    def __post_init__(self) -> None:
        self.memories = MemoryStore(self.graph)

    def committed(self) -> None:
        """Count one commit (call it after the SQL commit that made it visible)."""
        self.changes += 1
