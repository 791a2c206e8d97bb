"""POST /admin/backup and the GraphQL ``backup`` mutation, on a live app.

The acceptance test takes a backup while a training job runs and /infer is
under load, then restores it into a new home and checks it brain for brain.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marble_graph.data_home import DataHome
from marble_graph.service import BrainService
from marble_graph.tokens import Scope, TokenStore
from tests.server.conftest import LiveApp, server_config
from tests.server.test_jobs import _train, _wait_for
from tests.test_backup import restore_into

pytestmark = pytest.mark.anyio

ROWS = [[-0.5], [0.0], [0.25], [0.9]]
BACKUP = """mutation($destination: String!) {
  backup(destination: $destination) { path bytes blobs brains { name version graphHash } } }"""


async def _backup(live: LiveApp, name: str, scope: str = "admin") -> Any:
    return await live.client.post(
        "/admin/backup", json={"destination": name}, headers=live.auth(scope)
    )


async def test_backup_during_training_and_inference_restores_exactly(
    live_with_brain: LiveApp, tmp_path: Path
) -> None:
    live = live_with_brain
    first = await _train(live, epochs=1)
    assert (await _wait_for(live, first["id"], {"succeeded"}))["result"]["version"] == 2
    job = await _train(live, epochs=40)
    await _wait_for(live, job["id"], {"running"})

    seen: dict[int, list[list[float]]] = {}
    statuses: list[int] = []
    stop = asyncio.Event()

    async def hammer() -> None:
        while not stop.is_set():
            answer = await live.client.post(
                "/infer", json={"brain": "wave", "inputs": ROWS}, headers=live.auth("infer")
            )
            statuses.append(answer.status_code)
            if answer.status_code == 200:
                body = answer.json()
                seen.setdefault(body["version"], body["outputs"])

    load = asyncio.create_task(hammer())
    await asyncio.sleep(0.2)
    made = await _backup(live, "during-training")
    stop.set()
    await load
    assert made.status_code == 201, made.text
    summary = made.json()
    running = (await live.client.get(f"/jobs/{job['id']}", headers=live.auth("read"))).json()
    assert running["state"] == "running", "the job ended before the backup: raise its epochs"
    finished = await _wait_for(live, job["id"], {"succeeded", "failed"})
    assert finished["state"] == "succeeded" and finished["result"]["version"] == 3
    assert statuses and set(statuses) == {200}

    assert summary["path"] == "backups/during-training"
    [brain] = summary["brains"]
    assert brain["name"] == "wave" and brain["version"] == 2 and summary["bytes"] > 0
    source = live.state.service.home.root / summary["path"]
    manifest = json.loads((source / "manifest.json").read_text())
    assert manifest["brains"][0]["graph_hash"] == brain["graph_hash"]

    target = DataHome(tmp_path / "restored")
    await asyncio.to_thread(restore_into, source, target, server_config())
    with BrainService(server_config(), target) as restored:
        assert restored.reconcile() == []
        info = restored.get_brain("wave")
        assert (info.version, info.graph_hash) == (2, brain["graph_hash"])
        assert restored.stored_graph_hash("wave") == brain["graph_hash"]
        outputs = restored.infer("wave", np.asarray(ROWS, dtype=np.float32)).outputs
    np.testing.assert_allclose(outputs, np.asarray(seen[2]), rtol=0, atol=1e-6)


async def test_backup_needs_an_unlimited_admin_token(live_with_brain: LiveApp) -> None:
    live = live_with_brain
    for scope in ("read", "infer", "train"):
        assert (await _backup(live, f"by-{scope}", scope)).status_code == 403
    limited = TokenStore(live.state.service.metadata).create(
        "wave-admin", (Scope.ADMIN,), ("wave",)
    )
    refused = await live.client.post(
        "/admin/backup",
        json={"destination": "limited"},
        headers={"Authorization": f"Bearer {limited[0]}"},
    )
    assert refused.status_code == 403, refused.text
    assert not (live.state.service.home.root / "backups").exists()


async def test_backup_names_are_names_and_never_reused(live_with_brain: LiveApp) -> None:
    live = live_with_brain
    for bad in ("../outside", "/tmp/x", ".hidden", "a/b", ""):
        answer = await _backup(live, bad)
        assert answer.status_code == 422, (bad, answer.text)
        assert "destination" in answer.text
    assert (await _backup(live, "nightly")).status_code == 201
    again = await _backup(live, "nightly")
    assert again.status_code == 409
    assert "'nightly' already exists" in again.json()["detail"]


async def test_graphql_backup_mutation_needs_admin_and_writes_the_backup(
    live_with_brain: LiveApp,
) -> None:
    live = live_with_brain

    async def post(scope: str, name: str) -> dict[str, Any]:
        response = await live.client.post(
            "/graphql",
            json={"query": BACKUP, "variables": {"destination": name}},
            headers=live.auth(scope),
        )
        return response.json()  # type: ignore[no-any-return]

    refused = await post("train", "by-train")
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    made = (await post("admin", "from-graphql"))["data"]["backup"]
    assert made["path"] == "backups/from-graphql" and made["bytes"] > 0
    assert [b["name"] for b in made["brains"]] == ["wave"]
    assert (live.state.service.home.root / made["path"] / "manifest.json").is_file()
    reused = await post("admin", "from-graphql")
    assert reused["errors"][0]["extensions"]["code"] == "CONFLICT"
