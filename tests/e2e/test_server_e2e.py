"""The whole flow over a real socket: create, train with streamed progress, infer."""

from __future__ import annotations

import json

import httpx

from tests.e2e.conftest import LiveServer


def test_create_train_stream_and_infer_over_http(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, headers=live_server.headers, timeout=60) as http:
        created = http.post("/brains", json={"name": "wave", "dataset": "sine"})
        assert created.status_code == 201, created.text
        before = http.post("/infer", json={"brain": "wave", "inputs": [[0.3], [0.7]]}).json()
        assert before["version"] == 1

        job = http.post("/brains/wave/train", json={"dataset": "sine", "epochs": 3}).json()
        events = []
        with http.stream("GET", f"/jobs/{job['id']}/events") as stream:
            kind = None
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    events.append((kind, json.loads(line.removeprefix("data: "))))
        assert [d["metrics"]["epoch"] for k, d in events if k == "progress"] == [1, 2, 3]
        assert events[-1][0] == "end"
        assert events[-1][1]["job"]["state"] == "succeeded"

        after = http.post("/infer", json={"brain": "wave", "inputs": [[0.3], [0.7]]}).json()
        assert after["version"] == 2
        assert after["outputs"] != before["outputs"]
        versions = http.get("/brains/wave/versions").json()
        assert [v["version"] for v in versions] == [1, 2]


def test_cli_reports_the_server_holding_the_database(live_server: LiveServer) -> None:
    result = live_server.marble("brain", "list")
    assert result.returncode == 4
    assert "held by process" in result.stderr
    # A second server says so in one line with exit 4, before starting uvicorn.
    second = live_server.marble("serve", "--port", "1")
    assert second.returncode == 4, second.stderr
    assert second.stderr.strip().startswith("error: graph database")
    assert "held by process" in second.stderr and "Traceback" not in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    # Tokens live in the SQL store only, so they can be managed while the server runs.
    created = live_server.marble("token", "create", "late", "--scopes", "read")
    assert created.returncode == 0, created.stderr
    late = created.stdout.strip()
    answer = httpx.get(
        live_server.url + "/brains", headers={"Authorization": f"Bearer {late}"}, timeout=30
    )
    assert answer.status_code == 200
