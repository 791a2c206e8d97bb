"""The service facade: brain lifecycle across both stores, export/import, crash safety."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from marble_graph.brain_graph import graph_hash
from marble_graph.config import with_overrides
from marble_graph.data_home import DataHome
from marble_graph.errors import Conflict, NotFound, ValidationFailed
from marble_graph.failpoints import CRASH_EXIT_CODE, InjectedFailure, armed
from marble_graph.seed import seed_brain_graph
from marble_graph.service import BrainService
from marble_graph.store.metadata import Brain, BrainVersion
from tests.conftest import SMALL_SEED, small_config

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_create_persists_counts_matching_the_seed(service: BrainService) -> None:
    info = service.create_brain("b1")
    expected = seed_brain_graph(service.config)
    assert info.neuron_count == expected.neuron_count
    assert info.synapse_count == expected.synapse_count
    assert info.version == 1
    details = service.show_brain("b1")
    assert details.neurons_by_kind == expected.neuron_counts_by_kind()
    assert details.synapses_by_type == expected.synapse_counts_by_type()
    assert details.config["seed"]["width"] == SMALL_SEED["width"]
    assert service.query("MATCH (n:Neuron) RETURN count(*)").rows == [[expected.neuron_count]]
    assert service.stored_graph_hash("b1") == info.graph_hash == graph_hash(expected)


def test_create_records_the_first_version(service: BrainService) -> None:
    service.create_brain("b1")
    with service.metadata.session() as session:
        versions = session.scalars(select(BrainVersion)).all()
        assert [(v.version, v.state, v.note) for v in versions] == [(1, "committed", "seed")]


def test_same_config_gives_same_hash_and_another_seed_another(service: BrainService) -> None:
    a = service.create_brain("a")
    b = service.create_brain("b")
    c = service.create_brain("c", small_config(service.config.storage.graph_engine, random_seed=8))
    assert a.graph_hash == b.graph_hash
    assert c.graph_hash != a.graph_hash


def test_duplicate_name_is_a_conflict_and_exist_ok_reuses(service: BrainService) -> None:
    first = service.create_brain("b1")
    with pytest.raises(Conflict, match="'b1' already exists"):
        service.create_brain("b1")
    assert service.create_brain("b1", exist_ok=True) == first
    assert len(service.list_brains()) == 1


def test_unknown_brain_names_the_brain_and_lists_known_ones(service: BrainService) -> None:
    service.create_brain("known")
    with pytest.raises(NotFound, match=r"unknown brain 'nope' \(brains: known\)"):
        service.show_brain("nope")
    with pytest.raises(NotFound):
        service.delete_brain("nope")


@pytest.mark.parametrize("name", ["", "1abc", "a b", "x" * 200, "a/b"])
def test_invalid_brain_names_are_rejected(service: BrainService, name: str) -> None:
    with pytest.raises(ValidationFailed, match="invalid brain name"):
        service.create_brain(name)


def test_delete_removes_the_brain_from_both_stores(service: BrainService) -> None:
    service.create_brain("keep")
    service.create_brain("gone")
    service.delete_brain("gone")
    assert [b.name for b in service.list_brains()] == ["keep"]
    assert service.graph.brain_names() == {"keep"}
    with service.metadata.session() as session:
        assert session.scalars(select(Brain.name)).all() == ["keep"]


@pytest.mark.parametrize("suffix", ["brain.json", "brain-parquet"])
def test_export_delete_import_gives_an_identical_graph(
    service: BrainService, tmp_path: Path, suffix: str
) -> None:
    original = service.create_brain("b1")
    before = service.load_graph("b1")
    target = service.export_brain("b1", tmp_path / suffix)
    service.delete_brain("b1")
    imported = service.import_brain(target)
    assert imported.name == "b1"
    assert imported.graph_hash == original.graph_hash
    after = service.load_graph("b1")
    assert (
        after.synapses.sort_by("id")
        .column("weight")
        .equals(before.synapses.sort_by("id").column("weight"))
    )
    assert service.stored_graph_hash("b1") == original.graph_hash


def test_import_refuses_a_tampered_export(service: BrainService, tmp_path: Path) -> None:
    service.create_brain("b1")
    target = service.export_brain("b1", tmp_path / "b1.json")
    document = json.loads(target.read_text())
    document["tables"]["synapses"]["weight"][0] += 0.5
    target.write_text(json.dumps(document))
    with pytest.raises(ValidationFailed, match="graph hash mismatch"):
        service.import_brain(target, name="copy")
    assert [b.name for b in service.list_brains()] == ["b1"]


def test_import_refuses_non_exports_and_name_clashes(service: BrainService, tmp_path: Path) -> None:
    service.create_brain("b1")
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"hello": 1}')
    with pytest.raises(ValidationFailed, match="not a MARBLE brain export"):
        service.import_brain(bogus)
    target = service.export_brain("b1", tmp_path / "b1.json")
    with pytest.raises(Conflict, match="already exists"):
        service.import_brain(target)
    with pytest.raises(Conflict, match="already exists"):
        service.export_brain("b1", target)


@pytest.mark.parametrize("point", ["create.before_graph", "create.after_graph"])
def test_failure_between_stores_leaves_no_half_brain(service: BrainService, point: str) -> None:
    service.create_brain("keep")
    with armed(point), pytest.raises(InjectedFailure):
        service.create_brain("half")
    assert [b.name for b in service.list_brains()] == ["keep"]
    assert service.graph.brain_names() == {"keep"}
    with service.metadata.session() as session:
        assert session.scalars(select(Brain.name)).all() == ["keep"]


def _crash_child(home: DataHome, engine: str, point: str, action: str) -> None:
    script = (
        "from marble_graph.service import BrainService\n"
        "from marble_graph.data_home import DataHome\n"
        "from tests.conftest import small_config\n"
        f"s = BrainService(small_config({engine!r}), DataHome({str(home.root)!r}))\n"
        f"{action}\n"
    )
    env = {**os.environ, "MARBLE_FAILPOINTS": f"{point}=crash"}
    child = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=REPO_ROOT, capture_output=True, timeout=120
    )
    assert child.returncode == CRASH_EXIT_CODE, child.stderr.decode()


def test_crash_during_create_is_reconciled_on_next_open(home: DataHome, engine: str) -> None:
    with BrainService(small_config(engine), home) as service:
        service.create_brain("keep")
    _crash_child(home, engine, "create.after_graph", "s.create_brain('half')")
    with BrainService(small_config(engine), home) as service:
        assert [b.name for b in service.list_brains()] == ["keep"]
        assert service.graph.brain_names() == {"keep"}
        with service.metadata.session() as session:
            assert session.scalars(select(Brain.name)).all() == ["keep"]
        service.create_brain("half")  # the name is free again
        assert service.stored_graph_hash("half") == service.get_brain("half").graph_hash


@pytest.mark.parametrize("point", ["create.before_graph", "create.after_graph"])
def test_crash_during_import_is_reconciled_on_next_open(
    home: DataHome, engine: str, tmp_path: Path, point: str
) -> None:
    with BrainService(small_config(engine), home) as service:
        exported = service.export_brain(service.create_brain("keep").name, tmp_path / "k.json")
    _crash_child(
        home,
        engine,
        point,
        f"s.import_brain(__import__('pathlib').Path({str(exported)!r}), 'copy')",
    )
    with BrainService(small_config(engine), home) as service:
        assert [b.name for b in service.list_brains()] == ["keep"]
        assert service.graph.brain_names() == {"keep"}
        assert (
            service.import_brain(exported, "copy").graph_hash
            == service.get_brain("keep").graph_hash
        )


def test_crash_during_delete_is_finished_on_next_open(home: DataHome, engine: str) -> None:
    with BrainService(small_config(engine), home) as service:
        service.create_brain("keep")
        service.create_brain("gone")
    _crash_child(home, engine, "delete.after_mark", "s.delete_brain('gone')")
    with BrainService(small_config(engine), home) as service:
        assert [b.name for b in service.list_brains()] == ["keep"]
        assert service.graph.brain_names() == {"keep"}
        assert service.stored_graph_hash("keep") == service.get_brain("keep").graph_hash


def test_brain_lifecycle_on_each_metadata_backend(
    home: DataHome, engine: str, database_url: str, tmp_path: Path
) -> None:
    config = with_overrides(small_config(engine), {"storage.metadata_url": database_url})
    with BrainService(config, home) as service:
        created = service.create_brain("b1")
        exported = service.export_brain("b1", tmp_path / "b1.json")
        service.delete_brain("b1")
        assert service.list_brains() == []
        assert service.import_brain(exported).graph_hash == created.graph_hash
    with BrainService(config, home) as reopened:
        assert [b.name for b in reopened.list_brains()] == ["b1"]
