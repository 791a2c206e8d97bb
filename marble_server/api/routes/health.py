"""Liveness, readiness and Prometheus metrics (no token: probes and scrapers call these)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST

from marble_graph.store.metadata import mask_password
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
    return Ready(
        status="ready",
        brains=len(state.service.list_brains()),
        graph_engine=state.service.graph.engine,
        metadata=mask_password(state.service.metadata.url),
    )


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(state: StateDep) -> PlainTextResponse:
    """Prometheus text format: requests, latencies, inference batch sizes, job states."""
    return PlainTextResponse(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
