"""Dreams on real stores: buffers persist with versions, a dream commits or writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from sqlalchemy import select

from marble_graph.brains.versions import load_brain_tensors, write_back
from marble_graph.config import MarbleConfig, config_from_mapping
from marble_graph.data_home import DataHome
from marble_graph.errors import Conflict, ValidationFailed
from marble_graph.failpoints import InjectedFailure, armed
from marble_graph.service import BrainService
from marble_graph.store.metadata import BrainVersion
from tests.test_backup import restore_into
from tests.test_runs import create_wave


def dream_config(engine: str, keep: int = 20, **dreams: object) -> MarbleConfig:
    """The small sine brain of tests/test_runs.py, recording experiences."""
    return config_from_mapping(
        {
            "seed": {"width": 6, "height": 6, "output_fanin": 16, "random_seed": 7},
            "learning": {"epochs": 2},
            "dataset": {"stratify": False},
            "dreams": {"record": True, "long_term_capacity": 50, "cycles": 3, **dreams},
            "versions": {"keep": keep},
            "storage": {"graph_engine": engine},
            "logging": {"level": "WARNING"},
        }
    )


@pytest.fixture
def dreamer(home: DataHome, engine: str):  # type: ignore[no-untyped-def]
    """A home with brain ``wave`` trained 2 epochs on sine, experiences recorded."""
    with BrainService(dream_config(engine), home) as service:
        create_wave(service)
        service.train("wave", "sine")
        yield service


def experience_blobs(service: BrainService) -> list[str | None]:
    with service.metadata.session() as session:
        rows = session.scalars(select(BrainVersion).order_by(BrainVersion.version)).all()
        return [row.experience_blob for row in rows]


def test_training_records_experiences_with_the_version(dreamer: BrainService) -> None:
    loaded = load_brain_tensors(dreamer.stores, "wave")
    assert loaded.experience is not None
    assert loaded.experience["long_term.features"].shape == (50, 1)
    assert loaded.metrics["experience"]["long_term"] == 50
    assert 0.0 <= loaded.metrics["experience"]["mean_salience"] <= 1.0
    assert experience_blobs(dreamer)[0] is None  # the seed version recorded nothing


def test_a_dream_commits_a_new_version_with_its_loss(dreamer: BrainService) -> None:
    cycles: list[int] = []
    summary = dreamer.dream("wave", 4, on_cycle=lambda done, loss: cycles.append(done))
    assert summary.state == "completed" and summary.version == 3 and cycles == [1, 2, 3, 4]
    record = dreamer.show_version("wave", 3)
    assert record["note"] == "dream: 4 cycles"
    assert record["metrics"]["dream"]["cycles"] == 4
    assert record["metrics"]["dream"]["loss"] == pytest.approx(summary.loss)
    assert record["metrics"]["step"] > dreamer.show_version("wave", 2)["metrics"]["step"]


def test_buffers_survive_a_restart(dreamer: BrainService, engine: str) -> None:
    before = load_brain_tensors(dreamer.stores, "wave").experience
    home = dreamer.home
    dreamer.close()
    with BrainService(dream_config(engine), home) as reopened:
        after = load_brain_tensors(reopened.stores, "wave").experience
        assert before is not None and after is not None and before.keys() == after.keys()
        assert all(torch.equal(before[k], after[k]) for k in before)
        assert reopened.dream("wave", 2).state == "completed"


def test_a_cancelled_dream_leaves_the_previous_version_current(dreamer: BrainService) -> None:
    before = dreamer.get_brain("wave")
    done: list[int] = []
    summary = dreamer.dream(
        "wave", 10, on_cycle=lambda cycle, _: done.append(cycle), should_stop=lambda: len(done) >= 2
    )
    assert summary.state == "cancelled" and summary.version is None and summary.cycles == 2
    assert dreamer.get_brain("wave") == before


def test_a_dream_that_dies_while_writing_leaves_the_previous_version(
    dreamer: BrainService,
) -> None:
    before = dreamer.get_brain("wave")
    with armed("writeback.before_commit"), pytest.raises(InjectedFailure):
        dreamer.dream("wave", 2)
    assert dreamer.get_brain("wave") == before
    assert dreamer.stored_graph_hash("wave") == before.graph_hash


@pytest.mark.parametrize("cycles", [0, -1, 100_001])
def test_cycles_out_of_range_are_refused(dreamer: BrainService, cycles: int) -> None:
    with pytest.raises(ValidationFailed, match=rf"cycles: expected 1\.\.100000, got {cycles}"):
        dreamer.dream("wave", cycles)


def test_a_brain_without_experiences_has_nothing_to_replay(dreamer: BrainService) -> None:
    create_wave_named(dreamer, "fresh")
    with pytest.raises(Conflict, match="'fresh' has no experiences to replay"):
        dreamer.dream("fresh", 3)


def create_wave_named(service: BrainService, name: str) -> None:
    service.create_brain_for_dataset(name, "sine", service.config)


def test_a_write_back_without_buffers_carries_the_base_versions_forward(
    dreamer: BrainService,
) -> None:
    recorded = experience_blobs(dreamer)[-1]
    loaded = load_brain_tensors(dreamer.stores, "wave")
    write_back(
        dreamer.stores,
        "wave",
        loaded.tensors,
        loaded.shared_state,
        base_version=loaded.info.version,
        metrics=loaded.metrics,
        note="unchanged",
    )
    assert experience_blobs(dreamer)[-2:] == [recorded, recorded]


def test_rollback_restores_that_versions_buffers(dreamer: BrainService) -> None:
    dreamer.dream("wave", 2)
    blobs = experience_blobs(dreamer)
    dreamer.rollback("wave", 1)  # the seed version recorded nothing
    assert experience_blobs(dreamer)[-1] is None
    dreamer.rollback("wave", 3)
    assert experience_blobs(dreamer)[-1] == blobs[2]


def test_retention_collects_buffers_no_kept_version_uses(home: DataHome, engine: str) -> None:
    with BrainService(dream_config(engine, keep=1), home) as service:
        create_wave(service)
        service.train("wave", "sine")
        service.train("wave", "sine")  # records more: new buffers, a new blob
        first, second = experience_blobs(service)[1:3]
        assert first is not None and second is not None and first != second
        service.dream("wave", 2)
        # A dream replays without recording: its version shares the run's blob.
        assert experience_blobs(service)[-1] == second
        assert service.blobs.path(second, ".pt").exists()
        assert not service.blobs.path(first, ".pt").exists()


def test_backup_and_restore_keep_the_buffers(
    dreamer: BrainService, tmp_path: Path, engine: str
) -> None:
    before = load_brain_tensors(dreamer.stores, "wave").experience
    dreamer.create_backup(tmp_path / "bk")
    target = DataHome(tmp_path / "restored")
    restore_into(tmp_path / "bk", target, dream_config(engine))
    with BrainService(dream_config(engine), target) as restored:
        after = load_brain_tensors(restored.stores, "wave").experience
        assert before is not None and after is not None
        assert all(torch.equal(before[k], after[k]) for k in before)
