"""Brain history over REST and GraphQL: list, show, diff, tag, untag, roll back, serve a version."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from marble_graph.config import config_from_mapping
from tests.server.conftest import LiveApp, running_app, server_config

pytestmark = pytest.mark.anyio

ROWS = [[-0.5], [0.0], [0.25], [0.9]]


@pytest.fixture
async def history(tmp_path: Path) -> AsyncIterator[LiveApp]:
    """A server whose brain ``wave`` has versions 1-3 (two one-epoch trainings)."""
    async with running_app(tmp_path / "marble-data") as live:
        await _create_and_train(live, "wave", trainings=2)
        yield live


@pytest.fixture
async def short_history(tmp_path: Path) -> AsyncIterator[LiveApp]:
    """A server keeping one version per brain (versions.keep: 1); ``wave`` is at version 3."""
    mapping = server_config().model_dump(mode="json")
    config = config_from_mapping({**mapping, "versions": {"keep": 1}})
    async with running_app(tmp_path / "marble-data", config) as live:
        await _create_and_train(live, "wave", trainings=2)
        yield live


async def _create_and_train(live: LiveApp, name: str, trainings: int) -> None:
    response = await live.client.post(
        "/brains", json={"name": name, "dataset": "sine"}, headers=live.auth("train")
    )
    assert response.status_code == 201, response.text
    for _ in range(trainings):
        await asyncio.to_thread(live.state.service.train, name, "sine", epochs=1)


async def _get(live: LiveApp, path: str, scope: str = "read", status: int = 200) -> Any:
    response = await live.client.get(path, headers=live.auth(scope))
    assert response.status_code == status, response.text
    return response.json()


async def _post(
    live: LiveApp, path: str, body: dict[str, Any], scope: str = "train", status: int = 200
) -> Any:
    response = await live.client.post(path, json=body, headers=live.auth(scope))
    assert response.status_code == status, response.text
    return response.json()


async def _infer(live: LiveApp, version: int | str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"brain": "wave", "inputs": ROWS}
    if version is not None:
        body["version"] = version
    answer: dict[str, Any] = await _post(live, "/infer", body, scope="infer")
    return answer


async def test_rest_lists_tags_diffs_and_rolls_back_bit_for_bit(history: LiveApp) -> None:
    live = history
    listed = await _get(live, "/brains/wave/versions")
    assert [(v["version"], v["current"], v["collected"]) for v in listed] == [
        (1, False, False),
        (2, False, False),
        (3, True, False),
    ]
    tagged = await _post(live, "/brains/wave/versions/2/tags", {"tag": "good"}, status=201)
    assert tagged["version"] == 2 and tagged["tags"] == ["good"]
    shown = await _get(live, "/brains/wave/versions/good")
    assert shown["version"] == 2 and shown["graph_hash"] == listed[1]["graph_hash"]

    diff = await _get(live, "/brains/wave/versions/1/diff/good")
    assert diff["a"]["version"] == 1 and diff["b"]["version"] == 2
    assert diff["weights"]["compared"] == diff["synapses"]["common"] > 0
    assert diff["weights"]["changed"] > 0 and diff["weights"]["max_abs_change"] > 0

    served_2 = await _infer(live, 2)
    assert served_2["version"] == 2
    assert (await _infer(live, "good"))["outputs"] == served_2["outputs"]
    assert (await _infer(live))["version"] == 3

    brain = await _post(live, "/brains/wave/rollback", {"version": "good"})
    assert brain["version"] == 4 and brain["graph_hash"] == listed[1]["graph_hash"]
    current = await _infer(live)
    assert current["version"] == 4 and current["outputs"] == served_2["outputs"]
    record = await _get(live, "/brains/wave/versions/4")
    assert record["note"] == "rollback to version 2"
    assert record["metrics"]["rolled_back_from"] == 3

    untagged = await live.client.delete("/brains/wave/tags/good", headers=live.auth("train"))
    assert untagged.status_code == 200 and untagged.json()["version"] == 2
    assert untagged.json()["tags"] == []


async def test_history_mistakes_are_problems_never_server_errors(history: LiveApp) -> None:
    live = history
    unknown = await _get(live, "/brains/wave/versions/9", status=404)
    assert unknown["type"] == "urn:marble:problem:not-found"
    assert "no version 9 (versions: 1-3; tags: none)" in unknown["detail"]
    no_tag = await _get(live, "/brains/wave/versions/best/diff/1", status=404)
    assert "no version or tag 'best'" in no_tag["detail"]
    await _post(live, "/brains/wave/versions/1/tags", {"tag": "seed"}, status=201)
    taken = await _post(live, "/brains/wave/versions/2/tags", {"tag": "seed"}, status=409)
    assert "already has tag 'seed', on version 1" in taken["detail"]
    bad_tag = await _post(live, "/brains/wave/versions/2/tags", {"tag": "2nd"}, status=422)
    assert bad_tag["type"] == "urn:marble:problem:validation-failed"
    await _post(live, "/brains/wave/rollback", {"version": True}, status=422)
    await _post(live, "/brains/wave/rollback", {"version": 12}, status=404)
    await _post(live, "/brains/nope/rollback", {"version": 1}, status=404)
    missing = await live.client.delete("/brains/wave/tags/none-such", headers=live.auth("train"))
    assert missing.status_code == 404
    # Reads need `read`; tags and rollbacks need `train`.
    await _post(live, "/brains/wave/versions/2/tags", {"tag": "x"}, scope="read", status=403)
    await _post(live, "/brains/wave/rollback", {"version": 1}, scope="infer", status=403)
    await _get(live, "/brains/wave/versions/1", scope="infer", status=403)
    unpinned = await _post(
        live, "/infer", {"brain": "wave", "inputs": ROWS, "version": "nope"}, "infer", 404
    )
    assert "no version or tag 'nope'" in unpinned["detail"]


async def test_a_collected_version_is_a_clear_404(short_history: LiveApp) -> None:
    live = short_history
    listed = await _get(live, "/brains/wave/versions")
    assert [(v["version"], v["collected"]) for v in listed] == [(1, True), (2, True), (3, False)]
    for response in (
        await live.client.get("/brains/wave/versions/1/diff/3", headers=live.auth("read")),
        await live.client.post(
            "/brains/wave/rollback", json={"version": 2}, headers=live.auth("train")
        ),
        await live.client.post(
            "/infer",
            json={"brain": "wave", "inputs": ROWS, "version": 1},
            headers=live.auth("infer"),
        ),
    ):
        assert response.status_code == 404, response.text
        problem = response.json()
        assert problem["type"] == "urn:marble:problem:version-collected"
        assert (
            "versions.keep: 1" in problem["detail"] and "Retained versions: 3" in problem["detail"]
        )
    assert (await _get(live, "/brains/wave/versions/1"))["collected"] is True


async def _graphql(
    live: LiveApp, query: str, variables: dict[str, Any] | None = None, scope: str = "read"
) -> dict[str, Any]:
    response = await live.client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=live.auth(scope)
    )
    body: dict[str, Any] = response.json()
    return body


async def test_graphql_diffs_tags_serves_and_rolls_back(history: LiveApp) -> None:
    live = history
    diff = await _graphql(
        live,
        '{ versionDiff(brain: "wave", a: 1, b: "3") { a { version } b { version } '
        "neurons { added removed } synapses { common } weights { compared changed } } }",
    )
    assert "errors" not in diff, diff
    found = diff["data"]["versionDiff"]
    assert (found["a"]["version"], found["b"]["version"]) == (1, 3)
    assert found["weights"]["compared"] == found["synapses"]["common"]

    tag = 'mutation { tagVersion(brain: "wave", version: 2, tag: "good") { version tags } }'
    tagged = await _graphql(live, tag, scope="train")
    assert tagged["data"]["tagVersion"] == {"version": 2, "tags": ["good"]}
    again = await _graphql(live, tag, scope="train")
    assert again["errors"][0]["extensions"]["code"] == "CONFLICT"

    infer = """mutation($tag: String, $version: Int) {
      infer(brain: "wave", inputs: [[0.25]], tag: $tag, version: $version) { version outputs } }"""
    by_tag = (await _graphql(live, infer, {"tag": "good"}, scope="infer"))["data"]["infer"]
    by_number = (await _graphql(live, infer, {"version": 2}, scope="infer"))["data"]["infer"]
    assert by_tag == by_number and by_tag["version"] == 2
    both = await _graphql(live, infer, {"tag": "good", "version": 2}, scope="infer")
    assert both["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    rolled = await _graphql(
        live,
        'mutation { rollbackBrain(brain: "wave", version: "good") { version graphHash } }',
        scope="train",
    )
    v2 = await _graphql(live, '{ brainVersion(brain: "wave", version: 2) { graphHash } }')
    assert rolled["data"]["rollbackBrain"]["version"] == 4
    assert rolled["data"]["rollbackBrain"]["graphHash"] == v2["data"]["brainVersion"]["graphHash"]
    current = (await _graphql(live, infer, {}, scope="infer"))["data"]["infer"]
    assert current == {**by_tag, "version": 4}

    versions = await _graphql(
        live, '{ brain(name: "wave") { versions { version tags current collected } } }'
    )
    assert versions["data"]["brain"]["versions"][-1] == {
        "version": 4,
        "tags": [],
        "current": True,
        "collected": False,
    }
    unknown = await _graphql(live, '{ versionDiff(brain: "wave", a: 1, b: 99) { brain } }')
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    refused = await _graphql(
        live, 'mutation { rollbackBrain(brain: "wave", version: 1) { version } }', scope="read"
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
