"""POST /brains/{name}/activations on a live app: every neuron's state for one input."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from marble_graph.tokens import Scope, TokenStore
from tests.server.conftest import LiveApp

pytestmark = pytest.mark.anyio

FIELDS = {
    "brain",
    "version",
    "representation_size",
    "neurons",
    "kinds",
    "states",
    "outputs",
    "probabilities",
}


async def test_activations_cover_every_neuron_and_match_the_inference(
    live_with_brain: LiveApp,
) -> None:
    live = live_with_brain
    response = await live.client.post(
        "/brains/wave/activations", json={"inputs": [0.5]}, headers=live.auth("infer")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.keys() == FIELDS
    service = live.state.service
    neurons = (await asyncio.to_thread(service.load_graph, "wave")).neurons.sort_by("id")
    size = service.brain_config("wave").core.representation_size
    assert (body["brain"], body["version"], body["representation_size"]) == ("wave", 1, size)
    assert body["neurons"] == neurons["id"].to_pylist()
    assert body["kinds"] == neurons["kind"].to_pylist()
    states = np.asarray(body["states"])
    assert states.shape == (neurons.num_rows, size) and np.isfinite(states).all()
    inferred = await live.client.post(
        "/infer", json={"brain": "wave", "inputs": [0.5]}, headers=live.auth("infer")
    )
    np.testing.assert_allclose(body["outputs"], inferred.json()["outputs"][0], atol=1e-6)
    assert body["probabilities"] is None  # a regression brain


async def test_a_classifier_answers_its_probabilities(live: LiveApp) -> None:
    service = live.state.service
    await asyncio.to_thread(service.create_brain_for_dataset, "grapes", "wine", live.state.config)
    await asyncio.to_thread(service.train, "grapes", "wine", epochs=1)
    row = np.linspace(0.0, 1.0, 13).tolist()
    response = await live.client.post(
        "/brains/grapes/activations", json={"inputs": row}, headers=live.auth("infer")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    inferred = await live.client.post(
        "/infer", json={"brain": "grapes", "inputs": row}, headers=live.auth("infer")
    )
    assert body["version"] == 2 and len(body["probabilities"]) == 3
    np.testing.assert_allclose(
        body["probabilities"], inferred.json()["probabilities"][0], atol=1e-6
    )
    assert sum(body["probabilities"]) == pytest.approx(1.0, abs=1e-5)

    seed = await live.client.post(
        "/brains/grapes/activations", json={"inputs": row, "version": 1}, headers=live.auth("infer")
    )
    assert seed.status_code == 200, seed.text
    seed_inferred = await live.client.post(
        "/infer", json={"brain": "grapes", "inputs": row, "version": 1}, headers=live.auth("infer")
    )
    assert seed.json()["version"] == 1
    np.testing.assert_allclose(
        seed.json()["outputs"], seed_inferred.json()["outputs"][0], atol=1e-6
    )
    assert seed.json()["states"] != body["states"]
    missing = await live.client.post(
        "/brains/grapes/activations", json={"inputs": row, "version": 9}, headers=live.auth("infer")
    )
    assert missing.status_code == 404 and "has no version 9" in missing.json()["detail"]


async def test_client_mistakes_are_problems_naming_them(live_with_brain: LiveApp) -> None:
    live = live_with_brain
    infer = live.auth("infer")
    wide = await live.client.post(
        "/brains/wave/activations", json={"inputs": [0.1, 0.2]}, headers=infer
    )
    assert wide.status_code == 422
    assert wide.headers["content-type"] == "application/problem+json"
    assert wide.json()["detail"] == "inputs width mismatch: 2 values; brain 'wave' reads 1 inputs"

    unknown = await live.client.post(
        "/brains/nope/activations", json={"inputs": [0.5]}, headers=infer
    )
    assert unknown.status_code == 404 and unknown.json()["detail"] == "unknown brain 'nope'"

    for body, fault in (
        ({}, "give exactly one input: inputs or object"),
        ({"inputs": [0.5], "object": "x"}, "give exactly one input: inputs or object"),
        ({"inputs": None}, "inputs: leave the field out instead of sending null"),
        ({"inputs": []}, "inputs"),
        ({"inputs": [[0.5]]}, "inputs"),
        ({"inputs": ["0.5"]}, "inputs"),
    ):
        refused = await live.client.post("/brains/wave/activations", json=body, headers=infer)
        assert refused.status_code == 422, body
        assert fault in str(refused.json()["errors"]), (body, refused.json())

    text = await live.client.post(
        "/brains/wave/activations", json={"object": "some text"}, headers=infer
    )
    assert text.status_code == 422
    assert "was not trained on a stored dataset" in text.json()["detail"]


async def test_the_route_needs_the_infer_scope_and_a_brain_the_token_may_use(
    live_with_brain: LiveApp,
) -> None:
    live = live_with_brain
    refused = await live.client.post(
        "/brains/wave/activations", json={"inputs": [0.5]}, headers=live.auth("read")
    )
    assert refused.status_code == 403 and refused.json()["required_scope"] == "infer"
    store = TokenStore(live.state.service.metadata)
    token, _ = store.create("other-brains", (Scope.INFER,), ("other",))
    hidden = await live.client.post(
        "/brains/wave/activations",
        json={"inputs": [0.5]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert hidden.status_code == 404 and hidden.json()["detail"] == "unknown brain 'wave'"
