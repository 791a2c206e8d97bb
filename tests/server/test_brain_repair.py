"""A damaged brain over the API: shown, refused with one problem type, repaired by an admin."""

from __future__ import annotations

import pytest

from tests.server.conftest import LiveApp

pytestmark = pytest.mark.anyio

REPAIR = "mutation($n: String!) { repairBrain(name: $n) { name version damage graphHash } }"


def _damage(live: LiveApp, name: str) -> None:
    """Drop a few synapses of the current version behind the service's back, then re-verify."""
    service = live.state.service
    lo = service.get_brain(name).graph_key << 32
    service.graph.execute(
        "MATCH (a:Neuron)-[s:Synapse]->() WHERE a.uid >= $lo AND a.uid < $hi AND s.id < 3 DELETE s",
        {"lo": lo, "hi": lo + (1 << 32)},
    )
    service.reconcile()  # what the next open would do
    live.state.models.forget(name)


async def test_damaged_brain_is_shown_refused_and_repaired_over_rest(
    live_with_brain: LiveApp,
) -> None:
    live = live_with_brain
    intact = (await live.client.get("/brains/wave", headers=live.auth("read"))).json()
    assert intact["damage"] is None
    _damage(live, "wave")
    shown = (await live.client.get("/brains/wave", headers=live.auth("read"))).json()
    assert "synapses" in shown["damage"]
    refused = await live.client.post(
        "/infer", json={"brain": "wave", "inputs": [[0.5]]}, headers=live.auth("infer")
    )
    assert refused.status_code == 409
    assert refused.json()["type"] == "urn:marble:problem:brain-damaged"
    assert "marble brain repair wave" in refused.json()["detail"]
    forbidden = await live.client.post("/brains/wave/repair", headers=live.auth("train"))
    assert forbidden.status_code == 403
    repaired = await live.client.post("/brains/wave/repair", headers=live.auth("admin"))
    assert repaired.status_code == 200, repaired.text
    assert repaired.json()["repaired"] is True
    assert repaired.json()["graph_hash"] == intact["graph_hash"]
    after = (await live.client.get("/brains/wave", headers=live.auth("read"))).json()
    assert after["damage"] is None and after["graph_hash"] == intact["graph_hash"]
    answered = await live.client.post(
        "/infer", json={"brain": "wave", "inputs": [[0.5]]}, headers=live.auth("infer")
    )
    assert answered.status_code == 200
    again = await live.client.post("/brains/wave/repair", headers=live.auth("admin"))
    assert again.json()["repaired"] is False


async def test_damaged_brain_is_refused_and_repaired_over_graphql(
    live_with_brain: LiveApp,
) -> None:
    live = live_with_brain
    _damage(live, "wave")
    infer = await live.client.post(
        "/graphql",
        json={"query": 'mutation { infer(brain: "wave", inputs: [[0.5]]) { version } }'},
        headers=live.auth("infer"),
    )
    [error] = infer.json()["errors"]
    assert error["extensions"]["code"] == "BRAIN_DAMAGED"
    body = await live.client.post(
        "/graphql", json={"query": REPAIR, "variables": {"n": "wave"}}, headers=live.auth("admin")
    )
    repaired = body.json()["data"]["repairBrain"]
    assert repaired["damage"] is None and repaired["version"] == 1
