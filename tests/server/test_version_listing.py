"""REST and GraphQL list a brain's versions the same way: committed versions only."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marble_graph.store.metadata import Brain, BrainVersion, VersionState
from tests.server.conftest import LiveApp

pytestmark = pytest.mark.anyio


def _add_pending_version(live: LiveApp, name: str) -> None:
    """The row a write-back leaves before its commit (in flight, or crashed there)."""
    with live.state.service.metadata.session() as session:
        brain = session.scalars(select(Brain).where(Brain.name == name)).one()
        session.add(
            BrainVersion(
                brain_id=brain.id,
                version=2,
                state=VersionState.PENDING,
                parent_version=1,
                config_hash=brain.config_hash,
                graph_hash=None,
                neuron_count=0,
                synapse_count=0,
                metrics={},
                note="write-back in flight",
            )
        )


async def test_pending_version_is_listed_by_neither_rest_nor_graphql(
    live_with_brain: LiveApp,
) -> None:
    live = live_with_brain
    _add_pending_version(live, "wave")

    rest = await live.client.get("/brains/wave/versions", headers=live.auth("read"))
    assert rest.status_code == 200, rest.text
    assert [(v["version"], v["state"]) for v in rest.json()] == [(1, "committed")]

    graphql = await live.client.post(
        "/graphql",
        json={"query": '{ brain(name: "wave") { versions { version state note } } }'},
        headers=live.auth("read"),
    )
    body = graphql.json()
    assert graphql.status_code == 200 and "errors" not in body, body
    assert body["data"]["brain"]["versions"] == [
        {"version": 1, "state": "committed", "note": "seed"}
    ]
