"""/datasets over REST: uploads in every format, versions, diffs, tags, reverts, downloads,
limits and scopes, training on a stored version, and inference on raw objects."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from marble_graph.cli.dataset_cmd import save_diff
from tests.server.conftest import LiveApp, running_app

pytestmark = pytest.mark.anyio

CSV = "text/csv"
NDJSON = "application/x-ndjson"
PARQUET = "application/vnd.apache.parquet"


def points_table(rows: int = 48, seed: int = 3) -> pa.Table:
    """Two numeric inputs and a 0/1 label that depends on them (learnable, tiny)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 2)).round(4)
    label = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    return pa.table({"x1": x[:, 0], "x2": x[:, 1], "label": label})


def csv_bytes(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pa_csv.write_csv(table, out)
    return out.getvalue()


def parquet_bytes(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


async def upload(
    live: LiveApp,
    name: str,
    body: bytes,
    content_type: str = CSV,
    scope: str = "train",
    **params: Any,
) -> Any:
    return await live.client.post(
        f"/datasets/{name}",
        content=body,
        params=params,
        headers={**live.auth(scope), "Content-Type": content_type},
    )


async def created(live: LiveApp, name: str, body: bytes, **params: Any) -> dict[str, Any]:
    response = await upload(live, name, body, **params)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def _wait_for_job(live: LiveApp, job_id: str, timeout: float = 180) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job = (await live.client.get(f"/jobs/{job_id}", headers=live.auth("read"))).json()
        if job["state"] in {"succeeded", "failed", "cancelled", "interrupted"}:
            return job  # type: ignore[no-any-return]
        assert asyncio.get_running_loop().time() < deadline, f"job stuck in {job['state']}"
        await asyncio.sleep(0.05)


# -- uploads ------------------------------------------------------------------------


async def test_csv_upload_records_version_1_and_the_same_rows_again_answer_200(
    live: LiveApp,
) -> None:
    body = csv_bytes(points_table())
    first = await created(live, "points", body, target="label", note="first cut")
    assert first["dataset"] == "points" and first["version"] == 1 and first["created"] is True
    assert first["spec"] == "points@1" and first["n_rows"] == 48 and first["n_features"] == 2
    assert first["note"] == "first cut" and first["parent"] is None
    roles = {c["name"]: c.get("role") for c in first["columns"]}
    assert roles == {"x1": "input", "x2": "input", "label": "target"}

    again = await upload(live, "points", body, target="label")
    assert again.status_code == 200, again.text
    assert again.json()["created"] is False and again.json()["version"] == 1
    assert again.json()["content_hash"] == first["content_hash"]


async def test_jsonl_parquet_and_arrow_uploads_hold_the_same_rows(live: LiveApp) -> None:
    table = points_table(rows=20)
    lines = "".join(json.dumps(row) + "\n" for row in table.to_pylist()).encode()
    arrow = io.BytesIO()
    feather.write_feather(table, arrow, compression="uncompressed")
    answers = [
        await created(live, "as-jsonl", lines, content_type=NDJSON, target="label"),
        await created(live, "as-parquet", parquet_bytes(table), content_type=PARQUET),
        await created(
            live,
            "as-arrow",
            arrow.getvalue(),
            content_type="application/octet-stream",
            format="arrow",
        ),
    ]
    assert {a["n_rows"] for a in answers} == {20}
    # The row hash is over the rows themselves: three formats, one content.
    assert len({a["content_hash"] for a in answers}) == 1


async def test_jsonl_bytes_travel_as_base64_objects(live: LiveApp) -> None:
    rows = [
        {"blob": {"base64": base64.b64encode(bytes([i, 255 - i, 7])).decode()}, "target": i % 2}
        for i in range(12)
    ]
    body = "".join(json.dumps(r) + "\n" for r in rows).encode()
    answer = await created(live, "blobs", body, content_type=NDJSON)
    types = {c["name"]: c.get("type") for c in answer["columns"]}
    assert "binary" in str(types["blob"])
    download = await live.client.get(
        "/datasets/blobs/versions/1/rows", params={"format": "jsonl"}, headers=live.auth("read")
    )
    assert download.status_code == 200, download.text
    first = json.loads(download.text.splitlines()[0])
    assert base64.b64decode(first["blob"]["base64"]) == bytes([0, 255, 7])


async def test_upload_with_a_parent_and_encoders(live: LiveApp) -> None:
    texts = pa.table(
        {
            "review": [f"{'good' if i % 2 else 'bad'} film number {i}" for i in range(16)],
            "target": [i % 2 for i in range(16)],
        }
    )
    first = await created(live, "reviews", csv_bytes(texts))
    encoders = json.dumps({"review": {"kind": "text", "options": {"width": 16}}})
    second = await created(
        live, "reviews", csv_bytes(texts.slice(0, 12)), parent="1", encoders=encoders
    )
    assert second["parent"] == "reviews@1" and second["version"] == 2
    assert second["n_features"] == 16 != first["n_features"]

    bad = await upload(live, "reviews", csv_bytes(texts), encoders="{not json")
    assert bad.status_code == 422 and "encoders: not valid JSON" in bad.json()["detail"]
    shape = await upload(live, "reviews", csv_bytes(texts), encoders='{"review": "text"}')
    assert shape.status_code == 422 and "encoders.review" in shape.json()["detail"]


async def test_malformed_csv_is_422_naming_the_line(live: LiveApp) -> None:
    body = b"x1,x2,label\n0.1,0.2,1\n0.3,0.4,0\n0.5,0.6\n0.7,0.8,1\n"
    response = await upload(live, "broken", body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "urn:marble:problem:validation-failed"
    assert "line 4" in problem["detail"] and "expected 3 fields" in problem["detail"]


async def test_format_needs_a_known_content_type_or_the_format_parameter(live: LiveApp) -> None:
    body = csv_bytes(points_table(rows=8))
    unknown = await upload(live, "typed", body, content_type="application/octet-stream")
    assert unknown.status_code == 415, unknown.text
    assert "format=" in unknown.json()["detail"]
    named = await upload(live, "typed", body, content_type="application/octet-stream", format="csv")
    assert named.status_code == 201, named.text
    # ?format= wins over a Content-Type (a tool's default, often): the file is not Parquet.
    wins = await upload(live, "typed", body, content_type=CSV, format="parquet")
    assert wins.status_code == 422 and "not a readable Parquet file" in wins.json()["detail"]
    empty = await upload(live, "typed", b"")
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]


async def test_uploading_needs_the_train_scope(live: LiveApp) -> None:
    refused = await upload(live, "scoped", csv_bytes(points_table()), scope="read")
    assert refused.status_code == 403
    assert refused.json()["required_scope"] == "train"
    listing = await live.client.get("/datasets", headers=live.auth("infer"))
    assert listing.status_code == 403


async def test_upload_over_the_limit_is_413_naming_it(tmp_path: Path) -> None:
    async with running_app(tmp_path / "home", max_upload_bytes=2048) as live:
        body = csv_bytes(points_table(rows=200))
        assert len(body) > 2048
        declared = await upload(live, "big", body)
        assert declared.status_code == 413, declared.text
        assert "2048" in declared.json()["detail"]
        assert "max_upload_bytes" in declared.json()["detail"]

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
            for start in range(0, len(body), 512):
                yield body[start : start + 512]

        streamed = await live.client.post(
            "/datasets/big",
            content=chunks(),
            headers={**live.auth("train"), "Content-Type": CSV},
        )
        assert streamed.status_code == 413, streamed.text
        assert streamed.json()["limit"] == 2048
        assert "max_upload_bytes" in streamed.json()["detail"]
        listing = await live.client.get("/datasets", headers=live.auth("read"))
        assert listing.json() == []
        # Under the limit the same route takes the file.
        small = await created(live, "small", csv_bytes(points_table(rows=8)))
        assert small["n_rows"] == 8


# -- reads, diffs, tags, reverts -----------------------------------------------------


async def test_list_versions_and_show_by_number_tag_and_latest(live: LiveApp) -> None:
    table = points_table()
    await created(live, "listed", csv_bytes(table.slice(0, 30)))
    await created(live, "listed", csv_bytes(table), parent="1")
    tagged = await live.client.post(
        "/datasets/listed/versions/1/tags", json={"tag": "stable"}, headers=live.auth("train")
    )
    assert tagged.status_code == 201 and tagged.json()["tags"] == ["stable"]

    listing = (await live.client.get("/datasets", headers=live.auth("read"))).json()
    assert [(d["name"], d["versions"], d["latest_version"]) for d in listing] == [("listed", 2, 2)]
    versions = (
        await live.client.get("/datasets/listed/versions", headers=live.auth("read"))
    ).json()
    assert [(v["version"], v["n_rows"], v["parent"]) for v in versions] == [
        (1, 30, None),
        (2, 48, "listed@1"),
    ]
    for ref, number in (("2", 2), ("stable", 1), ("latest", 2)):
        shown = await live.client.get(f"/datasets/listed/versions/{ref}", headers=live.auth("read"))
        assert shown.status_code == 200 and shown.json()["version"] == number


async def test_unknown_version_is_404_naming_the_versions_and_tags(live: LiveApp) -> None:
    await created(live, "known", csv_bytes(points_table()))
    await live.client.post(
        "/datasets/known/versions/1/tags", json={"tag": "gold"}, headers=live.auth("train")
    )
    missing = await live.client.get("/datasets/known/versions/7", headers=live.auth("read"))
    assert missing.status_code == 404
    detail = missing.json()["detail"]
    assert "'7'" in detail and "versions: 1" in detail and "tags: gold" in detail
    unknown = await live.client.get("/datasets/nothing/versions", headers=live.auth("read"))
    assert unknown.status_code == 404 and "unknown dataset 'nothing'" in unknown.json()["detail"]


async def test_duplicate_tag_is_409_naming_the_tag_and_untag_frees_it(live: LiveApp) -> None:
    table = points_table()
    await created(live, "tagged", csv_bytes(table.slice(0, 20)))
    await created(live, "tagged", csv_bytes(table))
    path = "/datasets/tagged/versions/{}/tags"
    first = await live.client.post(path.format(1), json={"tag": "prod"}, headers=live.auth("train"))
    assert first.status_code == 201
    twice = await live.client.post(path.format(2), json={"tag": "prod"}, headers=live.auth("train"))
    assert twice.status_code == 409
    assert "'prod'" in twice.json()["detail"] and "version 1" in twice.json()["detail"]
    bad = await live.client.post(path.format(2), json={"tag": "9lives"}, headers=live.auth("train"))
    assert bad.status_code == 422

    removed = await live.client.delete("/datasets/tagged/tags/prod", headers=live.auth("train"))
    assert removed.status_code == 204
    moved = await live.client.post(path.format(2), json={"tag": "prod"}, headers=live.auth("train"))
    assert moved.status_code == 201 and moved.json()["version"] == 2
    gone = await live.client.delete("/datasets/tagged/tags/nope", headers=live.auth("train"))
    assert gone.status_code == 404 and "tags: prod" in gone.json()["detail"]


async def test_diff_counts_rows_and_lists_them_as_json(live: LiveApp) -> None:
    table = points_table(rows=10)
    await created(live, "diffed", csv_bytes(table.slice(0, 8)))
    changed = pa.concat_tables([table.slice(2, 8), table.slice(2, 1)])  # drop 2, add 2 + a repeat
    await created(live, "diffed", csv_bytes(changed))
    response = await live.client.get(
        "/datasets/diffed/diff", params={"from": "1", "to": "2"}, headers=live.auth("read")
    )
    assert response.status_code == 200, response.text
    diff = response.json()
    assert (diff["from"], diff["to"]) == ("diffed@1", "diffed@2")
    assert (diff["added"], diff["removed"]) == (3, 2)
    assert len(diff["added_rows"]) == 3 and len(diff["removed_rows"]) == 2
    removed = {(r["x1"], r["x2"]) for r in diff["removed_rows"]}
    assert removed == {(r["x1"], r["x2"]) for r in table.slice(0, 2).to_pylist()}
    limited = await live.client.get(
        "/datasets/diffed/diff",
        params={"from": "1", "to": "2", "limit": 1},
        headers=live.auth("read"),
    )
    assert len(limited.json()["added_rows"]) == 1 and limited.json()["added"] == 3


async def test_revert_makes_a_new_version_with_the_parents_rows(live: LiveApp) -> None:
    table = points_table()
    first = await created(live, "reverted", csv_bytes(table.slice(0, 40)))
    await created(live, "reverted", csv_bytes(table), parent="1")
    response = await live.client.post(
        "/datasets/reverted/versions/2/revert",
        json={"note": "undo the extra rows"},
        headers=live.auth("train"),
    )
    assert response.status_code == 201, response.text
    reverted = response.json()
    assert reverted["version"] == 3 and reverted["created"] is True
    assert reverted["content_hash"] == first["content_hash"]
    assert reverted["note"] == "undo the extra rows"
    refused = await live.client.post(
        "/datasets/reverted/versions/2/revert", headers=live.auth("read")
    )
    assert refused.status_code == 403


async def test_apply_a_saved_diff_onto_its_parent_and_refuse_it_elsewhere(
    live: LiveApp, tmp_path: Path
) -> None:
    table = points_table()
    await created(live, "applied", csv_bytes(table.slice(0, 40)))
    second = await created(live, "applied", csv_bytes(table.slice(4)), parent="1")
    changes, _, _ = live.state.service.diff_datasets("applied", "1", "2")
    hashes = {"base_hash": changes.base_hash, "target_hash": changes.target_hash}
    save_diff(changes, tmp_path / "d12", {"added": changes.n_added, **hashes})
    added = pq.read_table(tmp_path / "d12" / "added.parquet")
    removed = pq.read_table(tmp_path / "d12" / "removed.parquet")
    body = parquet_bytes(
        pa.concat_tables(
            [
                added.append_column("_side", pa.array(["added"] * added.num_rows)),
                removed.append_column("_side", pa.array(["removed"] * removed.num_rows)),
            ]
        )
    )

    async def apply(scope: str = "train", **params: Any) -> Any:
        return await live.client.post(
            "/datasets/applied/apply",
            content=body,
            params={**hashes, **params},
            headers={**live.auth(scope), "Content-Type": PARQUET},
        )

    onto_parent = await apply(onto="1", note="replayed")
    assert onto_parent.status_code == 201, onto_parent.text
    answer = onto_parent.json()
    assert answer["content_hash"] == second["content_hash"] and answer["version"] == 3
    assert (answer["parent"], answer["note"], answer["created"]) == ("applied@1", "replayed", True)

    elsewhere = await apply(onto="2")
    assert elsewhere.status_code == 422, elsewhere.text
    detail = elsewhere.json()["detail"]
    assert "apply it to its parent" in detail
    # Both hashes, shortened: the diff's base and version 2's rows.
    assert changes.base_hash[:12] in detail and second["content_hash"][:12] in detail
    unknown = await apply(onto="9")
    assert unknown.status_code == 404
    refused = await apply(scope="read", onto="1")
    assert refused.status_code == 403 and refused.json()["required_scope"] == "train"


async def test_rows_download_in_each_format_and_by_split_and_shard(live: LiveApp) -> None:
    table = points_table()
    await created(live, "exported", csv_bytes(table))
    url = "/datasets/exported/versions/1/rows"
    parquet = await live.client.get(url, headers=live.auth("read"))
    assert parquet.status_code == 200 and parquet.headers["content-type"] == PARQUET
    assert 'filename="exported-v1.parquet"' in parquet.headers["content-disposition"]
    assert pq.read_table(io.BytesIO(parquet.content)).equals(table)
    as_csv = await live.client.get(url, params={"format": "csv"}, headers=live.auth("read"))
    assert as_csv.headers["content-type"].startswith(CSV)
    assert pa_csv.read_csv(io.BytesIO(as_csv.content)).num_rows == 48
    as_jsonl = await live.client.get(url, params={"format": "jsonl"}, headers=live.auth("read"))
    assert len(as_jsonl.text.splitlines()) == 48

    def rows(response: Any) -> int:
        return int(pq.read_table(io.BytesIO(response.content)).num_rows)

    halves = [
        await live.client.get(
            url, params={"num_shards": 2, "shard_index": i}, headers=live.auth("read")
        )
        for i in (0, 1)
    ]
    assert rows(halves[0]) + rows(halves[1]) == 48 and min(map(rows, halves)) > 0
    train, test = [
        await live.client.get(url, params={"split": s}, headers=live.auth("read"))
        for s in ("train", "test")
    ]
    assert rows(train) + rows(test) == 48
    out_of_range = await live.client.get(
        url, params={"num_shards": 2, "shard_index": 2}, headers=live.auth("read")
    )
    assert out_of_range.status_code == 422 and "shard_index" in out_of_range.json()["detail"]


# -- training and inference on stored datasets ------------------------------------------


async def test_train_on_a_stored_version_then_lineage_and_object_inference(live: LiveApp) -> None:
    await created(live, "pts", csv_bytes(points_table()), target="label")
    brain = await live.client.post(
        "/brains", json={"name": "pointer", "dataset": "pts@1"}, headers=live.auth("train")
    )
    assert brain.status_code == 201, brain.text
    assert brain.json()["neurons_by_kind"]["input"] == 2

    job = await live.client.post(
        "/brains/pointer/train",
        json={"dataset": "pts@1", "epochs": 1},
        headers=live.auth("train"),
    )
    assert job.status_code == 202, job.text
    finished = await _wait_for_job(live, job.json()["id"])
    assert finished["state"] == "succeeded", finished["error"]
    assert finished["payload"]["dataset"] == "pts@1"

    trained = await live.client.get("/datasets/pts/versions/1/brains", headers=live.auth("read"))
    assert [(b["brain"], b["version"]) for b in trained.json()] == [("pointer", 2)]

    answer = await live.client.post(
        "/infer",
        json={"brain": "pointer", "objects": [{"x1": 1.5, "x2": 0.5}, {"x1": -1.0, "x2": -2.0}]},
        headers=live.auth("infer"),
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["version"] == 2 and len(result["outputs"]) == 2
    assert len(result["decoded"]) == 2 and set(result["decoded"]) <= {0, 1}
    assert result["decoded"] == result["labels"]  # the labels are 0 and 1 themselves
    pinned = await live.client.post(
        "/infer",
        json={"brain": "pointer", "objects": [{"x1": 1.5, "x2": 0.5}], "version": 2},
        headers=live.auth("infer"),
    )
    assert pinned.status_code == 200 and pinned.json()["version"] == 2
    seed = await live.client.post(
        "/infer",
        json={"brain": "pointer", "objects": [{"x1": 1.5, "x2": 0.5}], "version": 1},
        headers=live.auth("infer"),
    )
    assert seed.status_code == 422, seed.text
    assert "version 1 was not trained on a stored dataset" in seed.json()["detail"]

    both = await live.client.post(
        "/infer",
        json={"brain": "pointer", "objects": [{"x1": 1.0, "x2": 1.0}], "inputs": [[1.0, 1.0]]},
        headers=live.auth("infer"),
    )
    assert both.status_code == 422 and "either inputs" in both.json()["detail"]
    missing = await live.client.post(
        "/infer",
        json={"brain": "pointer", "objects": [{"x1": 1.0}]},
        headers=live.auth("infer"),
    )
    assert missing.status_code == 422 and "x2" in missing.json()["detail"]


async def test_a_bare_stored_name_trains_on_its_latest_version_pinned_at_submission(
    live: LiveApp,
) -> None:
    table = points_table()
    await created(live, "grow", csv_bytes(table.slice(0, 40)))
    await created(live, "grow", csv_bytes(table))
    await live.client.post(
        "/brains", json={"name": "grower", "dataset": "grow"}, headers=live.auth("train")
    )
    job = await live.client.post(
        "/brains/grower/train", json={"dataset": "grow", "epochs": 1}, headers=live.auth("train")
    )
    assert job.status_code == 202, job.text
    assert job.json()["payload"]["dataset"] == "grow@2"
    assert (await _wait_for_job(live, job.json()["id"]))["state"] == "succeeded"

    unknown = await live.client.post(
        "/brains/grower/train", json={"dataset": "nowhere"}, headers=live.auth("train")
    )
    assert unknown.status_code == 404
    assert "unknown dataset 'nowhere'" in unknown.json()["detail"]
    assert "neither a built-in dataset" in unknown.json()["detail"]
    no_version = await live.client.post(
        "/brains/grower/train", json={"dataset": "grow@9"}, headers=live.auth("train")
    )
    assert no_version.status_code == 404 and "versions: 1, 2" in no_version.json()["detail"]


async def test_objects_need_a_brain_trained_on_a_stored_dataset(live_with_brain: LiveApp) -> None:
    live = live_with_brain
    answer = await live.client.post(
        "/infer", json={"brain": "wave", "objects": [0.5]}, headers=live.auth("infer")
    )
    assert answer.status_code == 422, answer.text
    assert "not trained on a stored dataset" in answer.json()["detail"]
    bad_bytes = await live.client.post(
        "/infer",
        json={"brain": "wave", "objects": [{"base64": "@@"}]},
        headers=live.auth("infer"),
    )
    assert bad_bytes.status_code == 422 and "objects[0]" in bad_bytes.json()["detail"]
