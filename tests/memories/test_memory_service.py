"""Hybrid memory through BrainService on real stores: remember, recall, lookup, forget."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from marble_graph.data_home import DataHome
from marble_graph.errors import NotFound, UnknownBrain, ValidationFailed
from marble_graph.service import BrainService
from tests.conftest import small_config
from tests.test_runs import create_wave, sine_config

# small_config: 5 inputs, 3 outputs, representation size 4.
WIDTH = 3 * 4


def test_recall_of_ten_remembered_inputs_matches_the_exact_scan(service: BrainService) -> None:
    service.create_brain("b")
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(10, 5))
    ids = service.remember("b", inputs=inputs, value={"batch": 1})
    assert ids == list(range(10))
    for query in rng.normal(size=(4, 5)):
        indexed = service.recall("b", features=query, k=3)
        exact = service.recall("b", features=query, k=3, exact=True)
        assert [m.id for m in indexed] == [m.id for m in exact]
        np.testing.assert_allclose(
            [m.similarity for m in indexed], [m.similarity for m in exact], atol=1e-5
        )
    again = service.recall("b", features=inputs[4], k=1)[0]
    assert again.id == 4 and again.similarity == pytest.approx(1.0, abs=1e-5)
    assert again.value == {"batch": 1} and again.brain_version == 1
    assert len(again.neurons) == 3  # memories.carrier_neurons, all of them output neurons
    kinds = service.query(
        "MATCH (n:Neuron) WHERE n.brain = 'b' AND n.id IN $ids RETURN DISTINCT n.kind",
        {"ids": again.neurons},
    )
    assert kinds.rows == [["output"]]


def test_an_embedding_is_the_brains_state_and_recalls_like_its_input(
    service: BrainService,
) -> None:
    service.create_brain("b")
    inputs = np.random.default_rng(1).normal(size=(6, 5))
    service.remember("b", inputs=inputs)
    assert service.memory_embedding_width("b") == WIDTH
    embeddings, _ = service.memory_models.get("b").embed(inputs.astype(np.float32), 0)
    by_embedding = service.recall("b", embedding=embeddings[2].tolist(), k=6)
    by_input = service.recall("b", features=inputs[2], k=6)
    assert [m.id for m in by_embedding] == [m.id for m in by_input]


def test_memories_survive_a_restart(home: DataHome, engine: str) -> None:
    with BrainService(small_config(engine), home) as service:
        service.create_brain("b")
        service.remember("b", inputs=np.eye(5))
        service.remember("b", key="capital", value="paris")
        before = [m.id for m in service.recall("b", features=np.eye(5)[1], k=5)]
    with BrainService(small_config(engine), home) as reopened:
        assert [m.id for m in reopened.recall("b", features=np.eye(5)[1], k=5)] == before
        assert [m.value for m in reopened.lookup_memory("b", "capital")] == ["paris"]
        assert reopened.remember("b", key="next", value=1) == [6]


def test_memories_survive_a_new_version_and_a_rollback(home: DataHome, engine: str) -> None:
    with BrainService(sine_config(engine), home) as service:
        create_wave(service)
        service.remember("wave", inputs=[[0.1], [0.5]], key="early")
        service.train("wave", "sine", epochs=1)
        assert service.get_brain("wave").version == 2
        ids = service.remember("wave", inputs=[[0.9]], key="late")
        assert [m.brain_version for m in service.lookup_memory("wave", "late")] == [2]
        assert [m.brain_version for m in service.lookup_memory("wave", "early")] == [1, 1]
        service.rollback("wave", 1)
        found = service.recall("wave", features=[0.5], k=3)
        assert sorted(m.id for m in found) == [0, 1, *ids]
        wrote = service.query(
            "MATCH (v:BrainVersion)-[:WROTE]->(m:Memory) WHERE m.brain = 'wave' "
            "RETURN v.version AS version, m.id AS id ORDER BY id"
        )
        assert wrote.rows == [[1, 0], [1, 1], [2, 2]]


def test_cypher_reads_memories_through_the_read_only_query(service: BrainService) -> None:
    service.create_brain("b")
    service.remember("b", keys=["a", "b"], values=[1, {"x": [2]}])
    rows = service.query(
        "MATCH (m:Memory) WHERE m.brain = 'b' RETURN m.key, m.value, m.embedding IS NULL "
        "ORDER BY m.id"
    )
    assert rows.rows == [["a", "1", True], ["b", '{"x":[2]}', True]]


def test_forget_keep_last_and_older_than(service: BrainService) -> None:
    service.create_brain("b")
    service.remember("b", inputs=np.eye(5))
    cut = datetime.now(UTC)
    service.remember("b", key="fact", value=True)
    assert service.forget_memories("b", keep_last=4) == 2
    assert service.list_memories("b").total == 4
    assert service.forget_memories("b", older_than=cut) == 3
    page = service.list_memories("b")
    assert [(m.id, m.key) for m in page.memories] == [(5, "fact")]
    assert service.recall("b", features=np.ones(5), k=10) == []


def test_forget_takes_exactly_one_rule(service: BrainService) -> None:
    service.create_brain("b")
    with pytest.raises(ValidationFailed, match="exactly one of older_than and keep_last"):
        service.forget_memories("b")
    with pytest.raises(ValidationFailed, match="exactly one of older_than and keep_last"):
        service.forget_memories("b", older_than=datetime.now(UTC), keep_last=1)
    with pytest.raises(ValidationFailed, match="keep_last must be 0 or more, got -1"):
        service.forget_memories("b", keep_last=-1)


def test_recall_on_a_brain_without_memories_is_empty(service: BrainService) -> None:
    service.create_brain("b")
    assert service.recall("b", features=np.ones(5), k=10) == []
    assert service.recall("b", embedding=np.ones(WIDTH), k=10, exact=True) == []


def test_lookup_of_a_missing_key_is_not_found_naming_key_and_brain(service: BrainService) -> None:
    service.create_brain("b")
    with pytest.raises(NotFound, match="brain 'b' has no memory with key 'nope'"):
        service.lookup_memory("b", "nope")
    with pytest.raises(UnknownBrain):
        service.lookup_memory("missing", "nope")


def test_an_embedding_of_the_wrong_width_names_both_widths(service: BrainService) -> None:
    service.create_brain("b")
    with pytest.raises(ValidationFailed) as caught:
        service.recall("b", embedding=[0.5] * 7)
    assert str(caught.value) == (
        "embedding has 7 values; brain 'b' embeds to 12 (outputs x representation_size: 3 x 4)"
    )


def test_inputs_of_the_wrong_width_name_the_brain_and_both_widths(service: BrainService) -> None:
    service.create_brain("b")
    with pytest.raises(
        ValidationFailed, match="inputs width mismatch: 3 values per row; brain 'b' reads 5"
    ):
        service.remember("b", inputs=[[1.0, 2.0, 3.0]])
    with pytest.raises(
        ValidationFailed, match="features width mismatch: 2 values per row; brain 'b' reads 5"
    ):
        service.recall("b", features=[1.0, 2.0])


@pytest.mark.parametrize("k", [0, 1001, -3, True])
def test_k_outside_one_to_a_thousand_is_refused(service: BrainService, k: int) -> None:
    service.create_brain("b")
    with pytest.raises(
        ValidationFailed, match=f"k must be a whole number between 1 and 1000, got {k!r}"
    ):
        service.recall("b", features=np.ones(5), k=k)


def test_bad_remember_arguments_name_what_is_wrong(service: BrainService) -> None:
    service.create_brain("b")
    with pytest.raises(ValidationFailed, match="give inputs or objects to remember, or a key"):
        service.remember("b", value=1)
    with pytest.raises(ValidationFailed, match=r"keys: expected one per row \(2\), got 1"):
        service.remember("b", inputs=np.eye(5)[:2], keys=["only"])
    with pytest.raises(ValidationFailed, match="value is nan, which JSON cannot hold"):
        service.remember("b", key="k", value=float("nan"))
    with pytest.raises(ValidationFailed, match=r"values\[1\] is not JSON-serialisable"):
        service.remember("b", keys=["a", "b"], values=[1, object()])
    assert service.list_memories("b").total == 0


def test_deleting_a_brain_deletes_its_memories(service: BrainService) -> None:
    service.create_brain("b")
    service.remember("b", inputs=np.eye(5), key="k")
    service.recall("b", features=np.ones(5), k=1)  # the index holds them
    service.delete_brain("b")
    assert service.query("MATCH (m:Memory) RETURN count(*)").rows == [[0]]
    service.create_brain("b")
    assert service.recall("b", features=np.ones(5), k=5) == []
    assert service.remember("b", key="k", value=1) == [0]
