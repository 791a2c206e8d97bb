"""Memories over REST: remember, recall, look up, list, forget; bad input as problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.server.conftest import LiveApp, running_app

pytestmark = pytest.mark.anyio


async def test_remember_recall_lookup_list_and_forget(live_with_brain: LiveApp) -> None:
    live = live_with_brain
    train, read, infer = live.auth("train"), live.auth("read"), live.auth("infer")
    response = await live.client.post(
        "/brains/wave/memories",
        json={"inputs": [[0.1], [0.5], [0.9]], "values": ["a", "b", {"c": 1}]},
        headers=train,
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"brain": "wave", "ids": [0, 1, 2]}
    fact = await live.client.post(
        "/brains/wave/memories", json={"key": "capital", "value": "paris"}, headers=train
    )
    assert fact.json()["ids"] == [3]

    recalled = await live.client.post(
        "/brains/wave/memories/recall", json={"features": [0.9], "k": 2}, headers=infer
    )
    assert recalled.status_code == 200, recalled.text
    nearest = recalled.json()[0]
    assert (nearest["id"], nearest["value"], nearest["embedded"]) == (2, {"c": 1}, True)
    assert nearest["similarity"] == pytest.approx(1.0, abs=1e-5)
    exact = await live.client.post(
        "/brains/wave/memories/recall",
        json={"features": [0.9], "k": 2, "exact": True},
        headers=infer,
    )
    assert [m["id"] for m in exact.json()] == [m["id"] for m in recalled.json()]

    looked_up = await live.client.get("/brains/wave/memories/keys/capital", headers=read)
    assert [(m["id"], m["value"], m["embedded"]) for m in looked_up.json()] == [(3, "paris", False)]
    slashed = await live.client.post(
        "/brains/wave/memories", json={"key": "a/b </c>", "value": 1}, headers=train
    )
    assert slashed.status_code == 201, slashed.text
    for path in ("a%2Fb%20%3C%2Fc%3E", "a/b%20%3C/c%3E"):
        found = await live.client.get(f"/brains/wave/memories/keys/{path}", headers=read)
        assert found.status_code == 200, (path, found.text)
        assert [m["key"] for m in found.json()] == ["a/b </c>"]
    page = (await live.client.get("/brains/wave/memories?limit=2", headers=read)).json()
    assert (page["total"], page["next_before"]) == (5, 3)
    assert [m["id"] for m in page["memories"]] == [4, 3]

    forgot = await live.client.post(
        "/brains/wave/memories/forget", json={"keep_last": 1}, headers=train
    )
    assert forgot.json() == {"brain": "wave", "removed": 4}
    empty = await live.client.post(
        "/brains/wave/memories/recall", json={"features": [0.9]}, headers=infer
    )
    assert empty.status_code == 200 and empty.json() == []


async def test_bad_memory_input_is_a_problem_naming_it(live_with_brain: LiveApp) -> None:
    live = live_with_brain
    infer, read, train = live.auth("infer"), live.auth("read"), live.auth("train")
    missing = await live.client.get("/brains/wave/memories/keys/nope", headers=read)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "brain 'wave' has no memory with key 'nope'"

    wide = await live.client.post(
        "/brains/wave/memories/recall", json={"embedding": [1.0, 2.0, 3.0]}, headers=infer
    )
    assert wide.status_code == 422
    assert "embedding has 3 values; brain 'wave' embeds to" in wide.json()["detail"]

    k = await live.client.post(
        "/brains/wave/memories/recall", json={"features": [0.5], "k": 1001}, headers=infer
    )
    assert k.status_code == 422 and "k" in str(k.json()["errors"])
    two = await live.client.post(
        "/brains/wave/memories/recall",
        json={"features": [0.5], "embedding": [1.0]},
        headers=infer,
    )
    assert two.status_code == 422 and "exactly one query" in str(two.json()["errors"])
    rules = await live.client.post(
        "/brains/wave/memories/forget",
        json={"keep_last": 1, "older_than": "2025-01-01T00:00:00Z"},
        headers=train,
    )
    assert rules.status_code == 422
    assert "exactly one of older_than and keep_last" in str(rules.json()["errors"])
    unknown = await live.client.get("/brains/nobody/memories", headers=read)
    assert unknown.status_code == 404


async def test_memories_survive_a_server_restart(tmp_path: Path) -> None:
    home = tmp_path / "marble-data"
    async with running_app(home) as live:
        created = await live.client.post(
            "/brains", json={"name": "wave", "dataset": "sine"}, headers=live.auth("train")
        )
        assert created.status_code == 201
        await live.client.post(
            "/brains/wave/memories", json={"key": "k", "value": [1, 2]}, headers=live.auth("train")
        )
        forgot = await live.client.post(
            "/brains/wave/memories/forget",
            json={"older_than": "2000-01-01T00:00:00+00:00"},
            headers=live.auth("train"),
        )
        assert forgot.json()["removed"] == 0
    async with running_app(home) as restarted:
        found = await restarted.client.get(
            "/brains/wave/memories/keys/k", headers=restarted.auth("read")
        )
        assert found.status_code == 200 and found.json()[0]["value"] == [1, 2]
