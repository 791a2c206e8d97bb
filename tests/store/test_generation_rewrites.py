"""A brain trained again and again, each run in a freshly opened home, reads back exactly.

Every write-back copies a new generation in and deletes the one before; with
the engines' column compression on, the `state FLOAT[]` lists of the third
generation came back with zeros in some elements (Kùzu 0.11.3 and LadybugDB
alike) and the brain was marked damaged. ``storage.graph_compression`` is
off by default for that reason; this test would fail without it.
"""

from __future__ import annotations

from marble_graph.config import MarbleConfig, with_overrides
from marble_graph.data_home import DataHome
from marble_graph.service import BrainService
from tests.conftest import small_config


def _six_by_six(engine: str) -> MarbleConfig:
    return with_overrides(
        small_config(engine),
        {
            "seed.width": 6,
            "seed.height": 6,
            "seed.output_fanin": 16,
            "seed.input_neurons": 1,
            "seed.output_neurons": 1,
            "dataset.stratify": False,
            "learning.epochs": 1,
        },
    )


def test_repeated_write_backs_across_reopens_keep_every_generation_intact(
    home: DataHome, engine: str
) -> None:
    config = _six_by_six(engine)
    with BrainService(config, home) as service:
        service.create_brain("again", config)
    for expected_version in (2, 3, 4, 5):
        with BrainService(config, home) as service:
            info = service.get_brain("again")
            assert info.damage is None, info.damage
            service.train("again", "sine", epochs=1)
            trained = service.get_brain("again")
            assert trained.version == expected_version
            assert service.stored_graph_hash("again") == trained.graph_hash
    with BrainService(config, home) as service:
        info = service.get_brain("again")
        assert info.damage is None, info.damage
        assert service.stored_graph_hash("again") == info.graph_hash
