"""``marble activations`` against a real home: the JSON answer, the table, the errors."""

from __future__ import annotations

from tests.cli.conftest import Marble, json_of


def test_activations_json_holds_every_neuron_and_the_inferred_outputs(marble: Marble) -> None:
    details = json_of(marble("brain", "create", "B", "--dataset", "sine", "-f", "json"))
    found = json_of(marble("activations", "B", "--input", "[0.5]", "-f", "json"))
    assert set(found) == {
        "brain",
        "version",
        "representation_size",
        "neurons",
        "kinds",
        "states",
        "outputs",
        "probabilities",
    }
    assert (found["brain"], found["version"], found["probabilities"]) == ("B", 1, None)
    assert len(found["neurons"]) == len(found["kinds"]) == details["neuron_count"]
    assert {len(state) for state in found["states"]} == {found["representation_size"]}
    inferred = json_of(marble("infer", "B", "--input", "[0.5]"))
    assert abs(found["outputs"][0] - inferred["outputs"][0][0]) < 1e-6


def test_the_table_lists_the_strongest_neurons(marble: Marble) -> None:
    marble("brain", "create", "B", "--dataset", "sine")
    table = marble("activations", "B", "-i", "[0.5]", "--top", "3")
    assert table.exit_code == 0, table.output
    assert "B v1: " in table.stdout and "1 input, 1 output" in table.stdout
    assert "the 3 neurons with the largest state norm" in table.stdout


def test_bad_input_exits_2_and_an_unknown_brain_3_with_a_message(marble: Marble) -> None:
    marble("brain", "create", "B", "--dataset", "sine")
    wide = marble("activations", "B", "--input", "[0.5, 1.0]")
    assert wide.exit_code == 2
    assert "inputs width mismatch: 2 values; brain 'B' reads 1 inputs" in wide.stderr
    broken = marble("activations", "B", "--input", "[0.5")
    assert broken.exit_code == 2 and "--input: not valid JSON" in broken.stderr
    neither = marble("activations", "B")
    assert neither.exit_code == 2 and "activations take one input" in neither.stderr
    top = marble("activations", "B", "--input", "[0.5]", "--top", "0")
    assert top.exit_code == 2 and "--top must be at least 1, got 0" in top.stderr
    unknown = marble("activations", "nope", "--input", "[0.5]")
    assert unknown.exit_code == 3 and "unknown brain 'nope'" in unknown.stderr
    missing = marble("activations", "B", "--input", "[0.5]", "--version", "7")
    assert missing.exit_code == 3 and "brain 'B' has no version 7" in missing.stderr


def test_version_picks_the_version_that_answers(marble: Marble) -> None:
    marble("brain", "create", "B", "--dataset", "sine")
    marble("version", "tag", "B", "1", "seed")
    current = json_of(marble("activations", "B", "--input", "[0.5]", "-f", "json"))
    for ref in ("1", "seed"):
        pinned = json_of(
            marble("activations", "B", "--input", "[0.5]", "--version", ref, "-f", "json")
        )
        assert (pinned["version"], pinned["states"]) == (1, current["states"])
