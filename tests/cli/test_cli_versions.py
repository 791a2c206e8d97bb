"""``marble version list|show|diff|tag|untag|rollback`` and ``marble infer --version``."""

from __future__ import annotations

from tests.cli.conftest import Marble, json_of


def test_rollback_from_the_command_line_restores_the_graph_hash(marble: Marble) -> None:
    json_of(marble("brain", "create", "B", "--dataset", "sine", "-f", "json"))
    for _ in range(2):
        assert marble("train", "B", "--dataset", "sine", "--epochs", "1").exit_code == 0
    listed = json_of(marble("version", "list", "B", "-f", "json"))
    assert [(v["version"], v["current"]) for v in listed] == [(1, False), (2, False), (3, True)]
    version_2 = json_of(marble("version", "show", "B", "2", "-f", "json"))
    assert version_2["graph_hash"] == listed[1]["graph_hash"]
    before = json_of(marble("infer", "B", "--input", "[[0.5], [1.0]]", "--version", "2"))
    assert before["version"] == 2

    rolled = marble("version", "rollback", "B", "2")
    assert rolled.exit_code == 0, rolled.output
    assert "now at version 4" in rolled.stderr
    hashed = marble("brain", "hash", "B")
    assert hashed.exit_code == 0 and hashed.stdout.strip() == version_2["graph_hash"]
    after = json_of(marble("infer", "B", "--input", "[[0.5], [1.0]]"))
    assert after["version"] == 4 and after["outputs"] == before["outputs"]


def test_tag_diff_and_untag_from_the_command_line(marble: Marble) -> None:
    marble("brain", "create", "B", "--dataset", "sine")
    assert marble("train", "B", "--dataset", "sine", "--epochs", "1").exit_code == 0
    tagged = json_of(marble("version", "tag", "B", "1", "seed-state", "-f", "json"))
    assert tagged["tags"] == ["seed-state"] and tagged["version"] == 1
    again = marble("version", "tag", "B", "2", "seed-state")
    assert again.exit_code == 1 and "already has tag 'seed-state', on version 1" in again.stderr
    bad = marble("version", "tag", "B", "2", "7up")
    assert bad.exit_code == 2 and "invalid tag '7up'" in bad.stderr
    unknown = marble("version", "show", "B", "best")
    assert unknown.exit_code == 3 and "tags: seed-state=1" in unknown.stderr

    diff = json_of(marble("version", "diff", "B", "seed-state", "2", "-f", "json"))
    assert diff["a"]["version"] == 1 and diff["b"]["version"] == 2
    assert diff["weights"]["compared"] > 0 and diff["weights"]["changed"] > 0
    table = marble("version", "diff", "B", "1", "2")
    assert table.exit_code == 0 and "weights changed" in table.stdout

    assert marble("version", "untag", "B", "seed-state").exit_code == 0
    listed = json_of(marble("version", "list", "B", "-f", "json"))
    assert [v["tags"] for v in listed] == [[], []]
    shown = marble("version", "list", "B")
    assert shown.exit_code == 0 and "* 2" in shown.stdout
