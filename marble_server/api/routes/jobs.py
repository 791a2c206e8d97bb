"""Jobs: start a training run or a dream on a brain, follow it (JSON or server-sent events),
cancel, resume."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import StreamingResponse

from marble_graph.service import JOB_STATES
from marble_server.api.deps import ReadToken, StateDep, TrainToken
from marble_server.api.models import BrainPath, DreamRequest, Job, TrainRequest
from marble_server.auth import require_brain, require_job

router = APIRouter(tags=["jobs"])

# A comment line every few seconds keeps proxies from closing a quiet stream.
KEEPALIVE_S = 15.0


@router.post("/brains/{name}/train", status_code=status.HTTP_202_ACCEPTED, response_model=Job)
async def train(name: BrainPath, body: TrainRequest, state: StateDep, token: TrainToken) -> Job:
    """Queue a training job; follow it at /jobs/{id} or /jobs/{id}/events."""
    require_brain(token, name)
    view = await asyncio.to_thread(state.jobs.submit_train, name, body.dataset, body.epochs)
    return Job.model_validate(view.as_dict())


@router.post("/brains/{name}/dream", status_code=status.HTTP_202_ACCEPTED, response_model=Job)
async def dream(name: BrainPath, body: DreamRequest, state: StateDep, token: TrainToken) -> Job:
    """Queue a dream: replay the brain's recorded experiences, then commit a new version.

    Its events report every cycle; a cancelled dream writes nothing."""
    require_brain(token, name)
    view = await asyncio.to_thread(state.jobs.submit_dream, name, body.cycles)
    return Job.model_validate(view.as_dict())


@router.get("/jobs", response_model=list[Job])
async def list_jobs(
    state: StateDep,
    token: ReadToken,
    brain: str | None = None,
    # The schema lists the states; the check (and its message naming the value) is the
    # job manager's, so REST and GraphQL refuse an unknown state alike.
    job_state: Annotated[
        str | None,
        Query(alias="state", json_schema_extra={"enum": list(JOB_STATES)}),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Job]:
    """Newest first; filter by brain and by state (queued, running, succeeded, ...).

    A token limited to named brains sees only the jobs of its brains.
    """
    views = await asyncio.to_thread(state.jobs.list, brain, job_state, limit, token.brains)
    return [Job.model_validate(v.as_dict()) for v in views]


@router.get("/jobs/{job_id}", response_model=Job)
async def get_job(job_id: str, state: StateDep, token: ReadToken) -> Job:
    view = require_job(token, await asyncio.to_thread(state.jobs.get, job_id))
    return Job.model_validate(view.as_dict())


@router.post("/jobs/{job_id}/cancel", response_model=Job)
async def cancel_job(job_id: str, state: StateDep, token: TrainToken) -> Job:
    """Cancel now if queued, else at the next training step; no partial version is written."""
    require_job(token, await asyncio.to_thread(state.jobs.get, job_id))
    view = await asyncio.to_thread(state.jobs.cancel, job_id)
    return Job.model_validate(view.as_dict())


@router.post("/jobs/{job_id}/resume", status_code=status.HTTP_202_ACCEPTED, response_model=Job)
async def resume_job(job_id: str, state: StateDep, token: TrainToken) -> Job:
    """A new job continuing an interrupted or cancelled one from its last checkpoint."""
    require_job(token, await asyncio.to_thread(state.jobs.get, job_id))
    view = await asyncio.to_thread(state.jobs.resume, job_id)
    return Job.model_validate(view.as_dict())


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def job_events(
    job_id: str, request: Request, state: StateDep, token: ReadToken
) -> StreamingResponse:
    """Server-sent events: ``state``, ``progress`` (one per epoch), then ``end``."""
    # 404 before the stream starts (an unknown job, or one of a brain the token may not use)
    require_job(token, await asyncio.to_thread(state.jobs.get, job_id))

    async def stream() -> AsyncIterator[str]:
        events = state.jobs.watch(job_id)
        next_event = asyncio.ensure_future(anext(events))
        try:
            while True:
                done, _ = await asyncio.wait({next_event}, timeout=KEEPALIVE_S)
                if not done:
                    if await request.is_disconnected():
                        return
                    yield ": keepalive\n\n"
                    continue
                try:
                    event = next_event.result()
                except StopAsyncIteration:
                    return
                yield f"event: {event.kind}\ndata: {json.dumps(event.as_dict())}\n\n"
                next_event = asyncio.ensure_future(anext(events))
        finally:
            next_event.cancel()
            with contextlib.suppress(BaseException):
                await next_event
            await events.aclose()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
