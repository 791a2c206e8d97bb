"""Every client method against a real server: sync and async, in process and over loopback.

Each test runs four times (see ``marble`` in conftest). Errors must carry the server's
own detail, so a caller sees what the server said, not a generic message.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from marble_client import (
    BackupSummary,
    Brain,
    BrainDetails,
    BrainVersion,
    Conflict,
    CypherResult,
    Forbidden,
    GraphRow,
    InferResult,
    JobEvent,
    JobFailed,
    JobRecord,
    JobTimeout,
    NotFound,
    QueryRefused,
    RepairReport,
    TransportError,
    Unauthorized,
    ValidationFailed,
)

from tests.client.conftest import Marble
from tests.client.transports import Recording

pytestmark = pytest.mark.anyio

JOB_STATES_DONE = {"succeeded", "failed", "cancelled", "interrupted"}


async def _create(marble: Marble, name: str) -> BrainDetails:
    created: BrainDetails = await marble(lambda c: c.brains.create(name, dataset="sine"))
    return created


async def _until_running(marble: Marble, job_id: str, timeout: float = 120) -> JobRecord:
    deadline = time.monotonic() + timeout
    while True:
        record: JobRecord = await marble(lambda c: c.jobs.get(job_id))
        if record.state != "queued":
            return record
        assert time.monotonic() < deadline, "job never started"
        await asyncio.sleep(0.05)


async def _cancel_and_settle(marble: Marble, job: Any) -> JobRecord:
    """Cancel a job and wait until it ends (the server runs one job at a time)."""
    await marble(lambda c: job.cancel())
    with pytest.raises(JobFailed) as failed:
        await marble(lambda c: job.wait(timeout=120))
    return failed.value.job


async def test_health_and_ready_need_no_token(marble: Marble) -> None:
    anonymous = marble.new_client(scope=None)
    assert (await marble.run(lambda c: c.health(), anonymous)).status == "ok"
    ready = await marble.run(lambda c: c.ready(), anonymous)
    assert ready.status == "ready"


async def test_brain_lifecycle_create_get_list_versions_delete(marble: Marble, brain: str) -> None:
    created = await _create(marble, brain)
    assert isinstance(created, BrainDetails)
    assert (created.name, created.version) == (brain, 1)
    assert created.neurons_by_kind["input"] == 1 and created.config

    fetched = await marble(lambda c: c.brains.get(brain))
    assert fetched == created
    listed = await marble(lambda c: c.brains.list())
    assert all(isinstance(b, Brain) for b in listed)
    assert brain in {b.name for b in listed}
    versions = await marble(lambda c: c.brains.versions(brain))
    assert [(v.version, v.state) for v in versions] == [(1, "committed")]
    assert isinstance(versions[0], BrainVersion)

    assert await marble(lambda c: c.brains.delete(brain)) is None
    with pytest.raises(NotFound) as missing:
        await marble(lambda c: c.brains.get(brain))
    assert brain in missing.value.detail and missing.value.status == 404
    assert missing.value.slug == "not-found"


async def test_create_with_seed_overrides_the_random_seed(marble: Marble, brain: str) -> None:
    created = await marble(lambda c: c.brains.create(brain, dataset="sine", seed=1234))
    assert created.random_seed == 1234


async def test_taken_name_is_conflict_with_the_server_detail(marble: Marble, brain: str) -> None:
    await _create(marble, brain)
    with pytest.raises(Conflict) as taken:
        await _create(marble, brain)
    assert taken.value.status == 409 and brain in str(taken.value)
    assert taken.value.type == "urn:marble:problem:conflict"


async def test_invalid_name_is_validation_failed_listing_the_field(marble: Marble) -> None:
    with pytest.raises(ValidationFailed) as invalid:
        await marble(lambda c: c.brains.create("no spaces allowed"))
    assert invalid.value.status == 422
    assert [e["field"] for e in invalid.value.errors] == ["name"]
    assert "name" in invalid.value.detail


async def test_infer_takes_one_row_or_a_batch(marble: Marble, brain: str) -> None:
    await _create(marble, brain)
    single = await marble(lambda c: c.infer(brain, [0.25]))
    batch = await marble(lambda c: c.infer(brain, [[0.25], [0.5], [0.75]]))
    assert isinstance(single, InferResult) and (single.brain, single.version) == (brain, 1)
    assert len(single.outputs) == 1 and len(batch.outputs) == 3
    assert batch.outputs[0] == pytest.approx(single.outputs[0], abs=1e-6)
    pinned = await marble(lambda c: c.infer(brain, [0.25], version=1))
    assert pinned.version == 1


async def test_infer_width_mismatch_carries_the_server_detail(marble: Marble, brain: str) -> None:
    await _create(marble, brain)
    with pytest.raises(ValidationFailed) as wrong:
        await marble(lambda c: c.infer(brain, [0.1, 0.2]))
    assert "expected 1 features, got 2" in wrong.value.detail
    with pytest.raises(NotFound):
        await marble(lambda c: c.infer("no-such-brain", [0.1]))


async def test_train_wait_with_progress_returns_the_succeeded_job(
    marble: Marble, brain: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await _create(marble, brain)
    job = await marble(lambda c: c.train(brain, "sine", epochs=3))
    assert job.state == "queued" and job.record.brain == brain
    final = await marble(lambda c: job.wait(progress=True, timeout=300))
    assert isinstance(final, JobRecord) and final.succeeded
    assert final.result is not None and final.result["version"] == 2
    assert job.record == final
    bar = capsys.readouterr().err
    assert f"job {job.id[:8]}" in bar and "100%" in bar and "epoch 3/3" in bar
    assert (await marble(lambda c: c.brains.get(brain))).version == 2
    assert (await marble(lambda c: job.refresh())).state == "succeeded"


async def test_dream_wait_with_progress_commits_a_version(
    marble: Marble, brain: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await _create(marble, brain)
    trained = await marble(lambda c: c.train(brain, "sine", epochs=2))
    await marble(lambda c: trained.wait(timeout=300))
    job = await marble(lambda c: c.dream(brain, cycles=3))
    assert job.record.kind == "dream" and job.record.payload["cycles"] == 3
    final = await marble(lambda c: job.wait(progress=True, timeout=300))
    assert final.succeeded and final.result is not None and final.result["version"] == 3
    assert "cycle 3/3" in capsys.readouterr().err
    assert (await marble(lambda c: c.brains.get(brain))).version == 3


async def test_job_events_stream_state_progress_then_end(marble: Marble, brain: str) -> None:
    await _create(marble, brain)
    job = await marble(lambda c: c.train(brain, "sine", epochs=2))
    events = await marble.collect(lambda c: job.events())
    assert all(isinstance(e, JobEvent) for e in events)
    assert events[0].event == "state" and events[-1].event == "end"
    assert [e.metrics["epoch"] for e in events if e.event == "progress"] == [1, 2]
    assert events[-1].job.state == "succeeded" and job.state == "succeeded"
    # A finished job's stream is its final state, then the end.
    again = await marble.collect(lambda c: c.jobs.events(job.id))
    assert [e.event for e in again] == ["state", "end"]


async def test_jobs_list_get_and_follow(marble: Marble, brain: str) -> None:
    await _create(marble, brain)
    job = await marble(lambda c: c.train(brain, "sine", epochs=1))
    await marble(lambda c: job.wait(timeout=300))
    listed = await marble(lambda c: c.jobs.list(brain=brain))
    assert [j.id for j in listed] == [job.id]
    assert await marble(lambda c: c.jobs.list(brain=brain, state="failed")) == []
    assert len(await marble(lambda c: c.jobs.list(limit=1))) == 1
    assert (await marble(lambda c: c.jobs.get(job.id))).state == "succeeded"
    followed = await marble(lambda c: c.jobs.follow(job.id))
    assert followed.id == job.id and (await marble(lambda c: followed.wait())).succeeded
    with pytest.raises(NotFound):
        await marble(lambda c: c.jobs.get("no-such-job"))
    with pytest.raises(ValidationFailed) as bad_state:
        await marble(lambda c: c.jobs.list(state="sleeping"))
    assert "sleeping" in bad_state.value.detail


async def test_cancel_ends_the_job_and_wait_raises_job_failed(marble: Marble, brain: str) -> None:
    await _create(marble, brain)
    job = await marble(lambda c: c.train(brain, "sine", epochs=500))
    with pytest.raises(Conflict) as busy:
        await marble(lambda c: c.brains.delete(brain))
    assert "cancel it" in busy.value.detail
    await _until_running(marble, job.id)
    final = await _cancel_and_settle(marble, job)
    assert final.state == "cancelled" and job.state == "cancelled"
    assert (await marble(lambda c: c.brains.get(brain))).version == 1  # no partial version
    with pytest.raises(Conflict) as finished:
        await marble(lambda c: c.jobs.cancel(job.id))
    assert "already finished" in finished.value.detail


async def test_resume_continues_a_cancelled_job_as_a_new_job(marble: Marble, brain: str) -> None:
    await _create(marble, brain)
    job = await marble(lambda c: c.train(brain, "sine", epochs=200))
    await _until_running(marble, job.id)
    await _cancel_and_settle(marble, job)
    resumed = await marble(lambda c: job.resume())
    assert resumed.id != job.id and resumed.record.payload["resumed_from"] == job.id
    await _cancel_and_settle(marble, resumed)
    with pytest.raises(Conflict) as twice:
        await marble(lambda c: c.jobs.resume(job.id))
    assert resumed.id in twice.value.detail


async def test_wait_timeout_raises_job_timeout_and_the_job_runs_on(
    marble: Marble, brain: str
) -> None:
    await _create(marble, brain)
    job = await marble(lambda c: c.train(brain, "sine", epochs=500))
    await _until_running(marble, job.id)
    started = time.monotonic()
    with pytest.raises(JobTimeout) as late:
        await marble(lambda c: job.wait(timeout=1.0))
    assert time.monotonic() - started < 30
    assert isinstance(late.value, TimeoutError) and late.value.job.id == job.id
    assert (await marble(lambda c: job.refresh())).state == "running"
    await _cancel_and_settle(marble, job)


async def test_graph_export_streams_the_header_then_rows(marble: Marble, brain: str) -> None:
    created = await _create(marble, brain)

    def read(client: Any) -> tuple[Any, list[GraphRow]]:
        with client.brains.graph(brain, tables=["neurons", "lobes"], limit=3) as export:
            return export.header, list(export)

    async def aread(client: Any) -> tuple[Any, list[GraphRow]]:
        async with client.brains.graph(brain, tables=["neurons", "lobes"], limit=3) as export:
            return export.header, [row async for row in export]

    header, rows = await marble(aread if marble.is_async else read)
    assert (header.brain, header.version, header.limit) == (brain, 1, 3)
    assert header.counts["neurons"] == created.neuron_count
    assert [r.table for r in rows] == ["neurons"] * 3 + ["lobes"] * min(3, header.counts["lobes"])
    assert [r.values["id"] for r in rows if r.table == "neurons"] == [0, 1, 2]
    # Iterating without `with` opens and closes the stream itself.
    plain = await marble.collect(lambda c: c.brains.graph(brain, tables=["neurons"], offset=2))
    assert [r.values["id"] for r in plain][:2] == [2, 3]
    with pytest.raises(ValidationFailed) as unknown:
        await marble.collect(lambda c: c.brains.graph(brain, tables=["nope"]))
    assert "'nope'" in unknown.value.detail


async def test_graphql_returns_data_and_maps_error_codes(marble: Marble, brain: str) -> None:
    await _create(marble, brain)
    data = await marble(
        lambda c: c.graphql("query($n: String!) { brain(name: $n) { name version } }", {"n": brain})
    )
    assert data == {"brain": {"name": brain, "version": 1}}
    with pytest.raises(NotFound) as missing:
        await marble(lambda c: c.graphql('{ brain(name: "no-such-brain") { name } }'))
    assert missing.value.code == "NOT_FOUND" and "no-such-brain" in missing.value.detail
    with pytest.raises(ValidationFailed) as bad_document:
        await marble(lambda c: c.graphql("{ bogus }"))
    assert "bogus" in bad_document.value.detail and bad_document.value.code is None
    mutation = f'mutation {{ infer(brain: "{brain}", inputs: [[0.5]]) {{ version }} }}'
    assert await marble(lambda c: c.graphql(mutation)) == {"infer": {"version": 1}}


async def test_cypher_reads_rows_and_refuses_writes(marble: Marble, brain: str) -> None:
    created = await _create(marble, brain)
    count = "MATCH (n:Neuron) WHERE n.uid >= $lo AND n.uid < $hi RETURN count(*) AS n"
    result = await marble(lambda c: c.cypher(brain, count))
    assert isinstance(result, CypherResult)
    assert result.columns == ["n"] and result.rows == [[created.neuron_count]]
    assert not result.truncated
    kinds = await marble(
        lambda c: c.cypher(
            brain,
            "MATCH (n:Neuron) WHERE n.uid >= $lo AND n.uid < $hi AND n.kind = $kind "
            "RETURN n.id AS id",
            {"kind": "input"},
        )
    )
    assert kinds.rows == [[0]]
    with pytest.raises(QueryRefused) as refused:
        await marble(lambda c: c.cypher(brain, "MATCH (n:Neuron) DETACH DELETE n"))
    assert refused.value.code == "QUERY_REFUSED" and refused.value.detail
    assert isinstance(refused.value, ValidationFailed)


async def test_missing_token_is_unauthorized_with_the_server_detail(marble: Marble) -> None:
    anonymous = marble.new_client(scope=None)
    with pytest.raises(Unauthorized) as refused:
        await marble.run(lambda c: c.brains.list(), anonymous)
    assert "Authorization" in refused.value.detail and refused.value.status == 401
    with pytest.raises(Unauthorized):
        await marble.run(lambda c: c.graphql("{ brains { name } }"), anonymous)
    wrong = marble.new_client(token="marble_not-a-token")
    with pytest.raises(Unauthorized) as revoked:
        await marble.run(lambda c: c.brains.list(), wrong)
    assert "invalid or revoked" in revoked.value.detail


async def test_missing_scope_is_forbidden_naming_the_scope(marble: Marble, brain: str) -> None:
    reader = marble.new_client(scope="read")
    with pytest.raises(Forbidden) as rest:
        await marble.run(lambda c: c.brains.create(brain, dataset="sine"), reader)
    assert rest.value.required_scope == "train" and "'train'" in rest.value.detail
    with pytest.raises(Forbidden) as graphql:
        await marble.run(
            lambda c: c.graphql(f'mutation {{ deleteBrain(name: "{brain}") }}'), reader
        )
    assert graphql.value.required_scope == "admin" and graphql.value.status == 403


# -- idempotency keys (the server stores the first answer per token and key) ----------------


async def test_same_key_and_body_replays_the_first_answer(marble: Marble, brain: str) -> None:
    recording = Recording(marble.base_transport())
    client = marble.new_client(transport=recording)
    key = f"create-{brain}"
    first = await marble.run(
        lambda c: c.brains.create(brain, dataset="sine", idempotency_key=key), client
    )
    again = await marble.run(
        lambda c: c.brains.create(brain, dataset="sine", idempotency_key=key), client
    )
    assert again == first  # replayed, not refused as a taken name
    assert [x.idempotency_key for x in recording.exchanges] == [key, key]
    assert recording.exchanges[1].headers.get("idempotency-replayed") == "true"
    assert [b.name for b in await marble(lambda c: c.brains.list())].count(brain) == 1


async def test_same_key_with_another_body_is_validation_failed(marble: Marble, brain: str) -> None:
    key = f"create-{brain}"
    await marble(lambda c: c.brains.create(brain, dataset="sine", idempotency_key=key))
    with pytest.raises(ValidationFailed) as reused:
        await marble(lambda c: c.brains.create(brain + "-2", dataset="sine", idempotency_key=key))
    assert reused.value.status == 422 and reused.value.detail


@pytest.mark.parametrize("auto_keys", [False, True], ids=["explicit-key", "auto-keys"])
async def test_lost_answer_to_a_keyed_post_is_retried_and_acts_once(
    marble: Marble, brain: str, auto_keys: bool
) -> None:
    recording = Recording(marble.base_transport(), lose_answers=1)
    sleep, waits = marble.recorded_sleep()
    client = marble.new_client(transport=recording, sleep=sleep, auto_idempotency_keys=auto_keys)
    key = None if auto_keys else f"create-{brain}"
    created = await marble.run(
        lambda c: c.brains.create(brain, dataset="sine", idempotency_key=key), client
    )
    assert created.name == brain and waits == [0.5]
    first, retry = recording.exchanges
    assert first.status == 201 and first.idempotency_key is not None
    assert retry.idempotency_key == first.idempotency_key
    assert retry.headers.get("idempotency-replayed") == "true"
    job = await marble.run(lambda c: c.train(brain, "sine", epochs=1), client)
    await marble(lambda c: job.wait(timeout=300))
    assert [j.id for j in await marble(lambda c: c.jobs.list(brain=brain))] == [job.id]


async def test_lost_answer_to_an_unkeyed_post_is_not_retried(marble: Marble, brain: str) -> None:
    recording = Recording(marble.base_transport(), lose_answers=1)
    sleep, waits = marble.recorded_sleep()
    client = marble.new_client(transport=recording, sleep=sleep)
    with pytest.raises(TransportError) as lost:
        await marble.run(lambda c: c.brains.create(brain, dataset="sine"), client)
    assert "ReadError" in lost.value.detail and waits == []
    assert len(recording.exchanges) == 1 and recording.exchanges[0].idempotency_key is None
    # The server did the work: a blind retry would have been refused as a taken name.
    assert (await marble(lambda c: c.brains.get(brain))).name == brain


async def test_backup_writes_a_named_backup_and_refuses_its_name_twice(
    marble: Marble, brain: str
) -> None:
    await _create(marble, brain)
    name = f"backup-{brain}"
    summary = await marble(lambda c: c.backup(name, timeout=300))
    assert isinstance(summary, BackupSummary)
    assert summary.path == f"backups/{name}" and summary.bytes > 0
    mine = next(b for b in summary.brains if b.name == brain)
    assert mine.graph_hash == (await marble(lambda c: c.brains.get(brain))).graph_hash
    with pytest.raises(Conflict) as again:
        await marble(lambda c: c.backup(name))
    assert f"'{name}' already exists" in again.value.detail
    with pytest.raises(Forbidden):
        await marble.run(lambda c: c.backup(f"{name}-2"), marble.new_client(scope="read"))


async def test_repair_of_an_intact_brain_changes_nothing_and_needs_admin(
    marble: Marble, brain: str
) -> None:
    created = await _create(marble, brain)
    assert created.damage is None
    report = await marble(lambda c: c.brains.repair(brain))
    assert isinstance(report, RepairReport)
    assert not report.repaired and report.graph_hash == created.graph_hash
    with pytest.raises(Forbidden):
        await marble.run(lambda c: c.brains.repair(brain), marble.new_client(scope="read"))
