"""Stored datasets over GraphQL: queries, diffs, tags and reverts, training on a stored
version, and lineage from a brain version (``trainedOn``) to the dataset versions that
trained it and their parents (``derivedFrom``)."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

from tests.server.graphql.conftest import GraphQLClient

pytestmark = pytest.mark.anyio

TRAIN = """mutation($brain: String!, $dataset: String!) {
  train(brain: $brain, dataset: $dataset, epochs: 1) { id payload } }"""
JOB = "query($id: ID!) { job(id: $id) { state error } }"
LINEAGE = """query($brain: String!, $version: VersionRef!) {
  brainVersion(brain: $brain, version: $version) {
    version
    trainedOn { spec parent derivedFrom { spec } trainedBrains { brain version } } } }"""
VERSION_FIELDS = "dataset version spec contentHash nRows nFeatures columns parent tags note"


def points_csv(rows: int, seed: int = 5) -> bytes:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 2)).round(4)
    table = pa.table({"x1": x[:, 0], "x2": x[:, 1], "label": (x.sum(axis=1) > 0).astype(int)})
    out = io.BytesIO()
    pa_csv.write_csv(table, out)
    return out.getvalue()


async def upload(gql: GraphQLClient, name: str, body: bytes, **params: str) -> dict[str, Any]:
    live = gql.live
    response = await live.client.post(
        f"/datasets/{name}",
        content=body,
        params=params,
        headers={**live.auth("train"), "Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def train(gql: GraphQLClient, brain: str, dataset: str) -> dict[str, Any]:
    job = (await gql.data(TRAIN, {"brain": brain, "dataset": dataset}, scope="train"))["train"]
    for _ in range(3600):
        state = (await gql.data(JOB, {"id": job["id"]}))["job"]
        if state["state"] not in {"queued", "running"}:
            assert state["state"] == "succeeded", state["error"]
            return dict(job["payload"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job['id']} never finished")


async def test_lineage_leads_from_brain_versions_to_their_data_and_its_parents(
    gql: GraphQLClient,
) -> None:
    await upload(gql, "pts", points_csv(40))
    await upload(gql, "pts", points_csv(56), parent="1")
    service, config = gql.live.state.service, gql.live.state.config
    await asyncio.to_thread(service.create_brain_for_dataset, "traced", "pts@2", config)

    assert (await train(gql, "traced", "pts@2"))["dataset"] == "pts@2"
    first = (await gql.data(LINEAGE, {"brain": "traced", "version": 2}))["brainVersion"]
    assert first["version"] == 2
    assert first["trainedOn"] == [
        {
            "spec": "pts@2",
            "parent": "pts@1",
            "derivedFrom": [{"spec": "pts@1"}],
            "trainedBrains": [{"brain": "traced", "version": 2}],
        }
    ]

    revert = """mutation { revertDataset(name: "pts", ref: "2", note: "back to 40 rows") {
      spec parent nRows note } }"""
    reverted = (await gql.data(revert, scope="train"))["revertDataset"]
    assert reverted == {"spec": "pts@3", "parent": "pts@2", "nRows": 40, "note": "back to 40 rows"}
    # A bare name trains on the latest version, pinned when the job is queued.
    assert (await train(gql, "traced", "pts"))["dataset"] == "pts@3"

    second = (await gql.data(LINEAGE, {"brain": "traced", "version": 3}))["brainVersion"]
    assert [d["spec"] for d in second["trainedOn"]] == ["pts@3", "pts@2"]
    assert [p["spec"] for p in second["trainedOn"][0]["derivedFrom"]] == ["pts@2", "pts@1"]
    assert second["trainedOn"][0]["trainedBrains"] == [{"brain": "traced", "version": 3}]
    # An earlier version's lineage stops at what had trained it then.
    earlier = (await gql.data(LINEAGE, {"brain": "traced", "version": 2}))["brainVersion"]
    assert [d["spec"] for d in earlier["trainedOn"]] == ["pts@2"]
    untrained = (await gql.data(LINEAGE, {"brain": "traced", "version": 1}))["brainVersion"]
    assert untrained["trainedOn"] == []
    # The same lineage, version by version, from the brain itself.
    listed = await gql.data('{ brain(name: "traced") { versions { version trainedOn { spec } } } }')
    assert [
        (v["version"], [d["spec"] for d in v["trainedOn"]]) for v in listed["brain"]["versions"]
    ] == [(1, []), (2, ["pts@2"]), (3, ["pts@3", "pts@2"])]

    missing = await gql.error(LINEAGE, {"brain": "traced", "version": 9})
    assert missing["extensions"]["code"] == "NOT_FOUND"
    unknown = await gql.error(LINEAGE, {"brain": "nobody", "version": 1})
    assert unknown["extensions"]["code"] == "NOT_FOUND"


async def test_datasets_versions_and_diff_queries(gql: GraphQLClient) -> None:
    await upload(gql, "rows", points_csv(12))
    await upload(gql, "rows", points_csv(12)[: points_csv(12).rindex(b"\n", 0, -1) + 1])
    data = await gql.data(
        """{ datasets { name versionCount latestVersion }
             dataset(name: "rows") {
               name versions { version nRows } version(ref: "1") { spec } } }"""
    )
    assert {"name": "rows", "versionCount": 2, "latestVersion": 2} in data["datasets"]
    assert data["dataset"]["versions"] == [
        {"version": 1, "nRows": 12},
        {"version": 2, "nRows": 11},
    ]
    assert data["dataset"]["version"] == {"spec": "rows@1"}

    version = await gql.data(f'{{ datasetVersion(name: "rows") {{ {VERSION_FIELDS} }} }}')
    shown = version["datasetVersion"]
    assert (shown["spec"], shown["nRows"], shown["nFeatures"], shown["tags"]) == (
        "rows@2",
        11,
        2,
        [],
    )
    assert [c["name"] for c in shown["columns"]] == ["x1", "x2", "label"]

    diff = await gql.data(
        """{ datasetDiff(name: "rows", from: "1", to: "2", limit: 5) {
             from { spec } to { spec } added removed addedRows removedRows baseHash } }"""
    )
    changes = diff["datasetDiff"]
    assert (changes["from"]["spec"], changes["to"]["spec"]) == ("rows@1", "rows@2")
    assert (changes["added"], changes["removed"]) == (0, 1)
    assert changes["addedRows"] == [] and set(changes["removedRows"][0]) == {"x1", "x2", "label"}

    too_many = await gql.error(
        '{ datasetDiff(name: "rows", from: "1", to: "2", limit: 5000) { added } }'
    )
    assert too_many["extensions"]["code"] == "BAD_USER_INPUT"
    unknown = await gql.error('{ datasetVersion(name: "rows", ref: "7") { spec } }')
    assert unknown["extensions"]["code"] == "NOT_FOUND"
    assert "versions: 1, 2" in unknown["message"]
    assert (await gql.error('{ dataset(name: "none") { name } }'))["extensions"]["code"] == (
        "NOT_FOUND"
    )


async def test_tag_untag_and_their_errors(gql: GraphQLClient) -> None:
    await upload(gql, "tagme", points_csv(10))
    tag = 'mutation { tagDataset(name: "tagme", ref: "1", tag: "gold") { spec tags } }'
    assert (await gql.data(tag, scope="train"))["tagDataset"] == {
        "spec": "tagme@1",
        "tags": ["gold"],
    }
    twice = await gql.error(tag, scope="train")
    assert twice["extensions"]["code"] == "CONFLICT" and "'gold'" in twice["message"]
    forbidden = await gql.error(tag, scope="read")
    assert forbidden["extensions"]["code"] == "FORBIDDEN"
    by_tag = await gql.data('{ datasetVersion(name: "tagme", ref: "gold") { version } }')
    assert by_tag["datasetVersion"]["version"] == 1

    untag = 'mutation { untagDataset(name: "tagme", tag: "gold") }'
    assert (await gql.data(untag, scope="train"))["untagDataset"] is True
    again = await gql.error(untag, scope="train")
    assert again["extensions"]["code"] == "NOT_FOUND"
    bad = await gql.error(
        'mutation { tagDataset(name: "tagme", ref: "1", tag: "1x") { spec } }', scope="train"
    )
    assert bad["extensions"]["code"] == "BAD_USER_INPUT"
