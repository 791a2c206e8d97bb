"""The pure pieces the two clients share: configuration, calls, SSE, the progress bar."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest
from marble_client import DEFAULT_URL, JobEvent, JobRecord, MarbleClient
from marble_client._calls import cypher, graphql, infer, rows_of
from marble_client._config import ClientConfig
from marble_client._progress import ProgressBar, render_line
from marble_client._sse import SSEDecoder, job_events

NOW = "2026-01-01T00:00:00Z"


def record(state: str = "running", progress: float = 0.5, **extra: Any) -> JobRecord:
    return JobRecord.model_validate(
        {
            "id": "1a2b3c4d-0000",
            "kind": "train",
            "state": state,
            "brain": "wave",
            "progress": progress,
            "payload": {"epochs": 4},
            "result": None,
            "error": None,
            "created_at": NOW,
            "started_at": None,
            "finished_at": None,
            **extra,
        }
    )


def resolve(**given: Any) -> ClientConfig:
    environ = given.pop("environ", {})
    options = {
        "base_url": None,
        "token": None,
        "timeout": 30.0,
        "max_retries": 3,
        "backoff_factor": 0.5,
        "auto_idempotency_keys": False,
        **given,
    }
    return ClientConfig.resolve(**options, environ=environ)


def test_arguments_win_over_the_environment_and_defaults_fill_in() -> None:
    environ = {"MARBLE_URL": "http://env:9000/", "MARBLE_TOKEN": "env-token"}
    assert (resolve(environ=environ).base_url, resolve(environ=environ).token) == (
        "http://env:9000",
        "env-token",
    )
    given = resolve(base_url="http://arg:1", token="arg-token", environ=environ)
    assert (given.base_url, given.token) == ("http://arg:1", "arg-token")
    assert resolve().base_url == DEFAULT_URL and resolve().token is None
    assert resolve(token="", environ=environ).headers().get("Authorization") is None


def test_a_url_without_scheme_is_refused_naming_its_source() -> None:
    with pytest.raises(ValueError, match="MARBLE_URL: expected an http"):
        resolve(environ={"MARBLE_URL": "marble:8000"})
    with pytest.raises(ValueError, match="max_retries: expected 0 or more, got -1"):
        resolve(max_retries=-1)


def test_the_token_is_sent_as_bearer_and_never_shown() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "ok"})

    client = MarbleClient(
        "http://marble.test", "secret-token", transport=httpx.MockTransport(answer)
    )
    client.health()
    assert seen[0].headers["Authorization"] == "Bearer secret-token"
    assert seen[0].headers["User-Agent"].startswith("marble-client/")
    assert "secret" not in repr(client) + repr(client._config)
    client.close()


def test_one_row_is_a_batch_of_one_and_arrays_convert() -> None:
    assert rows_of([0.25]) == [[0.25]]
    assert rows_of([[1, 2], [3, 4]]) == [[1.0, 2.0], [3.0, 4.0]]
    assert rows_of([]) == []

    class Array:  # what numpy offers
        def tolist(self) -> list[list[float]]:
            return [[0.5]]

    assert rows_of(Array()) == [[0.5]]  # type: ignore[arg-type]
    assert infer("wave", [0.5], 2).json == {"brain": "wave", "inputs": [[0.5]], "version": 2}


def test_graphql_queries_may_be_repeated_mutations_may_not() -> None:
    assert graphql("{ brains { name } }", None, None, None).idempotent
    assert not graphql('mutation { deleteBrain(name: "x") }', None, None, None).idempotent
    call = cypher("wave", "RETURN $n", {"n": 1})
    assert call.idempotent and call.json["variables"] == {
        "brain": "wave",
        "query": "RETURN $n",
        "params": {"n": 1},
    }


def test_sse_decoder_follows_the_event_stream_rules() -> None:
    decoder = SSEDecoder()
    lines = [": keepalive", "", "event: progress", 'data: {"a":', "data: 1}", "id: 7", ""]
    events = [e for e in map(decoder.decode, lines) if e is not None]
    assert len(events) == 1
    assert (events[0].event, events[0].data, events[0].id) == ("progress", '{"a":\n1}', "7")
    assert decoder.decode("data: x") is None and decoder.decode("").event == "message"  # type: ignore[union-attr]


def test_job_events_parse_and_stop_after_end() -> None:
    def block(kind: str, state: str) -> list[str]:
        data = {
            "event": kind,
            "job": record(state).model_dump(mode="json"),
            "metrics": {"epoch": 1},
        }
        return [f"event: {kind}", f"data: {json.dumps(data)}", ""]

    lines = block("state", "running") + block("end", "succeeded") + block("state", "ignored")
    events = list(job_events(lines))
    assert [(e.event, e.job.state) for e in events] == [("state", "running"), ("end", "succeeded")]
    assert events[0].metrics == {"epoch": 1}


def test_progress_line_shows_bar_percent_epoch_and_loss() -> None:
    line = render_line(record(progress=0.5), {"epoch": 2, "loss": 0.123456, "lr": 0.1}, width=10)
    assert line == "job 1a2b3c4d [#####-----]  50% running epoch 2/4 loss 0.1235"
    failed = render_line(record("failed", 0.25, error="boom"), width=4)
    assert failed == "job 1a2b3c4d [#---]  25% failed (boom)"


def test_progress_bar_writes_a_line_per_change_off_a_terminal() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream, width=4)
    for kind, job in [
        ("state", record(progress=0)),
        ("progress", record(progress=1.0)),
        ("state", record("succeeded", 1.0)),
        ("end", record("succeeded", 1.0)),
    ]:
        bar.update(JobEvent(event=kind, job=job))
    bar.close()
    assert stream.getvalue().splitlines() == [
        "job 1a2b3c4d [----]   0% running",
        "job 1a2b3c4d [####] 100% running",
        "job 1a2b3c4d [####] 100% succeeded",
    ]


def test_progress_bar_redraws_in_place_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    bar = ProgressBar(stream, width=4)
    bar.update(JobEvent(event="progress", job=record(progress=0.5), metrics={"epoch": 10}))
    bar.update(JobEvent(event="end", job=record("succeeded", 1.0)))
    bar.close()
    first = "job 1a2b3c4d [##--]  50% running epoch 10/4"
    second = "job 1a2b3c4d [####] 100% succeeded epoch 10/4"
    assert stream.getvalue() == f"\r{first}\r{second}\n"
