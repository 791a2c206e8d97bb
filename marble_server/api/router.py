"""Every REST router, aggregated in one place."""

from fastapi import APIRouter

from marble_server.api.routes import brains, graph, health, infer, jobs

api_router = APIRouter()
for module in (health, brains, infer, jobs, graph):
    api_router.include_router(module.router)
