"""Neuromodulation: reward, stress and arousal scale the learning rate (docs/model.md).

``lr_eff = lr * clip((1 + reward - stress) * (1 + arousal_gain * arousal),
min_factor, max_factor)``. In ``manual`` mode the signals are whatever the
caller set. In ``auto`` mode they are derived after every epoch from training
itself:

- reward: relative improvement of the validation loss over the best so far;
- stress: relative increase of the training loss over the previous epoch,
  or 1 when the loss stopped being finite;
- arousal: gradient-norm surprise, |g - EMA(g)| / EMA(g).

Each relative change is scaled by ``_SENSITIVITY`` and clipped to [0, 1], so
a 10% improvement saturates reward. The emotion label summarises the signals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from marble_graph.config import NeuromodulationConfig

_SENSITIVITY = 10.0
_GRAD_EMA = 0.9


def _unit(value: float) -> float:
    return min(1.0, max(0.0, value))


@dataclass
class Neuromodulator:
    config: NeuromodulationConfig
    reward: float = 0.0
    stress: float = 0.0
    arousal: float = 0.0
    emotion: str = "neutral"
    _best_validation: float = field(default=math.inf, repr=False)
    _previous_train: float | None = field(default=None, repr=False)
    _grad_ema: float | None = field(default=None, repr=False)

    @classmethod
    def from_config(cls, config: NeuromodulationConfig) -> Neuromodulator:
        return cls(
            config=config,
            reward=config.reward,
            stress=config.stress,
            arousal=config.arousal,
            emotion=config.emotion,
        )

    def set_signals(
        self,
        reward: float | None = None,
        stress: float | None = None,
        arousal: float | None = None,
        emotion: str | None = None,
    ) -> None:
        """Set signals by hand (each clipped to [0, 1])."""
        if reward is not None:
            self.reward = _unit(reward)
        if stress is not None:
            self.stress = _unit(stress)
        if arousal is not None:
            self.arousal = _unit(arousal)
        if emotion is not None:
            self.emotion = emotion

    def lr_factor(self) -> float:
        """The factor that multiplies the configured learning rate."""
        raw = (1.0 + self.reward - self.stress) * (1.0 + self.config.arousal_gain * self.arousal)
        return min(self.config.max_factor, max(self.config.min_factor, raw))

    def observe_epoch(
        self, train_loss: float, validation_loss: float | None, grad_norm: float
    ) -> None:
        """Derive the signals from one epoch (auto mode); manual mode ignores this."""
        if self.config.mode != "auto":
            return
        if not math.isfinite(train_loss):
            self.stress, self.reward = 1.0, 0.0
        else:
            if self._previous_train is not None and self._previous_train > 0:
                rise = (train_loss - self._previous_train) / self._previous_train
                self.stress = _unit(_SENSITIVITY * rise)
            self._previous_train = train_loss
            if validation_loss is not None and math.isfinite(validation_loss):
                if math.isfinite(self._best_validation) and self._best_validation > 0:
                    gain = (self._best_validation - validation_loss) / self._best_validation
                    self.reward = _unit(_SENSITIVITY * gain)
                self._best_validation = min(self._best_validation, validation_loss)
        if math.isfinite(grad_norm):
            if self._grad_ema is not None and self._grad_ema > 0:
                self.arousal = _unit(abs(grad_norm - self._grad_ema) / self._grad_ema)
            self._grad_ema = (
                grad_norm
                if self._grad_ema is None
                else _GRAD_EMA * self._grad_ema + (1 - _GRAD_EMA) * grad_norm
            )
        self.emotion = self._label()

    def _label(self) -> str:
        if self.stress > max(self.reward, 0.5):
            return "stressed"
        if self.reward > max(self.stress, 0.5):
            return "content"
        if self.arousal > 0.5:
            return "alert"
        return "neutral"

    def snapshot(self) -> dict[str, float | str]:
        # Unrounded: inference replays reward and stress exactly as training saw them.
        return {
            "reward": self.reward,
            "stress": self.stress,
            "arousal": self.arousal,
            "emotion": self.emotion,
            "lr_factor": self.lr_factor(),
        }
