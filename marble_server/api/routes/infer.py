"""POST /infer: one row or a batch, micro-batched with concurrent requests.

Two ways in, one behaviour. The route below is the contract: its signature
is what the OpenAPI document describes, and it answers every request that is
not plain. ``InferFastPath``, the innermost middleware, answers the plain
ones (a token verified lately that grants ``infer`` on the brain, a JSON body
of exactly the fields and types ``InferRequest`` accepts, a brain that
answers) without FastAPI's per-request machinery: route matching, dependency
solving, body validation and response validation cost the event loop about
as much as the forward pass costs per row, and /infer is called once per row
of a client's data. Anything else (a missing or unverified token, a scope or
brain refusal, a body pydantic might refuse or coerce, an engine error) goes
on to the route with the body as it was read, so every error is the route's
own problem+json, and the fast path's answer is the same bytes the route
would send.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marble_graph.errors import MarbleError
from marble_graph.service import BRAIN_NAME, Inference
from marble_graph.tokens import Scope as TokenScope
from marble_server.api.deps import InferToken, state_of
from marble_server.api.models import InferRequest, InferResponse
from marble_server.auth import require_brain
from marble_server.row_json import json_value, objects_from_json
from marble_server.state import ServerState

PATH = "/infer"

router = APIRouter(tags=["inference"])


@router.post(PATH, response_model=InferResponse)
async def infer(body: InferRequest, request: Request, token: InferToken) -> InferResponse:
    """Outputs of the brain's last committed version (also while it trains).

    With ``objects`` instead of ``inputs``, raw values are encoded as the brain's
    training dataset version was, and ``decoded`` holds the outputs decoded by the
    target's encoder.
    """
    require_brain(token, body.brain)
    # The state read directly, not through StateDep: each dependency FastAPI solves
    # costs about 0.1 ms, and this route is the one called per row of a client's data.
    state = state_of(request)
    if body.objects is not None:
        objects = objects_from_json(body.objects)
        found = await asyncio.to_thread(
            state.service.infer_objects, body.brain, objects, None, body.version
        )
        return _response(body.brain, found.inference, json_value(found.decoded))
    assert body.inputs is not None  # InferRequest holds inputs or objects
    answer = await state.batcher.infer(body.brain, body.inputs, body.version)
    return _response(body.brain, answer)


def _response(brain: str, answer: Inference, decoded: list[Any] | None = None) -> InferResponse:
    return InferResponse(
        brain=brain,
        version=answer.version,
        outputs=answer.outputs.tolist(),
        labels=answer.labels.astype(int).tolist() if answer.labels is not None else None,
        probabilities=answer.probabilities.tolist() if answer.probabilities is not None else None,
        decoded=decoded,
    )


_ROUTE = next(r for r in router.routes if isinstance(r, APIRoute) and r.path == PATH)
# FastAPI serialises a response_model with the model's own pydantic serializer
# (compact JSON); the fast path uses the same one, so the bytes are the same.
_RESPONSE_JSON = TypeAdapter(InferResponse)
_FIELDS = frozenset(("brain", "inputs", "version"))
_NUMBERS = frozenset((float, int))  # exact types: bool (an int subclass) is refused


class InferFastPath:
    """Answers plain ``POST /infer`` requests directly; passes everything else on.

    Innermost of the app's middleware, so the metrics, the body size limit and
    idempotency keys see its requests as they see the route's.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        state: ServerState | None = getattr(scope["app"].state, "marble", None)
        if declared is None or state is None:
            # A chunked body (which the size limit cuts off as it streams) or a server
            # starting up: the route's way.
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client went away before its body arrived: nobody to answer
        answer = await _plain_answer(state, headers, body)
        if answer is None:
            await self.app(scope, _replay(body, receive), send)
            return
        scope["route"] = _ROUTE  # what the router would have set: the metrics' route label
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(answer)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})


async def _plain_answer(
    state: ServerState, headers: dict[bytes, bytes], body: bytes
) -> bytes | None:
    """The route's answer to a plain request, as bytes; None when the route must answer."""
    if not _is_json(headers.get(b"content-type")):
        return None
    authorization = headers.get(b"authorization")
    token = state.auth.cached(authorization.decode("latin-1")) if authorization else None
    if token is None or not token.allows(TokenScope.INFER):
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # malformed JSON, bad UTF-8, absurd nesting
        return None
    plain = _plain_request(parsed)
    if plain is None or not token.may_use(plain[0]):
        return None
    brain, rows, version = plain
    try:
        answer = await state.batcher.infer(brain, rows, version)
    except MarbleError:
        return None  # an unknown brain, a row of the wrong width: the route's problem+json
    return _RESPONSE_JSON.dump_json(_response(brain, answer))


def _plain_request(parsed: Any) -> tuple[str, np.ndarray, int | None] | None:
    """(brain, rows, version) of a body ``InferRequest`` takes as it is; None otherwise.

    Stricter than the model: whatever pydantic would refuse, coerce or word in
    its own way (a whole-number float version, a non-finite value) is None here.
    """
    if type(parsed) is not dict or not parsed.keys() <= _FIELDS:
        return None
    brain, inputs, version = parsed.get("brain"), parsed.get("inputs"), parsed.get("version")
    if type(brain) is not str or BRAIN_NAME.fullmatch(brain) is None:
        return None
    if version is not None and (type(version) is not int or version < 1):
        return None
    if type(inputs) is not list or not inputs:
        return None
    batch = inputs if type(inputs[0]) is list else [inputs]
    for row in batch:
        if type(row) is not list or not row or not {type(v) for v in row} <= _NUMBERS:
            return None
    try:
        with np.errstate(over="ignore"):  # 1e300 becomes inf, refused just below
            rows = np.array(batch, np.float32)
    except (ValueError, OverflowError):  # ragged rows, an integer beyond float range
        return None
    # Parsing, as pydantic would: the route refuses non-finite numbers in its own words.
    if rows.ndim != 2 or not np.isfinite(rows).all():
        return None
    return brain, rows, version


def _is_json(content_type: bytes | None) -> bool:
    if content_type is None:
        return False
    return content_type.split(b";", 1)[0].strip().lower() == b"application/json"


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body; None when the client disconnects first."""
    parts = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` that hands the already-read body over first, then the client's messages."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
