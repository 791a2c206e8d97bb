"""The ``activations`` query: every neuron's state for one input, as REST answers it."""

from __future__ import annotations

import pytest

from tests.server.graphql.conftest import GraphQLClient

pytestmark = pytest.mark.anyio

ACTIVATIONS = """query($inputs: [Float!], $object: JSON) {
  activations(brain: "wave", inputs: $inputs, object: $object) {
    brain version representationSize neurons kinds states outputs probabilities
  }
}"""


async def test_activations_answer_what_the_rest_route_answers(gql: GraphQLClient) -> None:
    found = (await gql.data(ACTIVATIONS, {"inputs": [0.25]}, scope="infer"))["activations"]
    rest = await gql.live.client.post(
        "/brains/wave/activations", json={"inputs": [0.25]}, headers=gql.live.auth("infer")
    )
    body = rest.json()
    assert found == {
        "brain": body["brain"],
        "version": body["version"],
        "representationSize": body["representation_size"],
        "neurons": body["neurons"],
        "kinds": body["kinds"],
        "states": body["states"],
        "outputs": body["outputs"],
        "probabilities": body["probabilities"],
    }
    assert len(found["states"]) == len(found["neurons"]) == len(found["kinds"]) > 0
    assert {len(state) for state in found["states"]} == {found["representationSize"]}
    assert found["kinds"].count("input") == 1  # the sine brain reads one input


async def test_activation_errors_are_coded_and_name_what_is_wrong(gql: GraphQLClient) -> None:
    wide = await gql.error(ACTIVATIONS, {"inputs": [0.1, 0.2, 0.3]}, scope="infer")
    assert wide["extensions"]["code"] == "BAD_USER_INPUT"
    assert wide["message"] == "inputs width mismatch: 3 values; brain 'wave' reads 1 inputs"
    neither = await gql.error(ACTIVATIONS, {}, scope="infer")
    assert neither["extensions"]["code"] == "BAD_USER_INPUT"
    assert "activations take one input" in neither["message"]
    text = await gql.error(ACTIVATIONS, {"object": "some text"}, scope="infer")
    assert "was not trained on a stored dataset" in text["message"]
    refused = await gql.error(ACTIVATIONS, {"inputs": [0.5]}, scope="read")
    assert refused["extensions"]["code"] == "FORBIDDEN"
    unknown = await gql.error(
        '{ activations(brain: "nope", inputs: [0.5]) { version } }', scope="infer"
    )
    assert unknown["extensions"]["code"] == "NOT_FOUND"


async def test_version_or_tag_picks_the_version_that_answers(gql: GraphQLClient) -> None:
    pinned = """query($version: Int, $tag: String) {
      activations(brain: "wave", inputs: [0.25], version: $version, tag: $tag) { version states }
    }"""
    current = (await gql.data(ACTIVATIONS, {"inputs": [0.25]}, scope="infer"))["activations"]
    first = (await gql.data(pinned, {"version": 1}, scope="infer"))["activations"]
    assert first == {"version": 1, "states": current["states"]}  # wave has one version
    both = await gql.error(pinned, {"version": 1, "tag": "seed"}, scope="infer")
    assert both["extensions"]["code"] == "BAD_USER_INPUT"
    assert both["message"] == "give version or tag, not both"
    missing = await gql.error(pinned, {"version": 9}, scope="infer")
    assert missing["extensions"]["code"] == "NOT_FOUND"
    assert "brain 'wave' has no version 9" in missing["message"]
    untagged = await gql.error(pinned, {"tag": "seed"}, scope="infer")
    assert untagged["extensions"]["code"] == "NOT_FOUND"
