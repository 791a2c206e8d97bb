"""``client.datasets`` and ``infer(objects=...)`` against a real server: sync and async, in
process and over loopback (each test runs four times; see ``marble`` in conftest)."""

from __future__ import annotations

import base64
import io
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from marble_client import (
    Conflict,
    DatasetDiff,
    DatasetSummary,
    DatasetVersion,
    Forbidden,
    InferResult,
    NotFound,
    TrainedBrain,
    ValidationFailed,
)

from marble_graph.cli.dataset_cmd import save_diff
from marble_graph.datasets.rowsets import diff_rows
from tests.client.conftest import Marble

pytestmark = pytest.mark.anyio


def points(rows: int, seed: int = 11) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 2)).round(4)
    return pa.table({"x1": x[:, 0], "x2": x[:, 1], "label": (x.sum(axis=1) > 0).astype(int)})


def write_csv(table: pa.Table, path: Path) -> Path:
    pa_csv.write_csv(table, path)
    return path


@pytest.fixture
def dataset() -> str:
    """A dataset name of this test's own (servers are shared by a module)."""
    return f"d-{uuid.uuid4().hex[:10]}"


class CsvOnlyFrame:
    """A DataFrame-like object that can write only CSV: the client's duck typing takes it."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def to_csv(self, index: bool = True) -> str:
        out = io.BytesIO()
        pa_csv.write_csv(self.table, out)
        return out.getvalue().decode("utf-8")


async def test_upload_a_file_then_list_versions_show_diff_tag_revert(
    marble: Marble, dataset: str, tmp_path: Path
) -> None:
    table = points(40)
    first_file = write_csv(table.slice(0, 30), tmp_path / "first.csv")
    first = await marble(lambda c: c.datasets.upload(dataset, first_file, target="label"))
    assert isinstance(first, DatasetVersion)
    assert (first.spec, first.n_rows, first.n_features, first.created) == (
        f"{dataset}@1",
        30,
        2,
        True,
    )
    same = await marble(lambda c: c.datasets.upload(dataset, str(first_file), target="label"))
    assert (same.version, same.created) == (1, False)

    second_file = write_csv(table, tmp_path / "second.csv")
    second = await marble(
        lambda c: c.datasets.upload(dataset, second_file, parent=1, note="all 40 rows")
    )
    assert (second.version, second.parent, second.note) == (2, f"{dataset}@1", "all 40 rows")

    listed = await marble(lambda c: c.datasets.list())
    assert all(isinstance(d, DatasetSummary) for d in listed)
    mine = next(d for d in listed if d.name == dataset)
    assert (mine.versions, mine.latest_version) == (2, 2)
    versions = await marble(lambda c: c.datasets.versions(dataset))
    assert [v.version for v in versions] == [1, 2] and versions[0].created is None
    assert (await marble(lambda c: c.datasets.show(dataset))).version == 2

    diff = await marble(lambda c: c.datasets.diff(dataset, 1, 2, limit=4))
    assert isinstance(diff, DatasetDiff)
    assert (diff.from_, diff.to, diff.added, diff.removed) == (
        f"{dataset}@1",
        f"{dataset}@2",
        10,
        0,
    )
    assert len(diff.added_rows) == 4 and set(diff.added_rows[0]) == {"x1", "x2", "label"}

    tagged = await marble(lambda c: c.datasets.tag(dataset, 1, "small"))
    assert tagged.tags == ["small"]
    assert (await marble(lambda c: c.datasets.show(dataset, "small"))).version == 1
    with pytest.raises(Conflict) as taken:
        await marble(lambda c: c.datasets.tag(dataset, 2, "small"))
    assert "'small'" in taken.value.detail
    assert await marble(lambda c: c.datasets.untag(dataset, "small")) is None
    with pytest.raises(NotFound) as missing:
        await marble(lambda c: c.datasets.show(dataset, "small"))
    assert "versions: 1, 2" in missing.value.detail

    reverted = await marble(lambda c: c.datasets.revert(dataset, 2, note="undo"))
    assert (reverted.version, reverted.n_rows, reverted.created) == (3, 30, True)
    assert reverted.content_hash == first.content_hash


async def test_upload_a_dataframe_pairs_with_bytes_and_a_csv_only_frame(
    marble: Marble, dataset: str
) -> None:
    frame = points(24).to_pandas()
    as_parquet = await marble(lambda c: c.datasets.upload(dataset, frame, target="label"))
    assert as_parquet.n_rows == 24
    # The same rows as CSV (no to_parquet): the same content, so nothing new.
    as_csv = await marble(lambda c: c.datasets.upload(dataset, CsvOnlyFrame(points(24))))
    assert (as_csv.version, as_csv.created) == (1, False)

    pairs: list[tuple[Any, Any]] = [(bytes([i, 200, i % 7]), i % 3) for i in range(15)]
    blobs = await marble(lambda c: c.datasets.upload(f"{dataset}-b", pairs))
    types = {c["name"]: str(c.get("type")) for c in blobs.columns}
    assert "binary" in types["input"] and blobs.n_rows == 15
    vectors = [([0.5 * i, 1.0, -float(i)], float(i) / 2) for i in range(10)]
    as_vectors = await marble(lambda c: c.datasets.upload(f"{dataset}-v", vectors))
    assert as_vectors.n_features == 3


async def test_download_writes_each_format_and_one_shard(
    marble: Marble, dataset: str, tmp_path: Path
) -> None:
    table = points(32)
    await marble(lambda c: c.datasets.upload(dataset, write_csv(table, tmp_path / "in.csv")))
    parquet = await marble(lambda c: c.datasets.download(dataset, None, tmp_path / "out.parquet"))
    assert pq.read_table(parquet).equals(table)
    as_csv = await marble(lambda c: c.datasets.download(dataset, 1, tmp_path / "rows", "csv"))
    assert pa_csv.read_csv(as_csv).num_rows == 32
    shard = await marble(
        lambda c: c.datasets.download(
            dataset, 1, tmp_path / "shard.jsonl", num_shards=2, shard_index=0
        )
    )
    assert 0 < len(shard.read_text().splitlines()) < 32
    with pytest.raises(ValidationFailed) as unknown:
        await marble(lambda c: c.datasets.download(dataset, 1, tmp_path / "out.xlsx"))
    assert "parquet" in unknown.value.detail
    with pytest.raises(NotFound):
        await marble(lambda c: c.datasets.download(dataset, 9, tmp_path / "none.parquet"))
    assert not (tmp_path / "none.parquet").exists()


async def test_upload_refusals_carry_the_detail(
    marble: Marble, dataset: str, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text("x1,x2,label\n0.1,0.2,1\n0.3\n")
    with pytest.raises(ValidationFailed) as malformed:
        await marble(lambda c: c.datasets.upload(dataset, broken))
    assert "line 3" in malformed.value.detail and malformed.value.status == 422
    with pytest.raises(ValidationFailed) as suffix:
        await marble(lambda c: c.datasets.upload(dataset, tmp_path / "data.xlsx"))
    assert "'.xlsx'" in suffix.value.detail
    reader = marble.new_client(scope="read")
    good = write_csv(points(8), tmp_path / "good.csv")
    with pytest.raises(Forbidden) as refused:
        await marble.run(lambda c: c.datasets.upload(dataset, good), reader)
    assert refused.value.required_scope == "train"


async def test_apply_sends_a_saved_diff_directory_onto_its_parent(
    marble: Marble, dataset: str, tmp_path: Path
) -> None:
    table = points(40)
    await marble(
        lambda c: c.datasets.upload(dataset, write_csv(table.slice(0, 30), tmp_path / "a.csv"))
    )
    second = await marble(
        lambda c: c.datasets.upload(
            dataset, write_csv(table.slice(5), tmp_path / "b.csv"), parent=1
        )
    )
    # The diff as `marble dataset diff --out` writes it, from the server's own rows.
    rows = [
        pq.read_table(
            await marble(lambda c, v=v: c.datasets.download(dataset, v, tmp_path / f"v{v}.parquet"))
        )
        for v in (1, 2)
    ]
    changes = diff_rows(rows[0], rows[1])
    summary = {"base_hash": changes.base_hash, "target_hash": changes.target_hash}
    save_diff(changes, tmp_path / "d12", summary)

    applied = await marble(
        lambda c: c.datasets.apply(dataset, tmp_path / "d12", onto=1, note="again")
    )
    assert isinstance(applied, DatasetVersion)
    assert (applied.version, applied.parent, applied.note) == (3, f"{dataset}@1", "again")
    assert applied.content_hash == second.content_hash and applied.created is True
    with pytest.raises(ValidationFailed) as elsewhere:
        await marble(lambda c: c.datasets.apply(dataset, str(tmp_path / "d12"), onto=2))
    assert "apply it to its parent" in elsewhere.value.detail
    assert changes.base_hash[:12] in elsewhere.value.detail
    with pytest.raises(ValidationFailed) as not_a_diff:
        await marble(lambda c: c.datasets.apply(dataset, tmp_path / "a.csv"))
    assert "marble dataset diff --out" in not_a_diff.value.detail


async def test_train_on_a_stored_version_then_infer_objects_and_lineage(
    marble: Marble, dataset: str, brain: str
) -> None:
    version = await marble(lambda c: c.datasets.upload(dataset, points(40).to_pandas()))
    created = await marble(lambda c: c.brains.create(brain, dataset=version.spec))
    assert created.neurons_by_kind["input"] == 2
    job = await marble(lambda c: c.train(brain, version.spec, epochs=1))
    final = await marble(lambda c: job.wait(timeout=300))
    assert final.succeeded and final.payload["dataset"] == version.spec

    answer = await marble(
        lambda c: c.infer(brain, objects=[{"x1": 2.0, "x2": 1.0}, {"x1": -2.0, "x2": -1.0}])
    )
    assert isinstance(answer, InferResult) and answer.version == 2
    assert answer.decoded is not None and len(answer.decoded) == 2
    assert set(answer.decoded) <= {0, 1}
    trained = await marble(lambda c: c.datasets.trained_brains(dataset, 1))
    assert trained == [TrainedBrain(brain=brain, version=2, graph_hash=trained[0].graph_hash)]
    with pytest.raises(ValidationFailed) as both:
        await marble(lambda c: c.infer(brain, [1.0, 2.0], objects=[{"x1": 1.0, "x2": 2.0}]))
    assert "either inputs" in both.value.detail


def test_bytes_objects_travel_as_base64() -> None:
    from marble_client._calls import infer

    call = infer("b", None, None, [{"image": b"\x00\xff"}, b"raw"])
    assert call.json["objects"] == [
        {"image": {"base64": base64.b64encode(b"\x00\xff").decode()}},
        {"base64": base64.b64encode(b"raw").decode()},
    ]
