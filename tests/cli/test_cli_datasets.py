"""``marble dataset ...`` end to end: a CSV becomes versions a brain trains on and rolls back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from tests.cli.conftest import Marble, json_of


def _csv(path: Path, rows: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 2))
    lines = ["x1,x2,label"] + [f"{a:.4f},{b:.4f},{'hi' if a + b > 0 else 'lo'}" for a, b in x]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_csv_dataset_trains_twice_and_rolls_back_to_version_2(
    marble: Marble, tmp_path: Path
) -> None:
    created = json_of(
        marble("dataset", "create", "pts", str(_csv(tmp_path / "a.csv", 120, 0)), "-f", "json")
    )
    assert created["version"] == 1 and created["n_rows"] == 120
    json_of(marble("brain", "create", "B", "--dataset", "pts", "-f", "json"))
    for _ in range(2):
        trained = marble("train", "B", "--dataset", "pts", "--epochs", "1")
        assert trained.exit_code == 0, trained.output
    version_2 = json_of(marble("version", "show", "B", "2", "-f", "json"))
    assert (
        version_2["graph_hash"]
        != json_of(marble("version", "show", "B", "3", "-f", "json"))["graph_hash"]
    )
    rolled = marble("version", "rollback", "B", "2")
    assert rolled.exit_code == 0, rolled.output
    hashed = marble("brain", "hash", "B")
    assert hashed.exit_code == 0 and hashed.stdout.strip() == version_2["graph_hash"]
    lineage = json_of(marble("dataset", "lineage", "pts@1", "-f", "json"))
    # Version 4 is version 2 again: its lineage names the data version 2 trained on.
    assert [row["version"] for row in lineage] == [2, 3, 4]


def test_versions_diff_apply_tag_and_export_from_the_command_line(
    marble: Marble, tmp_path: Path
) -> None:
    marble("dataset", "create", "pts", str(_csv(tmp_path / "a.csv", 60, 0)))
    second = json_of(
        marble(
            "dataset",
            "create",
            "pts",
            str(_csv(tmp_path / "b.csv", 70, 1)),
            "--parent",
            "1",
            "-f",
            "json",
        )
    )
    assert second["version"] == 2 and second["parent"] == "pts@1"
    again = json_of(marble("dataset", "create", "pts", str(tmp_path / "b.csv"), "-f", "json"))
    assert again["version"] == 2  # the same rows as the latest: nothing new

    diff = json_of(
        marble("dataset", "diff", "pts", "1", "2", "--out", str(tmp_path / "d"), "-f", "json")
    )
    assert (diff["added"], diff["removed"]) == (70, 60)
    applied = json_of(
        marble("dataset", "apply", "pts", str(tmp_path / "d"), "--onto", "1", "-f", "json")
    )
    assert applied["content_hash"] == second["content_hash"] and applied["version"] == 3
    wrong = marble("dataset", "apply", "pts", str(tmp_path / "d"), "--onto", "2")
    assert wrong.exit_code == 2 and "apply it to its parent" in wrong.stderr

    assert marble("dataset", "tag", "pts", "2", "gold").exit_code == 0
    taken = marble("dataset", "tag", "pts", "3", "gold")
    assert taken.exit_code == 1 and "tag 'gold' already names version 2" in taken.stderr
    missing = marble("dataset", "show", "pts@silver")
    assert missing.exit_code == 3 and "versions: 1, 2, 3; tags: gold" in missing.stderr

    shards = []
    for index in range(2):
        out = tmp_path / f"shard{index}.parquet"
        result = marble(
            "dataset",
            "export",
            "pts@gold",
            str(out),
            "--num-shards",
            "2",
            "--shard-index",
            str(index),
        )
        assert result.exit_code == 0, result.output
        shards.append(pq.read_table(out).num_rows)
    assert sum(shards) == 70 and min(shards) > 0

    listed = json_of(marble("dataset", "list", "-f", "json"))
    assert [(d["name"], d["versions"]) for d in listed] == [("pts", 3)]


def test_a_malformed_csv_row_is_refused_with_its_line(marble: Marble, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("x1,x2,label\n1,2,hi\n3,4\n", encoding="utf-8")
    result = marble("dataset", "create", "bad", str(bad))
    assert result.exit_code == 2 and "line 3" in result.stderr
    unknown = marble(
        "dataset", "create", "enc", str(_csv(tmp_path / "a.csv", 10, 0)), "--encoder", "x1=wavelet"
    )
    assert unknown.exit_code == 2 and "unknown encoder 'wavelet'" in unknown.stderr
