"""Neuromodulation: reward raises and stress lowers the effective learning rate."""

from __future__ import annotations

import math

import pytest

from marble_graph.config import NeuromodulationConfig
from marble_graph.learning.neuromodulation import Neuromodulator


def modulator(**config: object) -> Neuromodulator:
    return Neuromodulator.from_config(NeuromodulationConfig(**config))  # type: ignore[arg-type]


def test_lr_factor_is_the_b3_formula_clipped() -> None:
    signals = modulator(mode="manual", reward=0.5, stress=0.2, arousal=0.4, arousal_gain=0.5)
    assert signals.lr_factor() == pytest.approx((1 + 0.5 - 0.2) * (1 + 0.5 * 0.4))
    assert modulator(mode="manual", stress=1.0, min_factor=0.25).lr_factor() == 0.25
    assert modulator(mode="manual", reward=1.0, arousal=1.0, max_factor=1.5).lr_factor() == 1.5


def test_reward_raises_and_stress_lowers_the_factor() -> None:
    neutral = modulator(mode="manual").lr_factor()
    assert modulator(mode="manual", reward=0.6).lr_factor() > neutral
    assert modulator(mode="manual", stress=0.6).lr_factor() < neutral


def test_auto_mode_derives_signals_from_training() -> None:
    signals = modulator(mode="auto")
    signals.observe_epoch(train_loss=1.0, validation_loss=1.0, grad_norm=1.0)
    signals.observe_epoch(train_loss=0.9, validation_loss=0.8, grad_norm=1.0)
    assert signals.reward > 0 and signals.stress == 0
    signals.observe_epoch(train_loss=1.2, validation_loss=0.9, grad_norm=5.0)
    assert signals.stress > 0 and signals.reward == 0 and signals.arousal > 0
    signals.observe_epoch(train_loss=math.nan, validation_loss=None, grad_norm=math.nan)
    assert signals.stress == 1.0 and signals.emotion == "stressed"


def test_manual_mode_ignores_training_observations() -> None:
    signals = modulator(mode="manual", reward=0.3)
    signals.observe_epoch(train_loss=5.0, validation_loss=5.0, grad_norm=9.0)
    assert (signals.reward, signals.stress, signals.arousal) == (0.3, 0.0, 0.0)
