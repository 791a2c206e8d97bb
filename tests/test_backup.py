"""Backup of a live data home and restore into an empty one, on real stores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from marble_graph.backup_format import BackupManifest
from marble_graph.config import MarbleConfig
from marble_graph.data_home import DataHome
from marble_graph.errors import Conflict, ValidationFailed
from marble_graph.failpoints import InjectedFailure, armed
from marble_graph.reconcile import reconcile_stores
from marble_graph.service import BrainService
from marble_graph.store.graph import GraphStore
from marble_graph.store.metadata import MetadataStore
from marble_graph.tokens import Scope, TokenStore
from tests.conftest import small_config
from tests.test_runs import create_wave, sine_config

FEATURES = np.linspace(-1.0, 1.0, 16, dtype=np.float32).reshape(-1, 1)
TRAINED_ON = (
    "MATCH (v:BrainVersion)-[:TRAINED_ON]->(d:DatasetVersion) RETURN d.id, v.id ORDER BY v.id"
)


@pytest.fixture
def trained(home: DataHome, engine: str):  # type: ignore[no-untyped-def]
    """A home with brain ``wave`` trained 2 epochs on sine (params blob) and ``plain`` seeded."""
    with BrainService(sine_config(engine), home) as service:
        create_wave(service)
        service.train("wave", "sine", epochs=2)
        service.create_brain("plain")
        yield service


def restore_into(src: Path, home: DataHome, config: MarbleConfig) -> BackupManifest:
    """Open ``home`` as a service would and restore the backup at ``src`` into it."""
    with BrainService(config, home) as service:
        return service.restore_backup(src)


def test_restore_reproduces_every_brain_its_outputs_history_and_tokens(
    trained: BrainService, tmp_path: Path, engine: str
) -> None:
    token, _ = TokenStore(trained.metadata).create("ops", (Scope.READ,))
    manifest = trained.create_backup(tmp_path / "bk")
    assert [b.name for b in manifest.brains] == ["plain", "wave"]
    recorded = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    assert recorded["alembic_revision"] == trained.metadata.current_revision()
    assert {b["name"]: b["graph_hash"] for b in recorded["brains"]} == {
        b.name: b.graph_hash for b in trained.list_brains()
    }

    target = DataHome(tmp_path / "restored")
    restore_into(tmp_path / "bk", target, sine_config(engine))

    # Nothing for reconcile to fix: one generation per brain, at the recorded key.
    metadata = MetadataStore(target.metadata_url)
    graph = GraphStore(target.graph_path(engine), engine=engine, buffer_pool_mb=64)
    try:
        assert reconcile_stores(metadata, graph) == []
        assert graph.generations() == {(b.name, b.graph_key) for b in manifest.brains}
    finally:
        graph.close()
        metadata.dispose()

    with BrainService(sine_config(engine), target) as restored:
        assert restored.reconcile() == []
        assert restored.list_brains() == trained.list_brains()
        for brain in restored.list_brains():
            assert restored.stored_graph_hash(brain.name) == brain.graph_hash
        before, after = trained.infer("wave", FEATURES), restored.infer("wave", FEATURES)
        assert after.version == before.version == 2
        np.testing.assert_array_equal(after.outputs, before.outputs)
        assert restored.list_versions("wave") == trained.list_versions("wave")
        assert restored.list_runs("wave") == trained.list_runs("wave")
        assert restored.query(TRAINED_ON).rows == trained.query(TRAINED_ON).rows
        verified = TokenStore(restored.metadata).verify(token, touch=False)
        assert verified is not None and verified.name == "ops"
        # Keys continue after the restored ones: a new brain collides with nothing.
        restored.create_brain("fresh")
        assert restored.stored_graph_hash("wave") == trained.get_brain("wave").graph_hash


@pytest.fixture
def seeded(service: BrainService) -> BrainService:
    """The small-config home with two untrained brains (no training: fast)."""
    service.create_brain("b1")
    service.create_brain("b2")
    return service


def test_restore_refuses_a_home_that_holds_a_brain(
    seeded: BrainService, tmp_path: Path, engine: str
) -> None:
    seeded.create_backup(tmp_path / "bk")
    seeded.close()  # restore opens the home itself; one holder at a time
    with pytest.raises(Conflict, match=r"holds brains b1, b2") as refused:
        restore_into(tmp_path / "bk", seeded.home, small_config(engine))
    assert str(seeded.home.root) in str(refused.value)


def test_restore_refuses_a_home_with_only_metadata_rows(
    seeded: BrainService, tmp_path: Path, engine: str
) -> None:
    seeded.create_backup(tmp_path / "bk")
    target = DataHome(tmp_path / "tokens-only")
    with BrainService(small_config(engine), target) as other:
        TokenStore(other.metadata).create("ops", (Scope.READ,))
    with pytest.raises(Conflict, match=r"'api_tokens' has 1 rows"):
        restore_into(tmp_path / "bk", target, small_config(engine))


def test_backup_refuses_a_non_empty_destination(seeded: BrainService, tmp_path: Path) -> None:
    dest = tmp_path / "bk"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    with pytest.raises(Conflict, match="is not empty"):
        seeded.create_backup(dest)
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert seeded.create_backup(empty).path == empty
    assert (empty / "manifest.json").is_file()


def test_failed_backup_leaves_no_complete_looking_directory(
    seeded: BrainService, tmp_path: Path
) -> None:
    dest = tmp_path / "bk"
    with armed("backup.before_rename"), pytest.raises(InjectedFailure):
        seeded.create_backup(dest)
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == [seeded.home.root]  # no .partial left behind
    assert seeded.create_backup(dest).path == dest  # the name is free again


def test_restore_refuses_a_backup_whose_graph_was_edited(
    seeded: BrainService, tmp_path: Path, engine: str
) -> None:
    manifest = seeded.create_backup(tmp_path / "bk")
    document = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    document["brains"][0]["graph_hash"] = "0" * 64
    (tmp_path / "bk" / "manifest.json").write_text(json.dumps(document))
    target = DataHome(tmp_path / "restored")
    with pytest.raises(ValidationFailed, match=manifest.brains[0].name):
        restore_into(tmp_path / "bk", target, small_config(engine))
    with BrainService(small_config(engine), target) as restored:
        assert restored.list_brains() == []


def test_backup_names_are_single_path_components_and_never_reused(
    seeded: BrainService,
) -> None:
    for bad in ("../escape", "a/b", ".hidden", ""):
        with pytest.raises(ValidationFailed, match="invalid backup name"):
            seeded.backup_into_home(bad)
    made = seeded.backup_into_home("nightly-1")
    assert made.path == seeded.home.root.absolute() / "backups" / "nightly-1"
    assert made.summary(seeded.home.root)["path"] == "backups/nightly-1"
    with pytest.raises(Conflict, match="'nightly-1' already exists"):
        seeded.backup_into_home("nightly-1")


# -- memories -------------------------------------------------------------------------

MEMORY_QUERIES = np.array([[0.1], [0.45], [-0.8]], dtype=np.float32)
WROTE = "MATCH (v:BrainVersion)-[:WROTE]->(m:Memory) RETURN v.id, m.brain, m.id ORDER BY m.id"


@pytest.fixture
def remembering(home: DataHome, engine: str):  # type: ignore[no-untyped-def]
    """``wave`` with memories written by versions 1 and 2 and a fact; ``emptied``, whose
    two facts were forgotten (its id sequence is at 2, with no memory left)."""
    with BrainService(sine_config(engine), home) as service:
        create_wave(service)
        service.remember(
            "wave", inputs=[[0.1], [0.5], [-0.7]], keys=["a", "b", "c"], value={"batch": 1}
        )
        service.train("wave", "sine", epochs=1)
        service.remember("wave", inputs=[[0.9], [0.3]], value={"batch": 2})
        service.remember("wave", key="capital", value="paris")
        service.create_brain("emptied")
        service.remember("emptied", keys=["x", "y"], value=0)
        service.forget_memories("emptied", keep_last=0)
        yield service


def test_restore_brings_back_every_memory_with_its_ids_edges_and_recall(
    remembering: BrainService, tmp_path: Path, engine: str
) -> None:
    source = remembering
    manifest = source.create_backup(tmp_path / "bk")
    assert {b.name: (b.memories, b.memory_next_id) for b in manifest.brains} == {
        "emptied": (0, 2),
        "wave": (6, 6),
    }
    target = DataHome(tmp_path / "restored")
    restore_into(tmp_path / "bk", target, sine_config(engine))

    with BrainService(sine_config(engine), target) as restored:
        page = restored.list_memories("wave", limit=100)
        assert page.total == 6
        assert page == source.list_memories("wave", limit=100)
        assert restored.lookup_memory("wave", "capital") == source.lookup_memory("wave", "capital")
        assert [m.brain_version for m in restored.lookup_memory("wave", "b")] == [1]
        for query in MEMORY_QUERIES:
            for exact in (False, True):
                after = restored.recall("wave", features=query, k=6, exact=exact)
                before = source.recall("wave", features=query, k=6, exact=exact)
                assert len(after) == 5  # the embedded ones; the fact has no embedding
                assert [(m.id, m.key, m.value) for m in after] == [
                    (m.id, m.key, m.value) for m in before
                ]
                np.testing.assert_allclose(
                    [m.similarity for m in after], [m.similarity for m in before], atol=1e-6
                )
        edges = restored.query(WROTE).rows
        assert edges == source.query(WROTE).rows
        assert [row[0] for row in edges] == ["wave@1"] * 3 + ["wave@2"] * 3
        # Ids continue after the restored ones, and after the forgotten ones too.
        assert restored.remember("wave", inputs=[[0.2]]) == [6]
        assert restored.remember("emptied", key="z", value=1) == [2]
        nearest = restored.recall("wave", features=[0.2], k=1)[0]
        assert nearest.id == 6 and nearest.similarity == pytest.approx(1.0, abs=1e-5)


def _as_backup_without_memories(root: Path) -> None:
    """Rewrite a backup as one taken before memories travelled: no counts, no files."""
    document = json.loads((root / "manifest.json").read_text())
    for brain in document["brains"]:
        del brain["memories"], brain["memory_next_id"]
        export = root / "graph" / str(brain["graph_key"])
        exported = json.loads((export / "manifest.json").read_text())
        del exported["memories"]
        (export / "manifest.json").write_text(json.dumps(exported))
        (export / "memory_nodes.parquet").unlink(missing_ok=True)
    (root / "manifest.json").write_text(json.dumps(document))


def test_a_backup_taken_before_memories_travelled_restores_without_them(
    seeded: BrainService, tmp_path: Path, engine: str
) -> None:
    seeded.remember("b1", inputs=np.eye(5), key="row")
    seeded.create_backup(tmp_path / "bk")
    _as_backup_without_memories(tmp_path / "bk")
    target = DataHome(tmp_path / "restored")
    restore_into(tmp_path / "bk", target, small_config(engine))
    with BrainService(small_config(engine), target) as restored:
        assert restored.list_brains() == seeded.list_brains()
        assert restored.list_memories("b1").total == 0
        assert restored.recall("b1", features=np.eye(5)[0], k=3) == []
        assert restored.remember("b1", inputs=np.eye(5)[:1]) == [0]
        found = restored.recall("b1", features=np.eye(5)[0], k=3)
        assert [m.id for m in found] == [0]
        assert found[0].similarity == pytest.approx(1.0, abs=1e-5)


def test_restore_refuses_a_backup_whose_memory_count_was_edited(
    seeded: BrainService, tmp_path: Path, engine: str
) -> None:
    seeded.remember("b2", key="k", values=[1])
    seeded.create_backup(tmp_path / "bk")
    document = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    document["brains"][1]["memories"] = 7
    (tmp_path / "bk" / "manifest.json").write_text(json.dumps(document))
    target = DataHome(tmp_path / "restored")
    with pytest.raises(ValidationFailed, match=r"brain 'b2' has 1 memories, but the manifest"):
        restore_into(tmp_path / "bk", target, small_config(engine))
    with BrainService(small_config(engine), target) as restored:
        assert restored.list_brains() == []
