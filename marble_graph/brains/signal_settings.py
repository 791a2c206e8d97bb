"""Changing a brain's stored settings between runs (neuromodulation signals)."""

from __future__ import annotations

from typing import Any

from marble_graph.config import config_from_mapping, config_hash
from marble_graph.store.metadata import MetadataStore
from marble_graph.store.metadata.brain_records import committed_brain_row

NEUROMODULATION_SIGNALS = ("mode", "reward", "stress", "arousal", "emotion")


def set_neuromodulation(metadata: MetadataStore, name: str, **signals: Any) -> dict[str, Any]:
    """Set the brain's neuromodulation signals for its next training run; return the section.

    Values are validated like a config file (ranges, types); nothing changes if
    any is wrong. Setting a signal switches ``mode`` to ``manual`` unless ``mode``
    is given, because in ``auto`` mode training derives the signals itself.
    """
    given = {k: v for k, v in signals.items() if v is not None}
    unknown = sorted(set(given) - set(NEUROMODULATION_SIGNALS))
    if unknown:
        raise ValueError(f"unknown neuromodulation signal {unknown[0]!r}")
    if given and "mode" not in given:
        given["mode"] = "manual"
    with metadata.session() as session:
        brain = committed_brain_row(metadata, session, name)
        stored = dict(brain.config)
        section = {**stored.get("neuromodulation", {}), **given}
        config = config_from_mapping(
            {**stored, "neuromodulation": section}, source=f"brain {name!r} neuromodulation"
        )
        brain.config = config.model_dump(mode="json")
        brain.config_hash = config_hash(config)
        return config.neuromodulation.model_dump(mode="json")
