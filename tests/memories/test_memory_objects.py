"""Remembering and recalling raw objects on a brain trained on a stored dataset."""

from __future__ import annotations

import pytest

from marble_graph.errors import ValidationFailed
from marble_graph.service import BrainService

NOTES = ["red apple", "green leaf", "blue sky", "yellow sun", "black night", "white snow"]


@pytest.fixture
def reader(service: BrainService) -> BrainService:
    """Brain ``reader`` trained one epoch on dataset ``notes``: text in, a label out."""
    texts = [f"{NOTES[i % len(NOTES)]} number {i}" for i in range(60)]
    service.create_dataset(
        "notes",
        {"text": texts, "label": [i % 2 for i in range(60)]},
        target_column="label",
        encoders={"text": {"kind": "text", "width": 16}},
    )
    service.create_brain_for_dataset("reader", "notes")
    assert service.train("reader", "notes", epochs=1).state == "completed"
    return service


def test_a_remembered_object_recalls_itself_first_with_similarity_one(
    reader: BrainService,
) -> None:
    ids = reader.remember("reader", objects=NOTES, keys=NOTES, value={"kind": "note"})
    assert ids == list(range(len(NOTES)))
    for position, note in enumerate(NOTES):
        found = reader.recall("reader", obj=note, k=3)
        assert len(found) == 3
        assert (found[0].id, found[0].key) == (ids[position], note)
        assert found[0].similarity == pytest.approx(1.0, abs=1e-5)
        assert found[0].value == {"kind": "note"} and found[0].brain_version == 2
        assert all(m.similarity is not None and m.similarity < 1.0 - 1e-6 for m in found[1:])
    # The scan in the engine agrees with the index.
    exact = reader.recall("reader", obj=NOTES[2], k=3, exact=True)
    assert [m.id for m in exact] == [m.id for m in reader.recall("reader", obj=NOTES[2], k=3)]


def test_objects_on_a_brain_without_a_stored_dataset_are_refused(service: BrainService) -> None:
    service.create_brain("plain")
    with pytest.raises(ValidationFailed, match="was not trained on a stored dataset"):
        service.remember("plain", objects=["red apple"])
