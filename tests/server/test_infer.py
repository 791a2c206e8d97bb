"""POST /infer: answers match the engine, concurrent requests share forward passes,
and a brain under training keeps answering from its last committed version."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from marble_graph.store.metadata import BrainVersion, VersionState
from tests.server.conftest import LiveApp

pytestmark = pytest.mark.anyio


async def _infer(live: LiveApp, inputs: object) -> dict:
    response = await live.client.post(
        "/infer", json={"brain": "wave", "inputs": inputs}, headers=live.auth("infer")
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_features_are_checked_once_per_request(
    live_with_brain: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from marble_graph import datasets
    from marble_graph.brains import serving
    from marble_server import inference

    calls: list[int] = []

    def counted(*args: object, **kwargs: object) -> np.ndarray:
        calls.append(1)
        return datasets.check_features(*args, **kwargs)  # type: ignore[arg-type]

    # Every module that checks features on the /infer path, counted together.
    monkeypatch.setattr(inference, "check_features", counted)
    monkeypatch.setattr(serving, "check_features", counted)
    await _infer(live_with_brain, [[0.1], [0.2]])
    assert len(calls) == 1


async def test_single_row_and_batch_match_the_engine(live_with_brain: LiveApp) -> None:
    live = live_with_brain
    rows = [[-0.5], [0.0], [0.25], [0.9]]
    batch = await _infer(live, rows)
    single = await _infer(live, rows[2][0:1])
    expected = live.state.service.infer("wave", np.asarray(rows, np.float32))
    assert batch["version"] == expected.version == 1
    assert np.array_equal(np.asarray(batch["outputs"], np.float32), expected.outputs)
    # The same row alone and in a batch: equal to float32 rounding (the sparse and
    # dense kernels block their sums differently for different batch sizes).
    np.testing.assert_allclose(single["outputs"], [batch["outputs"][2]], rtol=1e-6, atol=1e-7)


async def test_concurrent_requests_are_micro_batched(live_with_brain: LiveApp) -> None:
    live = live_with_brain
    await _infer(live, [0.0])  # load the model
    batch_sizes: list[int] = []
    live.state.batcher._on_batch = batch_sizes.append
    values = np.linspace(-1, 1, 48, dtype=np.float32)
    answers = await asyncio.gather(*(_infer(live, [float(v)]) for v in values))
    assert sum(batch_sizes) == 48
    assert max(batch_sizes) > 1  # several requests shared one forward pass
    assert len(batch_sizes) < 48
    alone = live.state.service.infer("wave", values[:, None])
    got = np.asarray([a["outputs"][0] for a in answers], np.float32)
    np.testing.assert_allclose(got, alone.outputs, rtol=1e-5, atol=1e-6)


async def test_concurrent_requests_of_several_rows_share_a_forward_and_get_their_own_rows(
    live_with_brain: LiveApp,
) -> None:
    live = live_with_brain
    await _infer(live, [0.0])  # load the model
    batch_sizes: list[int] = []
    live.state.batcher._on_batch = batch_sizes.append
    # Requests of 1, 2 and 3 rows: a batch concatenates them and must hand each
    # caller back exactly its own rows, in its own order.
    requests = [
        [[round(-1.0 + 0.05 * (3 * i + j), 3)] for j in range(1 + i % 3)] for i in range(24)
    ]
    answers = await asyncio.gather(*(_infer(live, rows) for rows in requests))
    assert sum(batch_sizes) == 24
    assert max(batch_sizes) > 1  # several requests shared one forward pass
    for rows, answer in zip(requests, answers, strict=True):
        alone = live.state.service.infer("wave", np.asarray(rows, np.float32))
        assert len(answer["outputs"]) == len(rows)
        np.testing.assert_allclose(
            np.asarray(answer["outputs"], np.float32), alone.outputs, rtol=1e-5, atol=1e-6
        )


async def test_batch_size_metric_is_exported(live_with_brain: LiveApp) -> None:
    live = live_with_brain
    await asyncio.gather(*(_infer(live, [0.1 * i]) for i in range(8)))
    text = (await live.client.get("/metrics")).text
    count = next(
        line for line in text.splitlines() if line.startswith("marble_inference_batch_size_count")
    )
    assert float(count.split()[-1]) >= 1
    assert 'marble_http_requests_total{method="POST",route="/infer",status="200"} 8.0' in text


async def test_infer_keeps_answering_from_committed_versions_while_training(
    live_with_brain: LiveApp,
) -> None:
    live = live_with_brain
    rows = [[-0.75], [0.1], [0.6]]
    reference = {1: (await _infer(live, rows))["outputs"]}
    job = await live.client.post(
        "/brains/wave/train",
        json={"dataset": "sine", "epochs": 4},
        headers=live.auth("train"),
    )
    job_id = job.json()["id"]
    answers: list[dict] = []

    async def hammer() -> None:
        while True:
            state = live.state.jobs.get(job_id).state
            answers.append(await _infer(live, rows))  # _infer asserts 200
            if state in ("succeeded", "failed", "cancelled"):
                return
            await asyncio.sleep(0.005)

    await asyncio.wait_for(asyncio.gather(*(hammer() for _ in range(4))), timeout=300)
    final = live.state.jobs.get(job_id)
    assert final.state == "succeeded"
    with live.state.service.metadata.session() as session:
        committed = {
            v.version
            for v in session.query(BrainVersion).filter(
                BrainVersion.state == VersionState.COMMITTED
            )
        }
    seen = {a["version"] for a in answers}
    assert seen <= committed  # never a version that was not committed
    assert max(seen) == final.result["version"]  # the new version is served once committed
    by_version: dict[int, list] = {}
    for answer in answers:
        by_version.setdefault(answer["version"], []).append(answer["outputs"])
    for version, outputs in by_version.items():
        # Every answer of one version is that version's output (up to float rounding of
        # different batch shapes): nothing half-written, no mix of two versions.
        for output in outputs:
            np.testing.assert_allclose(output, outputs[0], rtol=1e-5, atol=1e-6)
        if version in reference:
            np.testing.assert_allclose(outputs[0], reference[version], rtol=1e-5, atol=1e-6)
    assert len(answers) > 8
