"""Dataset versions through the service: create, dedupe, diff, apply, revert, tags,
splits, shards and lineage, on a real graph store and SQLite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from marble_graph.dataset_versions import DatasetRef, load_training_dataset, register_dataset
from marble_graph.dataset_versions.loading import table_encoding
from marble_graph.datasets import load_dataset, split_dataset
from marble_graph.datasets.rowsets import row_digests
from marble_graph.errors import Conflict, NotFound, ValidationFailed
from marble_graph.service import BrainService
from marble_graph.store.lineage import sync_lineage


def _rows(n: int, seed: int = 0, start: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    return pa.table(
        {
            "id": np.arange(start, start + n),
            "a": x[:, 0],
            "b": x[:, 1],
            "c": x[:, 2],
            "label": np.where(x[:, 0] + x[:, 1] > 0, "up", "down"),
        }
    )


def _write_csv(path: Path, table: pa.Table) -> Path:
    import pyarrow.csv as pcsv

    pcsv.write_csv(table, path)
    return path


def test_the_same_rows_in_another_order_are_the_same_version(
    service: BrainService, tmp_path: Path
) -> None:
    rows = _rows(50)
    first, created = service.create_dataset("points", _write_csv(tmp_path / "p.csv", rows))
    assert created and first.version == 1 and first.n_rows == 50
    shuffled = rows.take(np.random.default_rng(1).permutation(50))
    again, created_again = service.create_dataset("points", shuffled)
    assert not created_again and again.version == 1
    assert again.content_hash == first.content_hash
    changed = rows.set_column(1, "a", pa.array(np.r_[rows["a"].to_numpy()[:-1], 9.0]))
    second, created_second = service.create_dataset("points", changed)
    assert created_second and second.version == 2
    assert second.content_hash != first.content_hash


def test_diff_apply_and_revert_make_versions_with_the_expected_rows(
    service: BrainService,
) -> None:
    base = _rows(40)
    grown = pa.concat_tables([base.slice(5), _rows(7, seed=3, start=100)])
    v1, _ = service.create_dataset("grow", base, target_column="label")
    v2, _ = service.create_dataset("grow", grown, target_column="label", parent="1")
    assert v2.parent == ("grow", 1)

    changes, a, b = service.diff_datasets("grow", "1", "2")
    assert (changes.n_added, changes.n_removed) == (7, 5)
    assert (a.version, b.version) == (1, 2)

    applied, created = service.apply_dataset_diff("grow", changes, onto="1")
    assert created and applied.content_hash == v2.content_hash and applied.parent == ("grow", 1)
    with pytest.raises(ValidationFailed, match="apply it to its parent"):
        service.apply_dataset_diff("grow", changes, onto="2")

    reverted, _ = service.revert_dataset("grow", "2")
    assert reverted.content_hash == v1.content_hash
    assert reverted.parent == ("grow", 2)
    with pytest.raises(ValidationFailed, match="no parent"):
        service.revert_dataset("grow", "1")


def test_tags_name_one_version_and_unknown_refs_name_what_exists(service: BrainService) -> None:
    service.create_dataset("tagged", _rows(20))
    service.create_dataset("tagged", _rows(20, seed=5))
    service.tag_dataset("tagged", "1", "gold")
    assert service.dataset_version("tagged", "gold").version == 1
    with pytest.raises(Conflict, match=r"tag 'gold' already names version 1"):
        service.tag_dataset("tagged", "2", "gold")
    with pytest.raises(NotFound, match=r"versions: 1, 2; tags: gold"):
        service.dataset_version("tagged", "silver")
    with pytest.raises(NotFound, match=r"unknown dataset 'nope' \(datasets: tagged\)"):
        service.dataset_version("nope")
    with pytest.raises(ValidationFailed, match="invalid tag"):
        service.tag_dataset("tagged", "1", "7")


def test_bad_input_is_refused_naming_what_is_wrong(service: BrainService, tmp_path: Path) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text("a,b,label\n1,2,x\n3,4,y\n5,6,7,z\n", encoding="utf-8")
    with pytest.raises(ValidationFailed, match="line 4"):
        service.create_dataset("broken", broken)
    with pytest.raises(ValidationFailed, match="unknown encoder 'wavelet'"):
        service.create_dataset("enc", _rows(10), encoders={"a": {"kind": "wavelet"}})
    uneven = [([1.0, 2.0], 0), ([1.0, 2.0, 3.0], 1)]
    with pytest.raises(ValidationFailed, match=r"row 1: input has width 3"):
        service.create_dataset("uneven", uneven)
    with pytest.raises(ValidationFailed, match="built-in dataset"):
        service.create_dataset("digits", _rows(10))
    assert service.list_datasets() == []


def test_row_hash_split_follows_each_row_across_versions(service: BrainService) -> None:
    base = _rows(400)
    service.create_dataset("split", base, target_column="label", input_columns=["a", "b", "c"])
    more = pa.concat_tables([base.slice(50), _rows(120, seed=9, start=1000)])
    shuffled = more.take(np.random.default_rng(2).permutation(more.num_rows))
    service.create_dataset("split", shuffled, target_column="label", input_columns=["a", "b", "c"])

    def test_keys(ref: str) -> set[bytes]:
        dataset, _ = load_training_dataset(service.stores, DatasetRef("split", ref))
        _, test = split_dataset(dataset, 0.25, method="row_hash")
        assert test.row_keys is not None
        return {key.tobytes() for key in test.row_keys}

    first, second = test_keys("1"), test_keys("2")
    shared = {k.tobytes() for k in row_digests(base.slice(50))}
    assert first & shared == second & shared
    assert 0.15 < len(first) / 400 < 0.35


def test_shards_partition_a_versions_rows(service: BrainService) -> None:
    service.create_dataset("sharded", _rows(300))
    shards = [service.dataset_rows("sharded", num_shards=3, shard_index=i) for i in range(3)]
    ids = np.concatenate([s["id"].to_numpy() for s in shards])
    assert sorted(ids.tolist()) == list(range(300))
    assert all(s.num_rows > 50 for s in shards)
    with pytest.raises(ValidationFailed, match="shard_index"):
        service.dataset_rows("sharded", num_shards=3, shard_index=3)


def test_lineage_reaches_the_data_of_a_brain_version_and_its_parents(
    service: BrainService,
) -> None:
    service.create_dataset("lin", _rows(120), target_column="label", input_columns=["a", "b"])
    service.create_dataset(
        "lin", _rows(120, seed=4), target_column="label", input_columns=["a", "b"], parent="1"
    )
    service.create_brain_for_dataset("reader", "lin@1")
    service.train("reader", "lin@1", epochs=1)
    service.train("reader", "lin@2", epochs=1)
    rows = service.data_of_brain_version("reader", 3)
    assert [(r["dataset"], r["version"], r["brain_version"]) for r in rows] == [
        ("lin", 2, 3),
        ("lin", 1, 2),
    ]
    assert rows[0]["derived_from"] == ["lin@1"]
    trained = service.brains_trained_on("lin", "1")
    assert [(r["brain"], r["version"]) for r in trained] == [("reader", 2)]

    # The graph's lineage mirrors SQL: what a crash left out comes back on open.
    service.graph.execute("MATCH (v:BrainVersion) DETACH DELETE v")
    assert service.data_of_brain_version("reader", 3) == []
    assert sync_lineage(service.metadata, service.graph) == {"reader"}
    assert service.data_of_brain_version("reader", 3) == rows


def test_a_built_vocabulary_is_stored_once_and_shared_by_another_dataset(
    service: BrainService,
) -> None:
    rng = np.random.default_rng(0)
    words = [b"marble", b"brain", b"graph", b"neuron"]
    payloads = [b"".join(rng.choice(words, 6).tolist()) for _ in range(60)]
    labels = [int(p.count(b"brain") > 1) for p in payloads]
    first, _ = service.create_dataset(
        "blobs_a",
        {"payload": payloads, "label": labels},
        encoders={"payload": {"kind": "bytes", "vocabulary": "build"}},
    )
    [payload] = [e for e in first.encoding["inputs"] if e["column"] == "payload"]
    digest = payload["encoder"]["vocabulary"]
    assert len(digest) == 64

    second, _ = service.create_dataset(
        "blobs_b",
        {"payload": payloads[:20], "label": labels[:20]},
        encoders={"payload": {"kind": "bytes", "vocabulary": digest}},
    )
    [shared] = [e for e in second.encoding["inputs"] if e["column"] == "payload"]
    assert shared["encoder"]["vocabulary"] == digest
    encoding = table_encoding(service.stores, second)
    assert encoding is not None
    [(_, encoder)] = encoding.inputs
    assert encoder.decode(encoder.encode(pa.array(payloads[:20]))) == payloads[:20]


def test_a_built_in_dataset_a_run_trained_on_reads_back_as_the_same_arrays(
    service: BrainService,
) -> None:
    wine = load_dataset("wine")
    link = register_dataset(service.stores, wine)
    stored, info = load_training_dataset(service.stores, DatasetRef("wine", str(link.version)))
    assert info.content_hash == link.content_hash
    assert np.array_equal(stored.features, wine.features)
    assert np.array_equal(stored.targets, wine.targets)
    assert (stored.task, stored.feature_names, stored.target_names) == (
        wine.task,
        wine.feature_names,
        wine.target_names,
    )
