"""Experiences a brain remembers for dream replay (docs/model.md, Dream replay).

An experience is one training example (features and target) with the salience
of the step that saw it:

    salience = (reward + emotion + arousal + 1 - stress) / 4        in [0, 1]

where ``emotion`` is the emotion label's value in ``EMOTION_VALUES``. Each
experience also gets a random priority, drawn when it is offered, from the
buffer's own generator. A buffer of capacity C keeps the C experiences with
the largest (salience, priority): the most salient ones, and among equally
salient ones a uniform random sample of everything ever offered (bottom-k
sampling; a reservoir that keeps working across runs and tasks). Every
operation is a sort or a gather over whole tensors: no Python loop visits an
experience.

``DreamBuffers`` pairs an instant buffer with a long-term one. Each training
step offers its batch to the instant buffer, which keeps the step's
``instant_capacity`` most salient examples and merges them into the long-term
buffer at once; the long-term buffer evicts the least salient. Merging every
step (not when the instant buffer fills) means the long-term buffer never
lags behind training, and a run that stops keeps all it recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from marble_graph.errors import ValidationFailed

SamplingMode = Literal["linear", "exponential", "uniform"]
SAMPLING_MODES: tuple[str, ...] = ("linear", "exponential", "uniform")

# The emotion label as a number in [0, 1]; labels outside the table (a label set
# by hand) count as neutral.
EMOTION_VALUES: dict[str, float] = {"content": 1.0, "alert": 0.75, "neutral": 0.5, "stressed": 0.0}
NEUTRAL_EMOTION = EMOTION_VALUES["neutral"]

# Linear sampling adds this to every salience, so an experience of salience 0
# can still be dreamt (rarely) instead of never.
LINEAR_FLOOR = 1e-3

_BUFFER_KEYS = ("features", "targets", "salience", "priority")


def emotion_value(emotion: str) -> float:
    """The emotion label as a number in [0, 1] (``EMOTION_VALUES``; unknown labels: 0.5)."""
    return EMOTION_VALUES.get(emotion, NEUTRAL_EMOTION)


def salience(reward: float, emotion: str, arousal: float, stress: float) -> float:
    """``(reward + emotion + arousal + 1 - stress) / 4`` for signals in [0, 1]."""
    return (reward + emotion_value(emotion) + arousal + 1.0 - stress) / 4.0


@dataclass
class ExperienceBuffer:
    """At most ``capacity`` experiences: the largest by (salience, priority).

    ``features`` [C, I] float, ``targets`` [C] (class indices) or [C, k],
    ``salience`` [C] and ``priority`` [C] float. Empty until the first offer
    fixes the shapes.
    """

    capacity: int
    features: Tensor
    targets: Tensor
    salience: Tensor
    priority: Tensor

    @classmethod
    def empty(cls, capacity: int, device: torch.device | str = "cpu") -> ExperienceBuffer:
        """A buffer holding nothing yet."""
        if capacity < 1:
            raise ValidationFailed(f"experience buffer capacity must be at least 1, got {capacity}")
        nothing = torch.empty(0, device=device)
        return cls(capacity, nothing.view(0, 0), nothing, nothing, nothing)

    @property
    def size(self) -> int:
        """Experiences held."""
        return int(self.salience.shape[0])

    def offer(
        self, features: Tensor, targets: Tensor, salience: Tensor, generator: torch.Generator
    ) -> None:
        """Add ``features`` [B, I], ``targets`` [B] or [B, k] and ``salience`` [B], each with
        a fresh priority from ``generator`` (a CPU generator), keeping the top ``capacity``."""
        priority = torch.rand(features.shape[0], generator=generator).to(features.device)
        self.merge(features, targets, salience, priority)

    def merge(self, features: Tensor, targets: Tensor, salience: Tensor, priority: Tensor) -> None:
        """Add experiences that already have priorities, keeping the top ``capacity``."""
        count = features.shape[0]
        if salience.shape != (count,) or priority.shape != (count,) or targets.shape[0] != count:
            raise ValidationFailed(
                f"experiences: {count} feature rows, {targets.shape[0]} target rows, salience "
                f"of shape {tuple(salience.shape)} and priority of shape {tuple(priority.shape)}; "
                f"expected {count} of each"
            )
        if self.size == 0:
            self._keep_top(features, targets, salience, priority)
            return
        self._check_compatible(features, targets)
        self._keep_top(
            torch.cat([self.features, features.to(self.features.device)]),
            torch.cat([self.targets, targets.to(self.targets.device)]),
            torch.cat([self.salience, salience.to(self.salience.device)]),
            torch.cat([self.priority, priority.to(self.priority.device)]),
        )

    def clear(self) -> None:
        """Forget everything (the shapes too)."""
        emptied = ExperienceBuffer.empty(self.capacity, self.salience.device)
        self.features, self.targets = emptied.features, emptied.targets
        self.salience, self.priority = emptied.salience, emptied.priority

    def sample(
        self, count: int, mode: SamplingMode, temperature: float, generator: torch.Generator
    ) -> Tensor:
        """Indices [count] of experiences drawn with replacement from ``generator`` (CPU):
        ``linear`` p ~ salience + LINEAR_FLOOR, ``exponential`` p ~ exp(salience /
        temperature), ``uniform`` p equal."""
        if self.size == 0:
            raise ValidationFailed("the experience buffer is empty: there is nothing to sample")
        weights = sampling_weights(self.salience.detach().cpu().double(), mode, temperature)
        drawn = torch.multinomial(weights, count, replacement=True, generator=generator)
        return drawn.to(self.salience.device)

    def to(self, device: torch.device | str) -> ExperienceBuffer:
        """The same experiences on ``device``."""
        return ExperienceBuffer(
            self.capacity,
            self.features.to(device),
            self.targets.to(device),
            self.salience.to(device),
            self.priority.to(device),
        )

    def state_dict(self, prefix: str) -> dict[str, Tensor]:
        """The buffer as CPU tensors named ``prefix.features`` etc. (nothing when empty)."""
        if self.size == 0:
            return {}
        return {f"{prefix}.{key}": getattr(self, key).detach().cpu() for key in _BUFFER_KEYS}

    @classmethod
    def from_state_dict(
        cls,
        state: dict[str, Tensor],
        prefix: str,
        capacity: int,
        device: torch.device | str = "cpu",
    ) -> ExperienceBuffer:
        """The buffer ``state_dict(prefix)`` wrote, cut to ``capacity`` (a smaller capacity
        configured since keeps the most salient)."""
        buffer = cls.empty(capacity, device)
        names = [f"{prefix}.{key}" for key in _BUFFER_KEYS]
        present = [name in state for name in names]
        if not any(present):
            return buffer
        if not all(present):
            missing = [name for name, here in zip(names, present, strict=True) if not here]
            raise ValidationFailed(f"experience buffers: {', '.join(missing)} missing")
        features, targets, salience, priority = (state[name] for name in names)
        if features.ndim != 2 or salience.ndim != 1:
            raise ValidationFailed(
                f"experience buffers: {prefix}.features must be [C, I] and {prefix}.salience "
                f"[C]; got {tuple(features.shape)} and {tuple(salience.shape)}"
            )
        buffer.merge(
            features.to(device), targets.to(device), salience.to(device), priority.to(device)
        )
        return buffer

    def _keep_top(
        self, features: Tensor, targets: Tensor, salience: Tensor, priority: Tensor
    ) -> None:
        # Lexicographic (salience, priority), largest first: a stable sort by
        # salience of rows already ordered by priority.
        by_priority = torch.argsort(priority, descending=True)
        by_salience = torch.argsort(salience[by_priority], descending=True, stable=True)
        kept = by_priority[by_salience][: self.capacity]
        self.features, self.targets = features[kept], targets[kept]
        self.salience, self.priority = salience[kept], priority[kept]

    def _check_compatible(self, features: Tensor, targets: Tensor) -> None:
        if features.shape[1:] != self.features.shape[1:]:
            raise ValidationFailed(
                f"experiences of {features.shape[1]} features offered to a buffer of "
                f"{self.features.shape[1]}-feature experiences"
            )
        if targets.shape[1:] != self.targets.shape[1:] or targets.dtype != self.targets.dtype:
            raise ValidationFailed(
                f"experiences with targets of shape {tuple(targets.shape[1:])} ({targets.dtype}) "
                f"offered to a buffer whose targets have shape {tuple(self.targets.shape[1:])} "
                f"({self.targets.dtype}): the brain was trained on another kind of dataset"
            )


def sampling_weights(salience: Tensor, mode: SamplingMode, temperature: float) -> Tensor:
    """Unnormalised sampling weights [C] of experiences with ``salience`` [C]."""
    if mode == "linear":
        return salience.clamp(min=0.0) + LINEAR_FLOOR
    if mode == "exponential":
        if temperature <= 0:
            raise ValidationFailed(f"dreams.temperature must be positive, got {temperature}")
        # Softmax: exp(s / T) normalised without overflow for any T.
        return torch.softmax(salience / temperature, dim=0)
    if mode == "uniform":
        return torch.ones_like(salience)
    raise ValidationFailed(
        f"dreams.sampling must be one of {', '.join(SAMPLING_MODES)}, got {mode!r}"
    )


@dataclass
class DreamBuffers:
    """An instant buffer (the step's most salient examples) merged into a long-term one."""

    instant: ExperienceBuffer
    long_term: ExperienceBuffer

    @classmethod
    def empty(
        cls, instant_capacity: int, long_term_capacity: int, device: torch.device | str = "cpu"
    ) -> DreamBuffers:
        """Two empty buffers."""
        return cls(
            ExperienceBuffer.empty(instant_capacity, device),
            ExperienceBuffer.empty(long_term_capacity, device),
        )

    def record(
        self, features: Tensor, targets: Tensor, salience: float, generator: torch.Generator
    ) -> None:
        """One step's batch, all of one ``salience``: the instant buffer keeps the most
        salient ``instant.capacity`` (a uniform random sample when all are equal) and
        merges them into the long-term buffer."""
        values = torch.full((features.shape[0],), salience, device=features.device)
        self.instant.clear()
        self.instant.offer(features.detach(), targets.detach(), values, generator)
        instant = self.instant
        self.long_term.merge(instant.features, instant.targets, instant.salience, instant.priority)

    def sample(
        self, count: int, mode: SamplingMode, temperature: float, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """``count`` long-term experiences drawn by salience: (features, targets)."""
        chosen = self.long_term.sample(count, mode, temperature, generator)
        return self.long_term.features[chosen], self.long_term.targets[chosen]

    @property
    def empty_of_experience(self) -> bool:
        """True when the long-term buffer holds nothing to replay."""
        return self.long_term.size == 0

    def stats(self) -> dict[str, float | int]:
        """Sizes and the long-term buffer's mean salience (0 when empty)."""
        held = self.long_term.salience
        return {
            "instant": self.instant.size,
            "long_term": self.long_term.size,
            "mean_salience": float(held.mean()) if held.numel() else 0.0,
        }

    def state_dict(self) -> dict[str, Tensor]:
        """Both buffers as named CPU tensors, for a blob (empty when nothing is held)."""
        return {**self.instant.state_dict("instant"), **self.long_term.state_dict("long_term")}

    @classmethod
    def from_state_dict(
        cls,
        state: dict[str, Tensor] | None,
        instant_capacity: int,
        long_term_capacity: int,
        device: torch.device | str = "cpu",
    ) -> DreamBuffers:
        """The buffers ``state_dict`` wrote (or empty ones for None), cut to the capacities."""
        if not state:
            return cls.empty(instant_capacity, long_term_capacity, device)
        return cls(
            ExperienceBuffer.from_state_dict(state, "instant", instant_capacity, device),
            ExperienceBuffer.from_state_dict(state, "long_term", long_term_capacity, device),
        )
