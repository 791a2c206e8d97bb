"""Fixtures for the metadata store tests: real SQLite files, optional PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from marble_graph.store.metadata import Brain, MetadataStore


@pytest.fixture
def empty_store(database_url: str) -> Iterator[MetadataStore]:
    """A store opened on an empty database of each backend, not yet upgraded."""
    metadata_store = MetadataStore(database_url)
    yield metadata_store
    metadata_store.dispose()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MetadataStore]:
    """A migrated SQLite metadata store in a fresh MARBLE home."""
    metadata_store = MetadataStore.for_home(tmp_path / "home")
    metadata_store.upgrade()
    yield metadata_store
    metadata_store.dispose()


def make_brain(session: Session, name: str = "cortex", graph_key: int = 1) -> Brain:
    brain = Brain(
        name=name,
        graph_key=graph_key,
        config={"neurons": 4},
        config_hash="c" * 64,
        random_seed=2**40,
    )
    session.add(brain)
    session.flush()
    return brain
