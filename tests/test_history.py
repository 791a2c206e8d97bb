"""Brain history on real stores: rollback, diff, tags, retention, table dedup, old snapshots."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from marble_graph.brain_graph import BrainGraph, graph_hash
from marble_graph.brains.versions import load_brain_tensors, write_back
from marble_graph.config import MarbleConfig, config_from_mapping
from marble_graph.data_home import DataHome
from marble_graph.errors import Conflict, NotFound, ValidationFailed, VersionCollected
from marble_graph.service import BrainService
from marble_graph.snapshots import (
    COLUMN_SUFFIX,
    ENVELOPE_SUFFIX,
    MANIFEST_FORMAT,
    MANIFEST_SUFFIX,
    TABLE_SUFFIX,
    get_graph_snapshot,
    snapshot_blob_files,
    snapshot_parts,
)
from marble_graph.store.metadata import BrainVersion
from marble_graph.store.metadata.brain_records import BrainInfo
from marble_graph.tensors import BrainTensors
from tests.conftest import small_config
from tests.test_runs import create_wave, sine_config

X = np.linspace(-3, 3, 9, dtype=np.float32).reshape(-1, 1)


def history_config(engine: str, keep: int = 20) -> MarbleConfig:
    """The small 8x6 brain of tests/conftest.py with ``versions.keep``."""
    mapping = small_config(engine).model_dump(mode="json")
    return config_from_mapping({**mapping, "versions": {"keep": keep}})


@pytest.fixture
def wave(home: DataHome, engine: str) -> Iterator[BrainService]:
    """A sine brain (6x6 regression preset) trained twice: versions 1, 2 and 3."""
    with BrainService(sine_config(engine), home) as service:
        create_wave(service)
        service.train("wave", "sine", epochs=1)
        service.train("wave", "sine", epochs=1)
        yield service


def change_weights(service: BrainService, name: str, rows: list[int], delta: float) -> BrainInfo:
    """Write back the current version with ``delta`` added to the weights of ``rows``."""
    loaded = load_brain_tensors(service.stores, name)
    loaded.tensors.weight[rows] += delta
    return write_graph(service, name, loaded.tensors.to_graph())


def write_graph(service: BrainService, name: str, graph: BrainGraph) -> BrainInfo:
    """Write ``graph`` back as the brain's next version, keeping its shared layer."""
    loaded = load_brain_tensors(service.stores, name)
    return write_back(
        service.stores,
        name,
        BrainTensors.from_graph(graph),
        loaded.shared_state,
        base_version=loaded.info.version,
        metrics=loaded.metrics,
        note="test edit",
    )


def blob_files(home: DataHome, suffix: str) -> list[Path]:
    return sorted(home.blobs_dir.glob(f"*/*{suffix}"))


def snapshot_of(service: BrainService, name: str, version: int) -> str:
    with service.metadata.session() as session:
        rows = session.scalars(select(BrainVersion).where(BrainVersion.version == version)).all()
        (row,) = [r for r in rows if r.brain.name == name]
        assert row.snapshot_blob is not None
        return row.snapshot_blob


# -- rollback -------------------------------------------------------------------------


def test_rollback_makes_an_old_version_current_bit_for_bit(wave: BrainService) -> None:
    v2 = wave.show_version("wave", 2)
    served_v2 = wave.infer("wave", X, version=2).outputs
    info = wave.rollback("wave", 2)

    assert info.version == 4 and info.graph_hash == v2["graph_hash"]
    assert wave.stored_graph_hash("wave") == v2["graph_hash"]  # what `marble brain hash` prints
    answer = wave.infer("wave", X)
    assert answer.version == 4
    assert np.array_equal(answer.outputs, served_v2)
    record = wave.show_version("wave", 4)
    assert record["note"] == "rollback to version 2" and record["parent_version"] == 2
    assert record["metrics"]["rolled_back_from"] == 3
    assert record["metrics"]["restored_version"] == 2
    # The rest of the metrics are version 2's: what inference reads (task, scaling, signals).
    trimmed = {k: v for k, v in record["metrics"].items() if k not in ("rolled_back_from",)}
    assert trimmed == {**v2["metrics"], "restored_version": 2}


def test_served_old_version_answers_as_it_did_when_current(home: DataHome, engine: str) -> None:
    with BrainService(sine_config(engine), home) as service:
        create_wave(service)
        untrained = service.infer("wave", X).outputs
        service.train("wave", "sine", epochs=1)
        trained = service.infer("wave", X).outputs
        service.train("wave", "sine", epochs=1)
        assert np.array_equal(service.infer("wave", X, version=1).outputs, untrained)
        assert np.array_equal(service.infer("wave", X, version="2").outputs, trained)
        # Version 1 was never trained: rolled back to, it has no shared layer either.
        info = service.rollback("wave", 1)
        assert info.graph_hash == service.show_version("wave", 1)["graph_hash"]
        assert np.array_equal(service.infer("wave", X).outputs, untrained)


def test_rollback_to_the_current_version_changes_nothing(wave: BrainService) -> None:
    before = wave.changes
    assert wave.rollback("wave", 3).version == 3
    assert wave.changes == before


# -- tags and references --------------------------------------------------------------


def test_tags_name_versions_and_resolve_like_numbers(service: BrainService) -> None:
    service.create_brain("b")
    change_weights(service, "b", [0], 0.25)
    assert service.tag_version("b", 1, "seeded")["tags"] == ["seeded"]
    assert service.resolve_version("b", "seeded") == 1
    assert service.resolve_version("b", "2") == 2
    with pytest.raises(Conflict, match=r"already has tag 'seeded', on version 1"):
        service.tag_version("b", 2, "seeded")
    with pytest.raises(ValidationFailed, match=r"invalid tag '2x'"):
        service.tag_version("b", 2, "2x")
    with pytest.raises(
        NotFound, match=r"no version or tag 'best' \(versions: 1-2; tags: seeded=1\)"
    ):
        service.resolve_version("b", "best")
    with pytest.raises(NotFound, match=r"no version 9 \(versions: 1-2"):
        service.show_version("b", 9)
    listed = service.list_versions("b")
    assert [(v["version"], v["tags"], v["current"]) for v in listed] == [
        (1, ["seeded"], False),
        (2, [], True),
    ]
    assert service.untag_version("b", "seeded")["version"] == 1
    with pytest.raises(NotFound, match="no tag 'seeded'"):
        service.untag_version("b", "seeded")


def test_model_cache_serves_pinned_versions_beside_the_current_one(service: BrainService) -> None:
    service.create_brain("b")
    change_weights(service, "b", [0, 1, 2], 0.5)
    cache = service.model_cache()
    features = np.ones((2, 5), np.float32)
    assert cache.get("b").version == 2
    assert cache.get("b", 1).version == 1
    service.tag_version("b", 1, "first")
    assert cache.get("b", "first") is cache.get("b", 1)
    assert cache.get("b", 2) is cache.get("b")
    assert np.array_equal(
        cache.get("b", "first").predict(features).outputs,
        service.infer("b", features, version=1).outputs,
    )


# -- diff -----------------------------------------------------------------------------


def test_diff_counts_a_known_change(service: BrainService) -> None:
    service.create_brain("b")
    graph = get_graph_snapshot(service.blobs, snapshot_of(service, "b", 1))
    synapses = graph.synapses
    ids = synapses.column("id").to_numpy()
    weight = synapses.column("weight").to_numpy().copy()
    dst = synapses.column("dst").to_numpy().copy()
    weight[[0, 1, 2]] += np.float32(0.5)
    weight[3] -= np.float32(0.25)
    dst[4] = dst[5] if dst[5] != dst[4] else dst[6]  # same id, other endpoint: a new synapse
    removed = np.isin(ids, ids[[7, 8]])
    new_neuron = int(graph.neurons.column("id").to_numpy().max()) + 1
    new_synapse = int(ids.max()) + 1
    edited = synapses.set_column(3, "weight", pa.array(weight)).set_column(1, "dst", pa.array(dst))
    edited = edited.filter(pa.array(~removed))
    grown_synapse = edited.slice(0, 1).set_column(2, "id", pa.array([new_synapse]))
    grown_synapse = grown_synapse.set_column(1, "dst", pa.array([new_neuron]))
    hidden = graph.neurons.filter(pc.equal(graph.neurons.column("kind"), "hidden")).slice(0, 1)
    grown_neuron = hidden.set_column(0, "id", pa.array([new_neuron]))
    changed = BrainGraph(
        neurons=pa.concat_tables([graph.neurons, grown_neuron]),
        synapses=pa.concat_tables([edited, grown_synapse]),
        lobes=graph.lobes,
        memberships=graph.memberships,
        memories=graph.memories,
    )
    write_graph(service, "b", changed)

    diff = service.diff_versions("b", 1, 2)
    assert diff["neurons"] == {
        "added": 1,
        "removed": 0,
        "added_ids": [new_neuron],
        "removed_ids": [],
    }
    assert diff["synapses"]["added_ids"] == sorted([int(ids[4]), new_synapse])
    assert diff["synapses"]["removed_ids"] == sorted(int(i) for i in ids[[4, 7, 8]])
    assert diff["synapses"]["common"] == len(ids) - 3
    weights = diff["weights"]
    assert weights["compared"] == len(ids) - 3 and weights["changed"] == 4
    assert weights["max_abs_change"] == pytest.approx(0.5, abs=1e-6)
    assert weights["mean_abs_change"] == pytest.approx(1.75 / (len(ids) - 3), rel=1e-5)
    assert weights["mean_change"] == pytest.approx(1.25 / (len(ids) - 3), rel=1e-5)
    assert weights["rms_change"] == pytest.approx(np.sqrt(0.8125 / (len(ids) - 3)), rel=1e-5)
    backwards = service.diff_versions("b", 2, 1)
    assert backwards["neurons"]["removed_ids"] == [new_neuron]
    assert backwards["weights"]["mean_change"] == pytest.approx(-weights["mean_change"])


# -- snapshots: one blob per column, shared across versions -------------------------


def test_unchanged_columns_are_stored_once_across_versions(home: DataHome, engine: str) -> None:
    with BrainService(history_config(engine), home) as service:
        service.create_brain("b")
        seeded = len(blob_files(home, COLUMN_SUFFIX))
        assert seeded == len(snapshot_blob_files(service.blobs, snapshot_of(service, "b", 1))) - 1
        change_weights(service, "b", [0], 0.5)
        change_weights(service, "b", [1], 0.5)
        # Only the weights changed: one new column blob per version, one manifest each.
        assert len(blob_files(home, COLUMN_SUFFIX)) == seeded + 2
        assert len(blob_files(home, MANIFEST_SUFFIX)) == 3
        first = snapshot_parts(service.blobs, snapshot_of(service, "b", 1))
        third = snapshot_parts(service.blobs, snapshot_of(service, "b", 3))
        assert {part for part in first if first[part] != third[part]} == {"synapses.weight"}


def test_a_snapshot_of_one_blob_per_table_is_still_read(home: DataHome, engine: str) -> None:
    with BrainService(history_config(engine), home) as service:
        service.create_brain("b")
        graph = service.load_graph("b")
        tables = {}
        for name, table in graph.tables():
            buffer = io.BytesIO()
            pq.write_table(table, buffer)
            tables[name] = service.blobs.put_bytes(buffer.getvalue(), TABLE_SUFFIX)
        manifest = {"format": MANIFEST_FORMAT, "format_version": 2, "tables": tables}
        digest = service.blobs.put_bytes(json.dumps(manifest).encode(), MANIFEST_SUFFIX)
        assert graph_hash(get_graph_snapshot(service.blobs, digest)) == graph_hash(graph)
        assert {d for d, _ in snapshot_blob_files(service.blobs, digest)} == {
            digest,
            *tables.values(),
        }


def test_a_snapshot_in_the_old_single_envelope_format_is_still_read(
    home: DataHome, engine: str
) -> None:
    with BrainService(history_config(engine), home) as service:
        service.create_brain("b")
        graph = service.load_graph("b")
        legacy = _put_envelope(service, graph)
        with service.metadata.session() as session:
            row = session.scalars(select(BrainVersion).where(BrainVersion.version == 1)).one()
            row.snapshot_blob = legacy
        assert graph_hash(get_graph_snapshot(service.blobs, legacy)) == graph_hash(graph)
        change_weights(service, "b", [0], 0.5)
        info = service.rollback("b", 1)  # read from the envelope
        assert info.graph_hash == graph_hash(graph)
        assert service.stored_graph_hash("b") == graph_hash(graph)


def _put_envelope(service: BrainService, graph: BrainGraph) -> str:
    """A snapshot as homes wrote it before tables were stored apart."""
    names, payloads = [], []
    for name, table in graph.tables():
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        names.append(name)
        payloads.append(buffer.getvalue())
    envelope = pa.table({"table": names, "data": pa.array(payloads, pa.large_binary())})
    out = io.BytesIO()
    pq.write_table(envelope, out, compression="none")
    return service.blobs.put_bytes(out.getvalue(), ENVELOPE_SUFFIX)


# -- retention --------------------------------------------------------------------


def test_retention_collects_old_versions_but_never_tagged_or_current(
    home: DataHome, engine: str
) -> None:
    with BrainService(history_config(engine, keep=2), home) as service:
        service.create_brain("b")
        seeded = len(blob_files(home, COLUMN_SUFFIX))
        service.tag_version("b", 1, "seeded")
        for version in range(2, 6):
            change_weights(service, "b", [version], 0.5)
            assert service.get_brain("b").version == version
        listed = {v["version"]: v["collected"] for v in service.list_versions("b")}
        assert listed == {1: False, 2: True, 3: True, 4: False, 5: False}
        # Versions 2 and 3 each had one weight column of their own; the columns
        # they share with the versions kept, and the shared layer, stay.
        assert len(blob_files(home, COLUMN_SUFFIX)) == seeded + 2
        assert len(blob_files(home, MANIFEST_SUFFIX)) == 3
        with pytest.raises(VersionCollected) as collected:
            service.infer("b", np.ones((1, 5), np.float32), version=2)
        message = str(collected.value)
        assert "version 2 of brain 'b' was collected" in message
        assert "versions.keep: 2" in message and "Retained versions: 1, 4, 5" in message
        with pytest.raises(VersionCollected):
            service.diff_versions("b", 3, 5)
        with pytest.raises(VersionCollected):
            service.rollback("b", 3)
        with pytest.raises(VersionCollected):
            service.tag_version("b", 3, "too-late")
        assert service.show_version("b", 2)["collected"] is True  # the record stays
        assert service.rollback("b", "seeded").version == 6  # tagged: kept and servable
        listed = {v["version"]: v["collected"] for v in service.list_versions("b")}
        assert listed == {1: False, 2: True, 3: True, 4: True, 5: False, 6: False}


def test_collected_blobs_are_not_copied_by_a_backup(
    home: DataHome, engine: str, tmp_path: Path
) -> None:
    with BrainService(history_config(engine, keep=1), home) as service:
        service.create_brain("b")
        change_weights(service, "b", [0], 0.5)
        change_weights(service, "b", [1], 0.5)
        manifest = service.create_backup(tmp_path / "backup")
        assert manifest.brains[0].version == 3
        kept = len(snapshot_blob_files(service.blobs, snapshot_of(service, "b", 3))) - 1
    copied = sorted(p.name for p in (tmp_path / "backup" / "blobs").glob("*/*"))
    assert sum(name.endswith(MANIFEST_SUFFIX) for name in copied) == 1
    assert sum(name.endswith(COLUMN_SUFFIX) for name in copied) == kept
    with BrainService(history_config(engine, keep=1), DataHome(tmp_path / "restored")) as restored:
        restored.restore_backup(tmp_path / "backup")
        assert [v["collected"] for v in restored.list_versions("b")] == [True, True, False]
        assert restored.diff_versions("b", 3, 3)["weights"]["changed"] == 0


def test_retention_deletes_nothing_while_a_kept_snapshot_is_missing(
    home: DataHome, engine: str
) -> None:
    with BrainService(history_config(engine, keep=2), home) as service:
        service.create_brain("b")
        change_weights(service, "b", [0], 0.5)
        service.blobs.path(snapshot_of(service, "b", 2), MANIFEST_SUFFIX).unlink()
        columns_before = blob_files(home, COLUMN_SUFFIX)
        change_weights(service, "b", [1], 0.5)  # would collect version 1
        assert [v["collected"] for v in service.list_versions("b")] == [False, False, False]
        assert set(columns_before) <= set(blob_files(home, COLUMN_SUFFIX))
