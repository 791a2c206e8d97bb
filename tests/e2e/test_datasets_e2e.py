"""A stored dataset's whole flow over a real socket, through the SDK: upload a CSV, create a
brain sized for it, train twice, infer on raw objects from each version, follow the
lineage back, and roll back to the first trained version."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
from marble_client import MarbleClient

from tests.e2e.conftest import LiveServer


def test_upload_csv_create_brain_train_twice_and_infer(
    live_server: LiveServer, tmp_path: Path
) -> None:
    rng = np.random.default_rng(21)
    x = rng.normal(size=(60, 3)).round(4)
    table = pa.table(
        {
            "colour": ["red" if v > 0 else "blue" for v in x[:, 0]],
            "size": x[:, 1],
            "weight": x[:, 2],
            "kind": np.where(x[:, 1] + x[:, 2] > 0, "big", "small"),
        }
    )
    source = tmp_path / "things.csv"
    pa_csv.write_csv(table, source)

    with MarbleClient(live_server.url, live_server.token, timeout=120) as client:
        version = client.datasets.upload("things", source, target="kind", note="from disk")
        assert (version.spec, version.n_rows, version.created) == ("things@1", 60, True)
        columns = {c["name"]: c.get("role") for c in version.columns}
        assert columns["kind"] == "target" and columns["colour"] == "input"

        brain = client.brains.create("sorter", dataset=version.spec)
        assert brain.neurons_by_kind["input"] == version.n_features
        first = client.train("sorter", "things@1", epochs=2).wait(timeout=300)
        assert first.succeeded and first.result is not None and first.result["version"] == 2
        probe = [
            {"colour": "red", "size": 1.5, "weight": 1.0},
            {"colour": "blue", "size": -1.5, "weight": -1.0},
            {"colour": "red", "size": 0.1, "weight": -0.3},
        ]
        answer_of_2 = client.infer("sorter", objects=probe)
        assert answer_of_2.version == 2

        # A second version of the data derives from the first; a bare name trains on it.
        grown = pa.concat_tables([table, table.slice(0, 12)])
        pa_csv.write_csv(grown, source)
        second = client.datasets.upload("things", source, target="kind", parent=1)
        assert (second.version, second.parent, second.n_rows) == (2, "things@1", 72)
        again = client.train("sorter", "things", epochs=1).wait(timeout=300)
        assert again.succeeded and again.payload["dataset"] == "things@2"
        assert client.brains.get("sorter").version == 3

        answer = client.infer(
            "sorter",
            objects=[
                {"colour": "red", "size": 1.5, "weight": 1.0},
                {"colour": "blue", "size": -1.5, "weight": -1.0},
            ],
        )
        assert answer.version == 3 and len(answer.outputs) == 2
        assert answer.decoded is not None and set(answer.decoded) <= {"big", "small"}

        # Each retained version answers from its own weights.
        from_2 = client.infer("sorter", objects=probe, version=2)
        from_3 = client.infer("sorter", objects=probe, version=3)
        assert (from_2.version, from_3.version) == (2, 3)
        assert from_2.outputs == answer_of_2.outputs
        assert from_3.outputs != from_2.outputs

        assert [(b.brain, b.version) for b in client.datasets.trained_brains("things", 1)] == [
            ("sorter", 2)
        ]
        lineage = client.graphql(
            """{ brainVersion(brain: "sorter", version: 3) {
                 trainedOn { spec derivedFrom { spec } } } }"""
        )["brainVersion"]
        assert lineage["trainedOn"] == [
            {"spec": "things@2", "derivedFrom": [{"spec": "things@1"}]},
            {"spec": "things@1", "derivedFrom": []},
        ]

        # Rollback makes version 2 current again as version 4, bit for bit.
        rolled = client.versions.rollback("sorter", 2)
        assert rolled.version == 4
        assert rolled.graph_hash == client.versions.show("sorter", 2).graph_hash
        after = client.infer("sorter", objects=probe)
        assert after.version == 4 and after.outputs == answer_of_2.outputs
