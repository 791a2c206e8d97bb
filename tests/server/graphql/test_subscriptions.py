"""jobProgress over websockets (graphql-transport-ws): events until the end, auth at connect."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

from marble_graph.tokens import Scope, TokenStore
from marble_server import ServerSettings, create_app
from tests.server.conftest import server_config

with warnings.catch_warnings():
    # Starlette would have its test client on httpx2; this one still drives websockets.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

PROTOCOL = ["graphql-transport-ws"]
PROGRESS = """subscription($id: ID!) {
  jobProgress(id: $id) { event job { id state progress } metrics } }"""


@dataclass
class WsApp:
    client: TestClient
    tokens: dict[str, str]

    def bearer(self, scope: str) -> str:
        return f"Bearer {self.tokens[scope]}"

    def graphql(self, query: str, variables: dict[str, Any], scope: str) -> dict[str, Any]:
        response = self.client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": self.bearer(scope)},
        )
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    def train(self, brain: str, epochs: int) -> str:
        document = """mutation($brain: String!, $epochs: Int) {
          train(brain: $brain, dataset: "sine", epochs: $epochs) { id } }"""
        return str(
            self.graphql(document, {"brain": brain, "epochs": epochs}, "train")["train"]["id"]
        )

    def wait_for(self, job_id: str, states: set[str]) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job = self.graphql("query($id: ID!) { job(id: $id) { state } }", {"id": job_id}, "read")
            if job["job"]["state"] in states:
                return
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} never reached {states}")


@pytest.fixture(scope="module")
def ws_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WsApp]:
    home = tmp_path_factory.mktemp("graphql-ws") / "marble-data"
    app = create_app(ServerSettings(home=home), server_config())
    with TestClient(app) as client:
        state = app.state.marble
        store = TokenStore(state.service.metadata)
        tokens = {s.value: store.create(f"{s.value}-token", (s,))[0] for s in Scope}
        for name in ("wave", "blocker"):
            state.service.create_brain_for_dataset(name, "sine", state.config)
        yield WsApp(client, tokens)


def _subscribe(ws: Any, job_id: str) -> None:
    ws.send_json(
        {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": PROGRESS, "variables": {"id": job_id}},
        }
    )


def _messages_until_complete(ws: Any) -> list[dict[str, Any]]:
    messages = []
    while True:
        message = ws.receive_json()
        messages.append(message)
        if message["type"] in ("complete", "error"):
            return messages


def test_job_progress_streams_every_epoch_then_ends(ws_app: WsApp) -> None:
    # One worker: a long job on another brain holds the queue, so the watched job
    # is still queued when the subscription starts and no event can be missed.
    blocker = ws_app.train("blocker", epochs=500)
    ws_app.wait_for(blocker, {"running"})
    job_id = ws_app.train("wave", epochs=2)
    with ws_app.client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        ws.send_json(
            {"type": "connection_init", "payload": {"authorization": ws_app.bearer("read")}}
        )
        assert ws.receive_json() == {"type": "connection_ack"}
        _subscribe(ws, job_id)
        first = ws.receive_json()
        assert first["payload"]["data"]["jobProgress"]["job"]["state"] == "queued"
        ws_app.graphql("mutation($id: ID!) { cancelJob(id: $id) { id } }", {"id": blocker}, "train")
        messages = _messages_until_complete(ws)

    assert messages[-1] == {"id": "1", "type": "complete"}
    events = [m["payload"]["data"]["jobProgress"] for m in messages[:-1]]
    assert all(e["job"]["id"] == job_id for e in events)
    progress = [e for e in events if e["event"] == "progress"]
    assert [p["metrics"]["epoch"] for p in progress] == [1, 2]
    assert [p["job"]["progress"] for p in progress] == pytest.approx([0.5, 1.0])
    assert events[-1]["event"] == "end" and events[-1]["job"]["state"] == "succeeded"


def test_handshake_authorization_header_is_accepted(ws_app: WsApp) -> None:
    job_id = ws_app.train("wave", epochs=1)
    ws_app.wait_for(job_id, {"succeeded", "failed"})
    headers = {"Authorization": ws_app.bearer("read")}
    with ws_app.client.websocket_connect("/graphql", subprotocols=PROTOCOL, headers=headers) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json()["type"] == "connection_ack"
        _subscribe(ws, job_id)
        messages = _messages_until_complete(ws)
    events = [m["payload"]["data"]["jobProgress"]["event"] for m in messages[:-1]]
    assert events == ["state", "end"]  # already finished: its state, then the end


@pytest.mark.parametrize(
    ("headers", "payload"),
    [
        ({}, {}),
        ({}, {"authorization": "Bearer marble_wrong"}),
        ({"Authorization": "Bearer marble_wrong"}, {}),
    ],
    ids=["no-credentials", "bad-init-token", "bad-header-token"],
)
def test_connection_without_a_valid_token_is_closed(
    ws_app: WsApp, headers: dict[str, str], payload: dict[str, str]
) -> None:
    with (
        ws_app.client.websocket_connect("/graphql", subprotocols=PROTOCOL, headers=headers) as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.send_json({"type": "connection_init", "payload": payload})
        ws.receive_json()
    assert closed.value.code == 4403


@pytest.mark.parametrize(
    ("scope", "job_id", "code"),
    [("infer", "any-job", "FORBIDDEN"), ("read", "no-such-job", "NOT_FOUND")],
)
def test_subscription_errors_are_coded(ws_app: WsApp, scope: str, job_id: str, code: str) -> None:
    with ws_app.client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        ws.send_json(
            {"type": "connection_init", "payload": {"authorization": ws_app.bearer(scope)}}
        )
        assert ws.receive_json()["type"] == "connection_ack"
        _subscribe(ws, job_id)
        messages = _messages_until_complete(ws)
    errors = [e for m in messages for e in _errors(m)]
    assert [e["extensions"]["code"] for e in errors] == [code]


def _errors(message: dict[str, Any]) -> list[dict[str, Any]]:
    if message["type"] == "error":
        return list(message["payload"])
    return list(message.get("payload", {}).get("errors") or [])


def test_subscription_to_a_job_of_another_brain_is_not_found_like_an_unknown_job(
    ws_app: WsApp,
) -> None:
    job_id = ws_app.train("wave", epochs=1)
    ws_app.wait_for(job_id, {"succeeded", "failed"})
    store = TokenStore(ws_app.client.app.state.marble.service.metadata)
    limited = store.create("blocker-only", (Scope.READ,), ("blocker",))[0]
    errors = {}
    for watched in (job_id, "no-such-job"):
        with ws_app.client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
            ws.send_json(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {limited}"}}
            )
            assert ws.receive_json()["type"] == "connection_ack"
            _subscribe(ws, watched)
            (errors[watched],) = [e for m in _messages_until_complete(ws) for e in _errors(m)]
    assert errors[job_id]["extensions"]["code"] == "NOT_FOUND"
    assert (
        errors[job_id]["message"].replace(job_id, "no-such-job") == errors["no-such-job"]["message"]
    )
