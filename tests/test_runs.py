"""Training runs end to end on real stores: learn, write back, reload, infer, resume."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sqlalchemy import select

from marble_graph.brains.versions import load_brain_tensors, write_back
from marble_graph.config import MarbleConfig, config_from_mapping, with_overrides
from marble_graph.data_home import DataHome
from marble_graph.datasets import load_dataset, split_dataset
from marble_graph.errors import ValidationFailed
from marble_graph.failpoints import InjectedFailure, armed
from marble_graph.learning.losses import Objective
from marble_graph.learning.trainer import Trainer
from marble_graph.presets import preset_config
from marble_graph.service import BrainService
from marble_graph.store.metadata import BrainVersion, TrainingRun

REPO_ROOT = Path(__file__).resolve().parents[1]


def sine_config(engine: str, **learning: object) -> MarbleConfig:
    """A small regression brain: the regression preset on a 6x6 grid."""
    return config_from_mapping(
        {
            "seed": {"width": 6, "height": 6, "output_fanin": 16, "random_seed": 7},
            "learning": {"epochs": 30, **learning},
            "dataset": {"stratify": False},
            "storage": {"graph_engine": engine},
            "logging": {"level": "WARNING"},
        }
    )


def create_wave(service: BrainService, config: MarbleConfig | None = None) -> None:
    service.create_brain_for_dataset("wave", "sine", config or service.config)


@pytest.fixture
def sine_service(home: DataHome, engine: str):  # type: ignore[no-untyped-def]
    with BrainService(sine_config(engine), home) as service:
        create_wave(service)
        yield service


def test_sine_regression_beats_ten_percent_of_the_mean_predictor(
    sine_service: BrainService,
) -> None:
    summary = sine_service.train("wave", "sine")
    assert summary.state == "completed"
    assert summary.version == 2
    assert summary.test["mse"] < 0.1 * summary.baseline["mse"]


def test_run_records_per_epoch_metrics_and_a_version(sine_service: BrainService) -> None:
    summary = sine_service.train("wave", "sine", epochs=3)
    epochs = sine_service.run_epochs(summary.run_id)
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    for key in (
        "loss",
        "val_mse",
        "lr",
        "lr_effective",
        "reward",
        "stress",
        "arousal",
        "split",
        "prune",
        "shortcut",
        "concept",
        "neurogenesis",
        "neurons",
        "synapses",
        "seconds",
    ):
        assert key in epochs[0], key
    [run] = sine_service.list_runs("wave")
    assert run["state"] == "completed" and run["result_version"] == 2
    with sine_service.metadata.session() as session:
        version = session.scalars(select(BrainVersion).where(BrainVersion.version == 2)).one()
        assert version.dataset_version_id is not None
        assert version.run_id == summary.run_id
        assert version.params_blob
    trained_on = sine_service.query(
        "MATCH (:Brain {name: 'wave'})<-[:VERSION_OF]-(v:BrainVersion)-[:TRAINED_ON]->"
        "(d:DatasetVersion) RETURN v.version, d.n_rows"
    )
    assert trained_on.rows == [[2, 1000]]


def test_infer_twice_is_identical_and_leaves_the_graph_unchanged(
    sine_service: BrainService,
) -> None:
    sine_service.train("wave", "sine", epochs=2)
    before = sine_service.stored_graph_hash("wave")
    x = np.linspace(-3, 3, 7).reshape(-1, 1)
    first = sine_service.infer("wave", x)
    second = sine_service.infer("wave", x)
    assert np.array_equal(first.outputs, second.outputs)
    assert sine_service.stored_graph_hash("wave") == before
    assert sine_service.get_brain("wave").version == 2


def test_written_back_brain_infers_exactly_like_the_trained_model(
    home: DataHome, engine: str
) -> None:
    """Train in memory, write back, infer in a fresh process: bit-identical outputs."""
    x = np.linspace(-3, 3, 11, dtype=np.float32).reshape(-1, 1)
    with BrainService(sine_config(engine), home) as service:
        create_wave(service)
        loaded = load_brain_tensors(service.stores, "wave")
        trainer = Trainer(loaded.tensors, loaded.config, Objective.for_task("regression"))
        train, _ = split_dataset(load_dataset("sine"), 0.25, 0, stratify=False)
        assert trainer.fit(train, None, 2).status == "completed"
        expected = trainer.predict(torch.from_numpy(x)).numpy()
        tensors, shared = trainer.result()
        write_back(
            service.stores,
            "wave",
            tensors,
            shared,
            base_version=1,
            metrics={"task": "regression", "neuromodulation": trainer.neuromodulator.snapshot()},
            note="test",
        )
    # Same thread count as here: PyTorch's CPU kernels split their work by
    # threads, so the last bits of a sum may differ between thread counts
    # (under pytest-xdist this process has one thread, a fresh one two).
    script = (
        "import numpy as np, sys, marble_graph, torch\n"
        f"torch.set_num_threads({torch.get_num_threads()})\n"
        "from marble_graph.data_home import DataHome\n"
        "from marble_graph.service import BrainService\n"
        "from tests.test_runs import sine_config\n"
        f"with BrainService(sine_config({engine!r}), DataHome({str(home.root)!r})) as s:\n"
        "    x = np.linspace(-3, 3, 11, dtype=np.float32).reshape(-1, 1)\n"
        "    sys.stdout.write(s.infer('wave', x).outputs.tobytes().hex())\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert child.returncode == 0, child.stderr
    fresh = np.frombuffer(bytes.fromhex(child.stdout), dtype=np.float32).reshape(11, 1)
    assert np.array_equal(fresh, expected)


def test_failed_write_back_leaves_the_previous_version(sine_service: BrainService) -> None:
    before = sine_service.stored_graph_hash("wave")
    with armed("writeback.after_graph"), pytest.raises(InjectedFailure):
        sine_service.train("wave", "sine", epochs=1)
    assert sine_service.get_brain("wave").version == 1
    assert sine_service.stored_graph_hash("wave") == before
    assert len(sine_service.graph.generations()) == 1
    [run] = sine_service.list_runs("wave")
    assert run["state"] == "failed" and "injected failure" in run["error"]


def test_killed_training_keeps_last_checkpoint_and_resume_finishes(
    home: DataHome, engine: str
) -> None:
    config = sine_config(engine, checkpoint_every=2, epochs=6)
    with BrainService(config, home) as service:
        create_wave(service)
    script = (
        "from marble_graph.data_home import DataHome\n"
        "from marble_graph.service import BrainService\n"
        "from tests.test_runs import sine_config\n"
        f"s = BrainService(sine_config({engine!r}, checkpoint_every=2, epochs=6), "
        f"DataHome({str(home.root)!r}))\n"
        "s.train('wave', 'sine')\n"
    )
    # The second checkpoint's write-back dies after copying its graph, before committing.
    env = {**os.environ, "MARBLE_FAILPOINTS": "writeback.after_graph=crash@2"}
    child = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, timeout=300
    )
    assert child.returncode == 86, child.stderr.decode()
    with BrainService(config, home) as service:
        assert service.get_brain("wave").version == 2  # the first checkpoint survived
        assert service.stored_graph_hash("wave") == service.get_brain("wave").graph_hash
        summary = service.train("wave", "sine", resume=True)
        assert summary.state == "completed"
        assert [h["epoch"] for h in summary.history] == [3, 4, 5, 6]
        info = service.get_brain("wave")
        assert info.version == 4
        # The superseded generation stays until the next write-back or open, never
        # deleted after a commit; reopening collects it.
        assert len(service.graph.generations()) == 2
        assert ("wave", info.graph_key) in service.graph.generations()
    with BrainService(config, home) as service:
        assert service.graph.generations() == {("wave", service.get_brain("wave").graph_key)}


def test_non_finite_loss_stops_without_writing_back(sine_service: BrainService) -> None:
    config = with_overrides(
        sine_service.config,
        {
            "learning.learning_rate": 10.0,
            "learning.gradient_clip_value": 0.0,
            "learning.weight_limit": 1e6,
        },
    )
    # The brain keeps its own config: re-create it with the exploding one.
    sine_service.delete_brain("wave")
    create_wave(sine_service, config)
    import marble_graph.learning.trainer as trainer_module

    original = trainer_module.Trainer._train_step

    def exploding(self, features, targets):  # type: ignore[no-untyped-def]
        return float("nan"), float("nan")

    trainer_module.Trainer._train_step = exploding  # type: ignore[method-assign]
    try:
        summary = sine_service.train("wave", "sine", epochs=2)
    finally:
        trainer_module.Trainer._train_step = original  # type: ignore[method-assign]
    assert summary.state == "failed"
    assert "loss became nan" in (summary.reason or "")
    assert sine_service.get_brain("wave").version == 1
    with sine_service.metadata.session() as session:
        run = session.scalars(select(TrainingRun)).one()
        assert run.state == "failed" and "loss became nan" in (run.error or "")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("digits", "input width mismatch: the brain has 1 input neurons, dataset 'digits' has 64"),
        ("nope", "unknown dataset 'nope'"),
    ],
)
def test_bad_datasets_are_refused_naming_the_fault(
    sine_service: BrainService, spec: str, message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message):
        sine_service.train("wave", spec)
    assert sine_service.list_runs("wave") == []


def test_bad_files_name_the_row_or_column(sine_service: BrainService, tmp_path: Path) -> None:
    nan_file = tmp_path / "nan.csv"
    nan_file.write_text("x,y\n0.1,0.2\nnan,0.3\n")
    with pytest.raises(ValidationFailed, match=r"line 3 \(row 1\)"):
        sine_service.train("wave", str(nan_file))
    empty = tmp_path / "empty.csv"
    empty.write_text("x,y\n")
    with pytest.raises(ValidationFailed, match="empty"):
        sine_service.train("wave", str(empty))
    wrong_column = with_overrides(sine_service.config, {"dataset.target_column": "nope"})
    sine_service.create_brain("wave2", preset_config("regression", 1, 1, wrong_column))
    ok = tmp_path / "ok.csv"
    ok.write_text("x,y\n0.1,0.2\n0.3,0.4\n")
    with pytest.raises(ValidationFailed, match="unknown column 'nope'"):
        sine_service.train("wave2", str(ok))


def test_infer_refuses_wrong_width_and_nan(sine_service: BrainService) -> None:
    with pytest.raises(ValidationFailed, match="expected 1 features, got 3"):
        sine_service.infer("wave", np.zeros((2, 3)))
    with pytest.raises(ValidationFailed, match="row 1 contains NaN"):
        sine_service.infer("wave", np.array([[0.0], [np.nan]]))


@pytest.mark.parametrize(("signal", "direction"), [("reward", 1), ("stress", -1)])
def test_neuromodulation_moves_the_effective_learning_rate_in_run_metrics(
    home: DataHome, engine: str, signal: str, direction: int
) -> None:
    config = with_overrides(
        sine_config(engine),
        {"neuromodulation.mode": "manual", f"neuromodulation.{signal}": 0.8},
    )
    with BrainService(config, home) as service:
        create_wave(service)
        summary = service.train("wave", "sine", epochs=1)
    [epoch] = summary.history
    assert epoch[signal] == 0.8
    assert (epoch["lr_effective"] - epoch["lr"]) * direction > 0


def test_plasticity_changes_are_counted_and_persisted(home: DataHome, engine: str) -> None:
    eager = with_overrides(
        sine_config(engine),
        {
            "plasticity.plasticity_interval": 5,
            "plasticity.plasticity_threshold": 3.0,
            "plasticity.shortcut_threshold": 2,
            "plasticity.concept_threshold": 4,
        },
    )
    with BrainService(eager, home) as service:
        create_wave(service)
        before = service.show_brain("wave")
        summary = service.train("wave", "sine", epochs=1)
        counts = {k: summary.history[0][k] for k in ("split", "shortcut", "concept")}
        assert all(v > 0 for v in counts.values()), counts
        after = service.show_brain("wave")
        assert after.info.neuron_count == summary.history[0]["neurons"]
        assert after.info.neuron_count > before.info.neuron_count
        assert after.neurons_by_kind.get("concept", 0) > 0
        assert service.stored_graph_hash("wave") == after.info.graph_hash


def test_ctrl_c_marks_the_run_interrupted_and_keeps_the_version(
    sine_service: BrainService,
) -> None:
    before = sine_service.stored_graph_hash("wave")

    def interrupt(metrics: dict[str, object]) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sine_service.train("wave", "sine", epochs=3, on_epoch=interrupt)
    [run] = sine_service.list_runs("wave")
    assert run["state"] == "interrupted"
    assert sine_service.get_brain("wave").version == 1
    assert sine_service.stored_graph_hash("wave") == before


def test_early_stopping_ends_the_run_and_still_writes_back(home: DataHome, engine: str) -> None:
    config = with_overrides(
        sine_config(engine, early_stopping_patience=1, epochs=30, learning_rate=1e-9),
        {"plasticity.enabled": False},
    )
    with BrainService(config, home) as service:
        create_wave(service)
        summary = service.train("wave", "sine")
        # With a learning rate of 1e-9 nothing improves, so it stops after patience + 1 epochs.
        assert summary.state == "completed"
        assert len(summary.history) == 2
        assert "early stop after epoch 2" in (summary.reason or "")
        assert service.get_brain("wave").version == 2
        [run] = service.list_runs("wave")
        assert run["state"] == "completed"
