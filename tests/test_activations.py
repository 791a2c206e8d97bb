"""``BrainService.activations`` on real stores: every neuron's state for one input."""

from __future__ import annotations

import numpy as np
import pytest

from marble_graph.errors import NotFound, UnknownBrain, ValidationFailed
from marble_graph.service import BrainService

# small_config: 8x6 grid, 5 inputs, 3 outputs, representation size 4.
INPUT = [0.3, -1.2, 0.8, 0.05, 2.0]


def test_states_cover_every_neuron_in_id_order_with_its_kind(service: BrainService) -> None:
    service.create_brain("b")
    found = service.activations("b", INPUT)
    neurons = service.load_graph("b").neurons.sort_by("id")
    assert (found.brain, found.version, found.representation_size) == ("b", 1, 4)
    assert found.states.shape == (neurons.num_rows, 4) and found.states.dtype == np.float32
    assert found.neuron_ids.dtype == np.int64
    np.testing.assert_array_equal(found.neuron_ids, neurons["id"].to_numpy())
    assert found.kinds == neurons["kind"].to_pylist()
    assert found.kinds.count("input") == 5 and found.kinds.count("output") == 3
    assert np.isfinite(found.states).all()


def test_output_neuron_states_are_the_embedding_and_outputs_the_inference(
    service: BrainService,
) -> None:
    service.create_brain("b")
    found = service.activations("b", np.asarray(INPUT))
    row = np.asarray([INPUT], dtype=np.float32)
    embedding, _ = service.memory_models.get("b").embed(row, 0)  # [1, O*R], output-id order
    is_output = np.asarray(found.kinds) == "output"
    np.testing.assert_allclose(found.states[is_output].reshape(-1), embedding[0], atol=1e-6)
    inferred = service.infer("b", row)
    np.testing.assert_allclose(found.outputs, inferred.outputs[0], atol=1e-6)
    assert found.outputs.shape == (3,) and found.probabilities is None  # untrained: no task


def test_input_neurons_keep_their_feature_times_their_embedding(service: BrainService) -> None:
    # Input neuron i starts at x_i e_i; a seed brain sends it no synapse, so no round
    # changes it (docs/model.md).
    service.create_brain("b")
    found = service.activations("b", INPUT)
    neurons = service.load_graph("b").neurons.sort_by("id")
    embeddings = np.asarray(neurons["state"].to_pylist(), dtype=np.float32)  # [N, R]
    is_input = np.asarray(found.kinds) == "input"
    expected = embeddings[is_input] * np.asarray(INPUT, dtype=np.float32)[:, None]
    np.testing.assert_allclose(found.states[is_input], expected, rtol=1e-6)


def test_a_raw_object_gives_the_states_of_its_encoding_and_the_inferred_probabilities(
    service: BrainService,
) -> None:
    notes = ["red apple", "green leaf", "blue sky", "yellow sun"]
    service.create_dataset(
        "notes",
        {"text": [f"{notes[i % 4]} {i}" for i in range(40)], "label": [i % 2 for i in range(40)]},
        target_column="label",
        encoders={"text": {"kind": "text", "width": 8}},
    )
    service.create_brain_for_dataset("reader", "notes")
    assert service.train("reader", "notes", epochs=1).state == "completed"
    found = service.activations("reader", obj="blue sky")
    inferred = service.infer_objects("reader", ["blue sky"]).inference
    assert found.version == 2 and found.probabilities is not None
    np.testing.assert_allclose(found.probabilities, inferred.probabilities[0], atol=1e-6)
    np.testing.assert_allclose(found.outputs, inferred.outputs[0], atol=1e-6)
    other = service.activations("reader", obj="green leaf")
    assert not np.allclose(found.states, other.states)


def test_an_input_of_the_wrong_width_names_expected_and_got(service: BrainService) -> None:
    service.create_brain("b")
    with pytest.raises(
        ValidationFailed, match=r"inputs width mismatch: 3 values; brain 'b' reads 5"
    ):
        service.activations("b", [0.1, 0.2, 0.3])
    with pytest.raises(
        ValidationFailed, match=r"expected one row of 5 numbers, got shape \(2, 5\)"
    ):
        service.activations("b", np.zeros((2, 5)))
    with pytest.raises(ValidationFailed, match="row 0 contains NaN"):
        service.activations("b", [0.1, float("nan"), 0.3, 0.4, 0.5])
    with pytest.raises(ValidationFailed, match="inputs: not a list of numbers"):
        service.activations("b", ["a", "b", "c", "d", "e"])
    with pytest.raises(ValidationFailed, match=r"one input: .* got neither"):
        service.activations("b")
    with pytest.raises(ValidationFailed, match=r"one input: .* got both"):
        service.activations("b", INPUT, obj="text")
    with pytest.raises(ValidationFailed, match="was not trained on a stored dataset"):
        service.activations("b", obj="text")


def test_an_unknown_brain_is_not_found_and_activations_change_nothing(
    service: BrainService,
) -> None:
    with pytest.raises(UnknownBrain, match="unknown brain 'nope'"):
        service.activations("nope", INPUT)
    service.create_brain("b")
    changes, version = service.changes, service.get_brain("b").version
    first = service.activations("b", INPUT)
    again = service.activations("b", INPUT)
    np.testing.assert_array_equal(first.states, again.states)
    assert (service.changes, service.get_brain("b").version) == (changes, version)


def test_a_retained_version_answers_as_it_did_when_it_was_current(service: BrainService) -> None:
    service.create_brain_for_dataset("grapes", "wine")
    row = np.linspace(0.0, 1.0, 13)
    first = service.activations("grapes", row)
    service.tag_version("grapes", 1, "seed")
    assert service.train("grapes", "wine", epochs=1).state == "completed"
    trained = service.activations("grapes", row)
    assert trained.version == 2 and not np.allclose(trained.states, first.states)
    for ref in (1, "1", "seed"):
        pinned = service.activations("grapes", row, version=ref)
        assert pinned.version == 1, ref
        np.testing.assert_array_equal(pinned.states, first.states)
        np.testing.assert_array_equal(pinned.outputs, first.outputs)
    assert service.activations("grapes", row).version == 2  # the current is still served
    with pytest.raises(NotFound, match="brain 'grapes' has no version 9"):
        service.activations("grapes", row, version=9)
