"""``marble memory remember|recall|lookup|forget|list`` against a real home."""

from __future__ import annotations

from tests.cli.conftest import Marble, json_of


def test_remember_recall_lookup_forget_and_list_from_the_command_line(marble: Marble) -> None:
    json_of(marble("brain", "create", "B", "--dataset", "sine", "-f", "json"))
    remembered = json_of(
        marble("memory", "remember", "B", "--input", "[[0.1], [0.5], [0.9]]", "-f", "json")
    )
    assert remembered == {"brain": "B", "ids": [0, 1, 2]}
    fact = marble("memory", "remember", "B", "--key", "capital", "--value", "paris")
    assert fact.exit_code == 0 and "ids 3" in fact.stdout

    recalled = json_of(
        marble("memory", "recall", "B", "--input", "[0.5]", "--k", "2", "-f", "json")
    )
    exact = json_of(
        marble("memory", "recall", "B", "--input", "[0.5]", "--k", "2", "--exact", "-f", "json")
    )
    assert recalled[0]["id"] == 1 and [m["id"] for m in recalled] == [m["id"] for m in exact]
    assert recalled[0]["similarity"] > 0.99 and recalled[0]["brain_version"] == 1

    looked_up = json_of(marble("memory", "lookup", "B", "capital", "-f", "json"))
    assert [(m["id"], m["value"]) for m in looked_up] == [(3, "paris")]
    missing = marble("memory", "lookup", "B", "nope")
    assert missing.exit_code == 3 and "brain 'B' has no memory with key 'nope'" in missing.stderr

    assert json_of(marble("memory", "forget", "B", "--keep-last", "2", "-f", "json")) == {
        "brain": "B",
        "removed": 2,
    }
    listed = json_of(marble("memory", "list", "B", "--limit", "1", "-f", "json"))
    assert listed["total"] == 2 and [m["id"] for m in listed["memories"]] == [3]
    assert listed["next_before"] == 3
    table = marble("memory", "list", "B")
    assert table.exit_code == 0 and "capital" in table.stdout


def test_bad_memory_input_exits_2_with_a_message_naming_it(marble: Marble) -> None:
    marble("brain", "create", "B", "--dataset", "sine")
    wide = marble("memory", "recall", "B", "--embedding", "[1, 2, 3]")
    assert wide.exit_code == 2 and "embedding has 3 values; brain 'B' embeds to" in wide.stderr
    both = marble("memory", "forget", "B")
    assert both.exit_code == 2 and "exactly one of older_than and keep_last" in both.stderr
    when = marble("memory", "forget", "B", "--older-than", "yesterday")
    assert when.exit_code == 2 and "expected an ISO time" in when.stderr
    k = marble("memory", "recall", "B", "--input", "[0.5]", "--k", "0")
    assert k.exit_code == 2 and "k must be a whole number between 1 and 1000, got 0" in k.stderr
    empty = json_of(marble("memory", "recall", "B", "--input", "[0.5]", "-f", "json"))
    assert empty == []
