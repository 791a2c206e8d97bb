"""The API's brain and job models show exactly the engine's records (one definition each).

``BrainInfo`` and ``JobView`` are defined once, in the metadata store; the REST
models mirror them for the OpenAPI contract. A field added to a record and
not to the API (or the other way round) fails here, not in a client.
"""

from __future__ import annotations

import dataclasses
import typing

from marble_graph.service import BrainInfo, JobView
from marble_server.api import models

# Internal to the engine: which generation of the graph holds the brain.
NOT_SHOWN = {"graph_key"}


def _record_fields(record: type) -> dict[str, object]:
    hints = typing.get_type_hints(record)
    return {f.name: hints[f.name] for f in dataclasses.fields(record) if f.name not in NOT_SHOWN}


def _model_fields(model: type[models.BaseModel]) -> dict[str, object]:
    return {name: field.annotation for name, field in model.model_fields.items()}


def test_rest_brain_is_the_brain_record() -> None:
    assert _model_fields(models.Brain) == _record_fields(BrainInfo)


def test_rest_job_is_the_job_view() -> None:
    assert _model_fields(models.Job) == _record_fields(JobView)
