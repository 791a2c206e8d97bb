"""A crash at any step of a write-back leaves one whole version; damage is found and repaired.

Each failpoint test kills a child process (``os._exit``, no cleanup, like
``kill -9``) at one step of a write-back, reopens the data home and checks
every invariant a user relies on: reads work, the current version's graph
hashes and counts to its record, versions never go backwards, no pending
version is visible, the outputs of a surviving version are unchanged, and
the next training builds on a whole brain.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from sqlalchemy import select

from marble_graph.data_home import DataHome
from marble_graph.errors import BrainDamaged, StoreError
from marble_graph.failpoints import CRASH_EXIT_CODE
from marble_graph.service import BrainService
from marble_graph.store.metadata import BrainVersion, VersionState
from tests.test_runs import REPO_ROOT, create_wave, sine_config

PROBE = np.linspace(-3, 3, 7, dtype=np.float32).reshape(-1, 1)

# Every step of a write-back, in order; the last one is inside the deletion of
# the generation the current version superseded, which the next write-back does.
WRITE_BACK_STEPS = [
    "writeback.after_pending",
    "writeback.after_graph",
    "writeback.before_commit",
    "writeback.after_commit",
    "graph.delete_generation.after_synapses",
]


def _train_in_child(home: DataHome, engine: str, failpoint: str) -> None:
    script = (
        "from marble_graph.data_home import DataHome\n"
        "from marble_graph.service import BrainService\n"
        "from tests.test_runs import sine_config\n"
        f"s = BrainService(sine_config({engine!r}, checkpoint_every=1), "
        f"DataHome({str(home.root)!r}))\n"
        "s.train('wave', 'sine', epochs=2)\n"
    )
    env = {**os.environ, "MARBLE_FAILPOINTS": f"{failpoint}=crash"}
    child = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, timeout=600
    )
    assert child.returncode == CRASH_EXIT_CODE, child.stderr.decode()[-2000:]


def assert_brain_whole(service: BrainService, name: str) -> None:
    """The current version reads, hashes and counts exactly as its record says."""
    info = service.get_brain(name)
    assert info.damage is None
    assert service.stored_graph_hash(name) == info.graph_hash
    stored = service.graph.generation_counts()[info.graph_key]
    assert stored == (info.neuron_count, info.synapse_count)
    assert info.synapse_count > 0
    with service.metadata.session() as session:
        states = session.scalars(select(BrainVersion.state)).all()
    assert VersionState.PENDING not in states
    # Only the current generation survives an open; every trained version has its
    # dataset link (a crash right after a commit leaves it to reconcile) and no other.
    assert service.graph.generations() == {(name, info.graph_key)}
    trained = service.graph.arrow(
        "MATCH (v:BrainVersion)-[:TRAINED_ON]->(:DatasetVersion) WHERE v.brain = $brain "
        "RETURN v.version AS version",
        {"brain": name},
    )
    linked = set(trained["version"].to_pylist())
    assert linked == set(range(2, info.version + 1))


@pytest.mark.parametrize("step", WRITE_BACK_STEPS)
def test_crash_at_each_write_back_step_leaves_one_whole_version(
    home: DataHome, engine: str, step: str
) -> None:
    config = sine_config(engine)
    with BrainService(config, home) as service:
        create_wave(service)
        service.train("wave", "sine", epochs=1)  # v2, trained on a linked dataset
        before = service.get_brain("wave")
        outputs_before = service.infer("wave", PROBE).outputs
    _train_in_child(home, engine, step)
    with BrainService(config, home) as service:
        after = service.get_brain("wave")
        committed = step == "writeback.after_commit"
        assert after.version == (before.version + 1 if committed else before.version)
        assert_brain_whole(service, "wave")
        if not committed:
            assert after.graph_hash == before.graph_hash
            assert np.array_equal(service.infer("wave", PROBE).outputs, outputs_before)
        summary = service.train("wave", "sine", epochs=1)
        assert summary.state == "completed"
        assert service.get_brain("wave").synapse_count == before.synapse_count
    with BrainService(config, home) as service:
        assert_brain_whole(service, "wave")


def _drop_some_synapses(service: BrainService, name: str) -> None:
    lo = service.get_brain(name).graph_key << 32
    service.graph.execute(
        "MATCH (a:Neuron)-[s:Synapse]->() WHERE a.uid >= $lo AND a.uid < $hi AND s.id < 5 DELETE s",
        {"lo": lo, "hi": lo + (1 << 32)},
    )


def test_damaged_brain_is_found_on_open_refused_and_repaired_from_its_snapshot(
    home: DataHome, engine: str
) -> None:
    config = sine_config(engine)
    with BrainService(config, home) as service:
        create_wave(service)
        service.train("wave", "sine", epochs=1)
        intact = service.get_brain("wave")
        outputs = service.infer("wave", PROBE).outputs
        _drop_some_synapses(service, "wave")
    with BrainService(config, home) as service:
        damage = service.get_brain("wave").damage
        assert damage is not None and "synapses" in damage
        with pytest.raises(BrainDamaged, match="marble brain repair wave"):
            service.train("wave", "sine", epochs=1)
        with pytest.raises(BrainDamaged):
            service.infer("wave", PROBE)
        assert service.get_brain("wave").version == intact.version  # nothing built on it
        report = service.repair_brain("wave")
        assert report.repaired and report.version == intact.version
        assert service.get_brain("wave").damage is None
        assert np.array_equal(service.infer("wave", PROBE).outputs, outputs)
        assert not service.repair_brain("wave").repaired  # intact now: nothing to do
    with BrainService(config, home) as service:  # the damaged generation is collected on open
        assert_brain_whole(service, "wave")
        assert service.get_brain("wave").graph_hash == intact.graph_hash


def test_training_refuses_a_brain_whose_hash_changed_since_open(
    home: DataHome, engine: str
) -> None:
    # Same counts, different weights: only the hash check before training sees it.
    with BrainService(sine_config(engine), home) as service:
        create_wave(service)
        lo = service.get_brain("wave").graph_key << 32
        service.graph.execute(
            "MATCH (a:Neuron)-[s:Synapse]->() WHERE a.uid >= $lo AND a.uid < $hi "
            "SET s.weight = s.weight + 1.0",
            {"lo": lo, "hi": lo + (1 << 32)},
        )
        with pytest.raises(BrainDamaged, match="hashes to"):
            service.train("wave", "sine", epochs=1)
        assert service.get_brain("wave").damage is not None
        assert service.repair_brain("wave").repaired
        assert service.train("wave", "sine", epochs=1).state == "completed"
    with BrainService(sine_config(engine), home) as service:
        assert_brain_whole(service, "wave")


def test_home_of_the_other_engine_is_refused_with_the_setting_to_change(
    home: DataHome, engine: str
) -> None:
    with BrainService(sine_config(engine), home) as service:
        create_wave(service)
    other = "kuzu" if engine == "ladybug" else "ladybug"
    script = (
        "from marble_graph.data_home import DataHome\n"
        "from marble_graph.service import BrainService\n"
        "from tests.test_runs import sine_config\n"
        f"BrainService(sine_config({other!r}), DataHome({str(home.root)!r}))\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert child.returncode != 0
    assert StoreError.__name__ in child.stderr
    assert f"set storage.graph_engine: {engine}" in child.stderr
