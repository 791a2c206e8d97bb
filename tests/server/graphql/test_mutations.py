"""Mutations end to end: create, delete, train, cancel, resume, infer, neuromodulation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.server.graphql.conftest import BRAIN, GraphQLClient, create_wave

pytestmark = pytest.mark.anyio

CREATE = """mutation($name: String!, $dataset: String, $seed: Int) {
  createBrain(name: $name, dataset: $dataset, seed: $seed) {
    name version randomSeed graphHash stats { neuronsByKind { key count } } } }"""
TRAIN = """mutation($brain: String!, $epochs: Int) {
  train(brain: $brain, dataset: "sine", epochs: $epochs) { id state brain payload } }"""
JOB = "query($id: ID!) { job(id: $id) { id state error payload } }"
INFER = """mutation($inputs: [[Float!]!]!, $version: Int) {
  infer(brain: "wave", inputs: $inputs, version: $version) {
    version outputs labels probabilities } }"""


async def _wait_for_job(gql: GraphQLClient, job_id: str, states: set[str]) -> dict[str, Any]:
    for _ in range(2400):
        job = (await gql.data(JOB, {"id": job_id}))["job"]
        if job["state"] in states:
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {states}")


async def test_create_brain_from_the_server_config_with_a_seed(gql: GraphQLClient) -> None:
    first = (await gql.data(CREATE, {"name": "seeded", "seed": 11}, scope="train"))["createBrain"]
    assert first["name"] == "seeded" and first["version"] == 1 and first["randomSeed"] == 11
    other = await gql.data(CREATE, {"name": "seeded-2", "seed": 12}, scope="train")
    assert other["createBrain"]["graphHash"] != first["graphHash"]
    data = await gql.data('{ brain(name: "seeded") { graphHash } }')
    assert data["brain"]["graphHash"] == first["graphHash"]


async def test_create_brain_for_a_dataset_is_sized_to_it(gql: GraphQLClient) -> None:
    data = await gql.data(CREATE, {"name": "sized", "dataset": "sine"}, scope="train")
    kinds = {k["key"]: k["count"] for k in data["createBrain"]["stats"]["neuronsByKind"]}
    assert kinds["input"] == 1 and kinds["output"] == 1


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"name": BRAIN}, "CONFLICT"),
        ({"name": "1-starts-with-a-digit"}, "BAD_USER_INPUT"),
        ({"name": "no-data", "dataset": "no/such/file.csv"}, "BAD_USER_INPUT"),
    ],
)
async def test_create_brain_errors_are_coded(
    gql: GraphQLClient, variables: dict[str, Any], code: str
) -> None:
    error = await gql.error(CREATE, variables, scope="train")
    assert error["extensions"]["code"] == code, error


async def test_create_brain_refuses_a_server_file_as_dataset(
    gql: GraphQLClient, tmp_path: Any
) -> None:
    server_file = tmp_path / "secret.csv"
    server_file.write_text("x,y\n1,2\n3,4\n", encoding="utf-8")
    error = await gql.error(CREATE, {"name": "leak", "dataset": str(server_file)}, scope="train")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "file paths are refused" in error["message"]
    assert "leak" not in [b.name for b in gql.live.state.service.list_brains()]


async def test_delete_brain_removes_it(gql: GraphQLClient) -> None:
    await create_wave(gql.live, "doomed")
    await gql.data(
        'mutation { infer(brain: "doomed", inputs: [[0.1]]) { version } }', scope="infer"
    )
    assert gql.live.state.models.cached("doomed") is not None
    data = await gql.data('mutation { deleteBrain(name: "doomed") }', scope="admin")
    assert data == {"deleteBrain": True}
    assert gql.live.state.models.cached("doomed") is None
    error = await gql.error('{ brain(name: "doomed") { name } }')
    assert error["extensions"]["code"] == "NOT_FOUND"
    again = await gql.error('mutation { deleteBrain(name: "doomed") }', scope="admin")
    assert again["extensions"]["code"] == "NOT_FOUND"


async def test_training_blocks_delete_until_cancelled_then_resumes(gql: GraphQLClient) -> None:
    await create_wave(gql.live, "busy")
    job = (await gql.data(TRAIN, {"brain": "busy", "epochs": 500}, scope="train"))["train"]
    assert job["state"] == "queued" and job["brain"] == "busy"
    await _wait_for_job(gql, job["id"], {"running"})

    refused = await gql.error('mutation { deleteBrain(name: "busy") }', scope="admin")
    assert refused["extensions"]["code"] == "CONFLICT" and job["id"] in refused["message"]
    second = await gql.error(TRAIN, {"brain": "busy", "epochs": 1}, scope="train")
    assert second["extensions"]["code"] == "CONFLICT"

    cancel = "mutation($id: ID!) { cancelJob(id: $id) { id state } }"
    await gql.data(cancel, {"id": job["id"]}, scope="train")
    await _wait_for_job(gql, job["id"], {"cancelled"})
    versions = await gql.data('{ brain(name: "busy") { version } }')
    assert versions["brain"]["version"] == 1  # a cancelled run writes no partial version

    resume = "mutation($id: ID!) { resumeJob(id: $id) { id state payload } }"
    resumed = (await gql.data(resume, {"id": job["id"]}, scope="train"))["resumeJob"]
    assert resumed["id"] != job["id"] and resumed["payload"]["resumed_from"] == job["id"]
    await gql.data(cancel, {"id": resumed["id"]}, scope="train")
    await _wait_for_job(gql, resumed["id"], {"cancelled", "succeeded"})
    data = await gql.data('mutation { deleteBrain(name: "busy") }', scope="admin")
    assert data == {"deleteBrain": True}


async def test_job_control_errors_are_coded(gql: GraphQLClient) -> None:
    missing = await gql.error('mutation { cancelJob(id: "nope") { id } }', scope="train")
    assert missing["extensions"]["code"] == "NOT_FOUND"
    epochs = await gql.error(TRAIN, {"brain": BRAIN, "epochs": 0}, scope="train")
    assert epochs["extensions"]["code"] == "BAD_USER_INPUT" and "epochs" in epochs["message"]


async def test_infer_answers_each_row_from_the_current_version(gql: GraphQLClient) -> None:
    data = await gql.data(INFER, {"inputs": [[0.1], [-0.4]]}, scope="infer")
    answer = data["infer"]
    assert answer["version"] == 1
    assert len(answer["outputs"]) == 2 and all(len(row) == 1 for row in answer["outputs"])
    assert answer["labels"] is None  # a regression brain has no classes
    again = await gql.data(INFER, {"inputs": [[0.1]], "version": 1}, scope="infer")
    # One row alone versus in a batch of two: equal to float32 rounding.
    assert again["infer"]["outputs"][0] == pytest.approx(answer["outputs"][0], rel=1e-6, abs=1e-7)


@pytest.mark.parametrize(
    ("variables", "code", "words"),
    [
        ({"inputs": [[0.1, 0.2]]}, "BAD_USER_INPUT", "width"),
        ({"inputs": [[0.1], [0.2, 0.3]]}, "BAD_USER_INPUT", "row 1 has 2 values, row 0 has 1"),
        ({"inputs": [[0.1]], "version": 7}, "NOT_FOUND", "version 7"),
    ],
)
async def test_infer_errors_are_coded(
    gql: GraphQLClient, variables: dict[str, Any], code: str, words: str
) -> None:
    error = await gql.error(INFER, variables, scope="infer")
    assert error["extensions"]["code"] == code and words in error["message"], error


async def test_set_neuromodulation_stores_signals_and_switches_to_manual(
    gql: GraphQLClient,
) -> None:
    await create_wave(gql.live, "moody")
    document = """mutation($reward: Float, $emotion: String) {
      setNeuromodulation(brain: "moody", reward: $reward, emotion: $emotion) {
        mode reward stress emotion } }"""
    data = await gql.data(document, {"reward": 0.25, "emotion": "calm"}, scope="train")
    assert data["setNeuromodulation"] == {
        "mode": "MANUAL",
        "reward": 0.25,
        "stress": 0.0,
        "emotion": "calm",
    }
    stored = gql.live.state.service.brain_config("moody").neuromodulation
    assert (stored.mode, stored.reward, stored.emotion) == ("manual", 0.25, "calm")

    error = await gql.error(document, {"reward": 2.0}, scope="train")
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "reward" in error["message"]
    assert gql.live.state.service.brain_config("moody").neuromodulation.reward == 0.25


DREAM = """mutation($brain: String!, $cycles: Int) {
  dream(brain: $brain, cycles: $cycles) { id state payload } }"""


async def test_dream_queues_a_job_that_commits_a_version(gql: GraphQLClient) -> None:
    trained = (await gql.data(TRAIN, {"brain": "wave", "epochs": 2}, scope="train"))["train"]
    await _wait_for_job(gql, trained["id"], {"succeeded"})
    before = gql.live.state.service.get_brain("wave").version
    job = (await gql.data(DREAM, {"brain": "wave", "cycles": 3}, scope="train"))["dream"]
    assert job["payload"] == {"brain": "wave", "cycles": 3}
    final = await _wait_for_job(gql, job["id"], {"succeeded", "failed", "cancelled"})
    assert final["state"] == "succeeded", final
    assert gql.live.state.service.get_brain("wave").version == before + 1


@pytest.mark.parametrize(
    ("cycles", "code", "names"),
    [(0, "BAD_USER_INPUT", "cycles: expected 1..100000, got 0"), (3, "CONFLICT", "no experiences")],
)
async def test_dream_errors_are_coded_and_name_the_fault(
    gql: GraphQLClient, cycles: int, code: str, names: str
) -> None:
    service = gql.live.state.service  # "dreamless" is never trained: it recorded nothing
    service.create_brain_for_dataset("dreamless", "sine", gql.live.state.config, exist_ok=True)
    error = await gql.error(DREAM, {"brain": "dreamless", "cycles": cycles}, scope="train")
    assert error["extensions"]["code"] == code and names in error["message"], error
