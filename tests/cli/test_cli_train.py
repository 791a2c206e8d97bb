"""``marble train``, ``marble infer`` and ``marble runs`` in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Marble, marble_in

SMALL = (
    "seed:\n  width: 5\n  height: 5\n  output_fanin: 8\n"
    "learning:\n  epochs: 2\ndataset:\n  stratify: false\nlogging:\n  level: WARNING\n"
)


@pytest.fixture
def marble(tmp_path: Path) -> Marble:
    return marble_in(tmp_path, SMALL)


def test_train_infer_and_runs_from_the_command_line(marble) -> None:  # type: ignore[no-untyped-def]
    created = marble("brain", "create", "wave", "--dataset", "sine", "-f", "json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["neurons_by_kind"] == {"hidden": 25, "input": 1, "output": 1}
    trained = marble("train", "wave", "--dataset", "sine", "-f", "json")
    assert trained.exit_code == 0, trained.output
    summary = json.loads(trained.stdout)
    assert summary["state"] == "completed" and summary["version"] == 2
    assert [h["epoch"] for h in summary["history"]] == [1, 2]
    answer = json.loads(marble("infer", "wave", "--input", "[[0.5], [1.0]]").stdout)
    assert answer["version"] == 2 and len(answer["outputs"]) == 2
    scored = json.loads(marble("evaluate", "wave", "--dataset", "sine", "-f", "json").stdout)
    assert scored["mse"] == pytest.approx(summary["test"]["mse"], rel=1e-5)
    runs = json.loads(marble("runs", "wave", "-f", "json").stdout)
    assert [(r["run"], r["state"], r["result_version"]) for r in runs] == [(1, "completed", 2)]
    epochs = json.loads(marble("runs", "wave", "--run", "1", "-f", "json").stdout)
    assert [e["epoch"] for e in epochs] == [1, 2]
    again = marble("train", "wave", "--dataset", "sine", "--if-untrained")
    assert again.exit_code == 0 and "already trained" in again.stderr


def test_infer_input_faults_are_clear(marble) -> None:  # type: ignore[no-untyped-def]
    marble("brain", "create", "wave", "--dataset", "sine")
    wrong_width = marble("infer", "wave", "--input", "[[1, 2, 3]]")
    assert wrong_width.exit_code == 2
    assert "expected 1 features, got 3" in wrong_width.stderr
    not_json = marble("infer", "wave", "--input", "[1,")
    assert not_json.exit_code == 2 and "not valid JSON" in not_json.stderr
    both = marble("infer", "wave")
    assert both.exit_code == 2 and "exactly one of" in both.stderr


def test_train_refuses_unknown_dataset_and_width_mismatch(marble) -> None:  # type: ignore[no-untyped-def]
    marble("brain", "create", "wave", "--dataset", "sine")
    unknown = marble("train", "wave", "--dataset", "nope")
    assert unknown.exit_code == 2 and "unknown dataset 'nope'" in unknown.stderr
    mismatch = marble("train", "wave", "--dataset", "digits")
    assert mismatch.exit_code == 2 and "input width mismatch" in mismatch.stderr
