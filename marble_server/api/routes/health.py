"""Liveness, readiness and Prometheus metrics (no token: probes and scrapers call these).

Without a token these reveal nothing about the installation: no store paths or
URLs, no graph engine, not even how many brains there are (``marble config``
and ``GET /brains`` answer those, to the local admin and to a token).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST

from marble_server.api.deps import StateDep
from marble_server.api.models import Health, Ready
from marble_server.problems import Problem

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/ready", response_model=Ready)
def ready(request: Request) -> Ready:
    """Both stores are open and answer."""
    state = getattr(request.app.state, "marble", None)
    if state is None:
        raise Problem(503, "unavailable", "the server is starting or stopping")
    state.service.list_brains()  # the metadata store answers (an error here is a 5xx)
    return Ready(status="ready")


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(state: StateDep) -> PlainTextResponse:
    """Prometheus text format: requests, latencies, inference batch sizes, job states."""
    return PlainTextResponse(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
