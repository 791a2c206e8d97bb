"""Bad input gets a 4xx problem that names the fault, and leaves both stores unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.conftest import LiveApp

pytestmark = pytest.mark.anyio


async def _snapshot(live: LiveApp) -> dict[str, Any]:
    service = live.state.service
    return {
        "brains": [b.as_dict() for b in service.list_brains()],
        "hash": service.stored_graph_hash("wave"),
        "jobs": live.state.jobs.counts_by_state(),
    }


@pytest.mark.parametrize(
    ("path", "body", "status", "names"),
    [
        ("/infer", b"{not json", 400, "not valid JSON"),
        ("/infer", b'{"brain": "wave", "inputs": "abc"}', 422, "inputs"),
        ("/infer", b'{"brain": 5, "inputs": [1.0]}', 422, "brain"),
        ("/infer", b'{"brain": "wave", "inputs": [[1.0, 2.0]]}', 422, "expected 1 features, got 2"),
        ("/infer", b'{"brain": "wave", "inputs": [NaN]}', 422, "finite number"),
        ("/infer", b'{"brain": "wave", "inputs": [[Infinity]]}', 422, "finite number"),
        ("/infer", b'{"brain": "wave", "inputs": []}', 422, "input"),
        ("/infer", b'{"brain": "ghost", "inputs": [1.0]}', 404, "unknown brain 'ghost'"),
        ("/infer", b'{"brain": "wave", "inputs": [1.0], "extra": 1}', 422, "extra"),
        ("/infer", b'{"brain": "wave", "inputs": [1.0], "version": 99}', 404, "version 99"),
        ("/brains/wave/train", b'{"dataset": "/etc/passwd"}', 422, "file paths are refused"),
        ("/brains/wave/train", b'{"dataset": "digits"}', 422, "input width mismatch"),
        ("/brains/wave/train", b'{"dataset": "sine", "epochs": 0}', 422, "epochs"),
        ("/brains/ghost/train", b'{"dataset": "sine"}', 404, "ghost"),
        ("/brains/wave/dream", b'{"cycles": 0}', 422, "cycles"),
        ("/brains/wave/dream", b'{"cycles": 100001}', 422, "cycles"),
        ("/brains/wave/dream", b'{"cycles": 2.5}', 422, "cycles"),
        ("/brains/ghost/dream", b"{}", 404, "ghost"),
        ("/brains", b'{"name": "9bad name"}', 422, "name"),
        ("/brains", b'{"name": "wave", "dataset": "sine"}', 409, "already exists"),
        ("/brains", b'{"name": "x", "dataset": "nosuch"}', 404, "unknown dataset 'nosuch'"),
        ("/brains/wave/train", b'{"dataset": "data.csv"}', 404, "file paths are refused"),
        ("/brains/wave/train", b'{"dataset": "nosuch@2"}', 404, "unknown dataset 'nosuch'"),
        ("/brains", b'{"name": "x", "dataset": "/etc/hosts"}', 422, "file paths are refused"),
    ],
)
async def test_bad_post_is_4xx_naming_the_fault_and_changes_nothing(
    live_with_brain: LiveApp, path: str, body: bytes, status: int, names: str
) -> None:
    live = live_with_brain
    before = await _snapshot(live)
    response = await live.client.post(
        path, content=body, headers={**live.auth("admin"), "content-type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].startswith("urn:marble:problem:")
    assert problem["status"] == status
    assert names in problem["detail"], problem["detail"]
    assert await _snapshot(live) == before


async def test_oversized_body_is_413_and_changes_nothing(live_with_brain: LiveApp) -> None:
    live = live_with_brain
    before = await _snapshot(live)
    limit = live.state.settings.max_body_bytes
    rows = b"[" + b",".join([b"[0.5]"] * (limit // 5 + 10)) + b"]"
    body = b'{"brain": "wave", "inputs": ' + rows + b"}"
    response = await live.client.post(
        "/infer", content=body, headers={**live.auth("infer"), "content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["type"] == "urn:marble:problem:payload-too-large"
    assert str(limit) in response.json()["detail"]
    assert await _snapshot(live) == before


async def test_chunked_oversized_body_is_413(live_with_brain: LiveApp) -> None:
    live = live_with_brain
    limit = live.state.settings.max_body_bytes

    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"brain": "wave", "inputs": ['
        for _ in range(limit // 50_000 + 2):
            yield b"0.5," * 12_500
        yield b"0.5]}"

    response = await live.client.post(
        "/infer",
        content=chunks(),
        headers={**live.auth("infer"), "content-type": "application/json"},
    )
    assert response.status_code == 413


async def test_unknown_route_and_method_are_problem_json(live_with_brain: LiveApp) -> None:
    live = live_with_brain
    missing = await live.client.get("/nowhere", headers=live.auth("read"))
    assert missing.status_code == 404
    assert missing.json()["type"] == "urn:marble:problem:not-found"
    wrong_method = await live.client.put("/brains", headers=live.auth("read"))
    assert wrong_method.status_code == 405
    assert wrong_method.json()["type"] == "urn:marble:problem:method-not-allowed"


async def test_unknown_job_and_table_are_named(live_with_brain: LiveApp) -> None:
    live = live_with_brain
    job = await live.client.get("/jobs/nope", headers=live.auth("read"))
    assert job.status_code == 404
    assert "'nope'" in job.json()["detail"]
    graph = await live.client.get(
        "/brains/wave/graph?tables=neurons,axons", headers=live.auth("read")
    )
    assert graph.status_code == 422
    assert "'axons'" in graph.json()["detail"]
    state = await live.client.get("/jobs?state=sleeping", headers=live.auth("read"))
    assert state.status_code == 422
    assert "'sleeping'" in state.json()["detail"]
