"""Export and import of trained brains: the whole model travels, and its hash covers it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from marble_graph import export_files
from marble_graph.brains.versions import load_brain_tensors
from marble_graph.data_home import DataHome
from marble_graph.errors import ValidationFailed
from marble_graph.failpoints import InjectedFailure, armed
from marble_graph.service import BrainService
from tests.conftest import GRAPH_ENGINE
from tests.test_runs import create_wave, sine_config

# Includes x = 0.3, where the issue saw 0.197 against 0.0056.
X = np.array([[-3.0], [-1.2], [0.0], [0.3], [1.7], [3.0]], dtype=np.float32)
FORMATS = {"json": "brain.json", "parquet": "brain-parquet"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrainService]:
    """One sine brain trained for two epochs: training is the slow part, tests only read."""
    root = tmp_path_factory.mktemp("exchange")
    with BrainService(sine_config(GRAPH_ENGINE), DataHome(root / "marble-data")) as service:
        create_wave(service)
        summary = service.train("wave", "sine", epochs=2)
        assert summary.state == "completed" and summary.version == 2
        yield service


def manifest_of(path: Path) -> dict[str, object]:
    target = path / export_files.MANIFEST_FILE if path.is_dir() else path
    document = json.loads(target.read_text())
    document.pop("tables", None)
    return document


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_trained_brain_imports_with_bit_identical_outputs(
    trained: BrainService, tmp_path: Path, fmt: str
) -> None:
    original = trained.infer("wave", X)
    target = trained.export_brain("wave", tmp_path / FORMATS[fmt])
    imported = trained.import_brain(target, name=f"wave-{fmt}")
    assert imported.version == 1
    copy = trained.infer(imported.name, X)
    assert np.array_equal(copy.outputs, original.outputs)
    loaded = load_brain_tensors(trained.stores, imported.name)
    source = load_brain_tensors(trained.stores, "wave")
    assert loaded.shared_state is not None and source.shared_state is not None
    assert loaded.shared_state.keys() == source.shared_state.keys()
    for name, tensor in source.shared_state.items():
        assert tensor.dtype == loaded.shared_state[name].dtype
        assert tensor.equal(loaded.shared_state[name]), name
    assert loaded.metrics == source.metrics
    # The copy exports to the same model: same graph, config, shared layer and metrics.
    again = trained.export_brain(imported.name, tmp_path / f"again-{FORMATS[fmt]}")
    first, second = manifest_of(target), manifest_of(again)
    assert second["model_hash"] == first["model_hash"]
    assert second["graph_hash"] == first["graph_hash"] == imported.graph_hash


def test_model_hash_differs_between_trained_and_untrained_brains(
    trained: BrainService, tmp_path: Path
) -> None:
    trained.create_brain_for_dataset("fresh", "sine", trained.config)
    fresh = manifest_of(trained.export_brain("fresh", tmp_path / "fresh.json"))
    wave = manifest_of(trained.export_brain("wave", tmp_path / "wave.json"))
    assert fresh["shared"] is None and fresh["metrics"] == {}
    assert fresh["model_hash"] != wave["model_hash"]
    trained.delete_brain("fresh")


def _tamper_json_tensor(path: Path) -> None:
    document = json.loads(path.read_text())
    name = sorted(document["shared"])[0]
    values = np.asarray(document["shared"][name]["values"], dtype=np.float64)
    values.flat[0] += 0.25
    document["shared"][name]["values"] = values.tolist()
    path.write_text(json.dumps(document))


def _tamper_parquet_tensor(path: Path) -> None:
    file = path / export_files.SHARED_FILE
    rows = pq.read_table(file).to_pylist()
    data = bytearray(rows[0]["data"])
    data[0] ^= 0x01
    rows[0]["data"] = bytes(data)
    pq.write_table(pa.Table.from_pylist(rows, schema=pq.read_schema(file)), file)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_import_refuses_a_tampered_shared_tensor(
    trained: BrainService, tmp_path: Path, fmt: str
) -> None:
    target = trained.export_brain("wave", tmp_path / FORMATS[fmt])
    (_tamper_json_tensor if fmt == "json" else _tamper_parquet_tensor)(target)
    recorded = str(manifest_of(target)["model_hash"])
    with pytest.raises(ValidationFailed, match="model hash mismatch") as refused:
        trained.import_brain(target, name="tampered")
    assert str(target) in str(refused.value) and recorded[:12] in str(refused.value)
    assert "tampered" not in [b.name for b in trained.list_brains()]


def test_import_refuses_tampered_serving_metrics(trained: BrainService, tmp_path: Path) -> None:
    target = trained.export_brain("wave", tmp_path / "wave.json")
    document = json.loads(target.read_text())
    document["metrics"]["neuromodulation"]["reward"] = 0.9
    target.write_text(json.dumps(document))
    with pytest.raises(ValidationFailed, match="model hash mismatch"):
        trained.import_brain(target, name="tampered")


def test_import_refuses_a_version_2_export_without_model_hash(
    trained: BrainService, tmp_path: Path
) -> None:
    target = trained.export_brain("wave", tmp_path / "wave.json")
    document = json.loads(target.read_text())
    del document["model_hash"]
    target.write_text(json.dumps(document))
    with pytest.raises(ValidationFailed, match="manifest lacks 'model_hash'"):
        trained.import_brain(target, name="nohash")


def test_import_refuses_a_shared_tensor_of_an_unknown_dtype(
    trained: BrainService, tmp_path: Path
) -> None:
    target = trained.export_brain("wave", tmp_path / "wave.json")
    document = json.loads(target.read_text())
    name = sorted(document["shared"])[0]
    document["shared"][name]["dtype"] = "object"
    target.write_text(json.dumps(document))
    with pytest.raises(ValidationFailed, match=f"shared tensor '{name}'.*dtype 'object'"):
        trained.import_brain(target, name="baddtype")


def _as_format_version_1(path: Path) -> None:
    """Rewrite a new export as the version-1 writer wrote it: graph and config only."""
    manifest_file = path / export_files.MANIFEST_FILE if path.is_dir() else path
    document = json.loads(manifest_file.read_text())
    for key in ("model_hash", "shared", "metrics"):
        del document[key]
    document["format_version"] = 1
    manifest_file.write_text(json.dumps(document))
    if path.is_dir():
        (path / export_files.SHARED_FILE).unlink(missing_ok=True)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_format_version_1_export_imports_as_an_untrained_brain(
    trained: BrainService, tmp_path: Path, fmt: str
) -> None:
    target = trained.export_brain("wave", tmp_path / FORMATS[fmt])
    _as_format_version_1(target)
    imported = trained.import_brain(target, name=f"old-{fmt}")
    assert imported.graph_hash == trained.get_brain("wave").graph_hash
    loaded = load_brain_tensors(trained.stores, imported.name)
    assert loaded.shared_state is None and loaded.metrics == {}
    assert trained.infer(imported.name, X).outputs.shape == (len(X), 1)


def test_unsupported_format_version_is_refused(trained: BrainService, tmp_path: Path) -> None:
    target = trained.export_brain("wave", tmp_path / "wave.json")
    document = json.loads(target.read_text())
    document["format_version"] = 99
    target.write_text(json.dumps(document))
    with pytest.raises(ValidationFailed, match="format_version 99 is not supported"):
        trained.import_brain(target, name="future")


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_memories_travel_with_an_export_under_the_new_brains_ids(
    trained: BrainService, tmp_path: Path, fmt: str
) -> None:
    # Written by version 2 of wave, under ids that do not start at 0.
    trained.remember("wave", keys=["gone", "too"], value=0)
    trained.forget_memories("wave", keep_last=0)
    ids = trained.remember("wave", inputs=X[:4], keys=["a", "b", "c", None], value={"n": 1})
    ids += trained.remember("wave", key="capital", value="paris")
    assert ids[0] >= 2
    target = trained.export_brain("wave", tmp_path / FORMATS[fmt])
    assert manifest_of(target)["memories"] == 5
    copy = trained.import_brain(target, name=f"copy-{fmt}").name
    try:
        original = trained.list_memories("wave", limit=100).memories
        imported = trained.list_memories(copy, limit=100).memories
        assert [m.id for m in original] == ids[::-1]
        assert [m.id for m in imported] == [4, 3, 2, 1, 0]  # the copy's own sequence
        assert {m.brain_version for m in original} == {2}
        assert {m.brain_version for m in imported} == {1}  # the copy's version
        kept = [(m.key, m.value, m.neurons, m.created_at, m.embedded) for m in imported]
        assert kept == [(m.key, m.value, m.neurons, m.created_at, m.embedded) for m in original]
        for query in X:
            before = trained.recall("wave", features=query, k=4)
            after = trained.recall(copy, features=query, k=4)
            assert [m.id for m in after] == [m.id - ids[0] for m in before]
            np.testing.assert_allclose(
                [m.similarity for m in after], [m.similarity for m in before], atol=1e-6
            )
        wrote = trained.query(
            "MATCH (v:BrainVersion)-[:WROTE]->(m:Memory) WHERE m.brain = $brain "
            "RETURN v.id, m.id ORDER BY m.id",
            {"brain": copy},
        )
        assert wrote.rows == [[f"{copy}@1", i] for i in range(5)]
        assert trained.remember(copy, key="next", value=1) == [5]
    finally:
        trained.delete_brain(copy)
        trained.forget_memories("wave", keep_last=0)


def test_import_refuses_memories_the_brain_cannot_recall_against(
    trained: BrainService, tmp_path: Path
) -> None:
    trained.import_brain(trained.export_brain("wave", tmp_path / "plain.json"), name="narrow")
    trained.remember("narrow", inputs=X[:2])
    target = trained.export_brain("narrow", tmp_path / "narrow.json")
    trained.delete_brain("narrow")
    document = json.loads(target.read_text())
    width = len(document["memory_nodes"]["embedding"][0])
    document["memory_nodes"]["embedding"] = [e[:-1] for e in document["memory_nodes"]["embedding"]]
    target.write_text(json.dumps(document))
    with pytest.raises(
        ValidationFailed, match=f"have {width - 1} values; the brain embeds to {width}"
    ):
        trained.import_brain(target, name="narrow")
    document["memories"] = 3
    target.write_text(json.dumps(document))
    with pytest.raises(ValidationFailed, match="counts 3 memories, but the export holds 2"):
        trained.import_brain(target, name="narrow")
    assert "narrow" not in [b.name for b in trained.list_brains()]


def test_an_import_that_fails_writing_memories_leaves_no_brain(
    trained: BrainService, tmp_path: Path
) -> None:
    trained.remember("wave", inputs=X[:2], key="kept")
    try:
        target = trained.export_brain("wave", tmp_path / "wave-parquet")
    finally:
        trained.forget_memories("wave", keep_last=0)
    with armed("import.before_memories"), pytest.raises(InjectedFailure):
        trained.import_brain(target, name="half")
    assert "half" not in [b.name for b in trained.list_brains()]
    assert trained.query("MATCH (m:Memory) WHERE m.brain = 'half' RETURN count(*)").rows == [[0]]
    imported = trained.import_brain(target, name="half")  # the name is free again
    assert [m.id for m in trained.lookup_memory(imported.name, "kept")] == [1, 0]
    trained.delete_brain(imported.name)
