"""``client.activations`` against a real server: sync and async, in process and over loopback
(see ``marble`` in conftest)."""

from __future__ import annotations

import pytest
from marble_client import NeuronActivations, NotFound, ValidationFailed

from tests.client.conftest import Marble

pytestmark = pytest.mark.anyio


async def test_activations_hold_every_neurons_state_and_the_inference(
    marble: Marble, brain: str
) -> None:
    await marble(lambda c: c.brains.create(brain, dataset="sine"))
    seen = await marble(lambda c: c.activations(brain, [0.25]))
    assert isinstance(seen, NeuronActivations)
    details = await marble(lambda c: c.brains.get(brain))
    assert (seen.brain, seen.version) == (brain, 1)
    assert len(seen.neurons) == len(seen.kinds) == len(seen.states) == details.neuron_count
    assert seen.neurons == sorted(seen.neurons)
    assert {kind: seen.kinds.count(kind) for kind in set(seen.kinds)} == details.neurons_by_kind
    assert {len(state) for state in seen.states} == {seen.representation_size}
    inferred = await marble(lambda c: c.infer(brain, [0.25]))
    assert seen.outputs == pytest.approx(inferred.outputs[0], abs=1e-6)
    assert seen.probabilities is None


async def test_activation_mistakes_raise_with_the_server_detail(marble: Marble, brain: str) -> None:
    await marble(lambda c: c.brains.create(brain, dataset="sine"))
    with pytest.raises(ValidationFailed) as wide:
        await marble(lambda c: c.activations(brain, [0.1, 0.2]))
    assert f"inputs width mismatch: 2 values; brain {brain!r} reads 1 inputs" in str(wide.value)
    with pytest.raises(NotFound, match="unknown brain 'no-such-brain'"):
        await marble(lambda c: c.activations("no-such-brain", [0.1]))
    with pytest.raises(ValidationFailed, match="give either inputs"):
        await marble(lambda c: c.activations(brain))
    with pytest.raises(ValidationFailed, match="JSON has no nan"):
        await marble(lambda c: c.activations(brain, [float("nan")]))
    with pytest.raises(NotFound, match=f"brain {brain!r} has no version 7"):
        await marble(lambda c: c.activations(brain, [0.1], version=7))


async def test_a_version_asked_for_is_the_version_that_answers(marble: Marble, brain: str) -> None:
    await marble(lambda c: c.brains.create(brain, dataset="sine"))
    current = await marble(lambda c: c.activations(brain, [0.25]))
    for ref in (1, "1"):
        pinned = await marble(lambda c, ref=ref: c.activations(brain, [0.25], version=ref))
        assert (pinned.version, pinned.states) == (1, current.states)
