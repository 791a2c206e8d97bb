"""Presets sized to the data: widths from the columns, validation and epochs from the rows."""

from __future__ import annotations

from pathlib import Path

from marble_graph.config import config_from_mapping
from marble_graph.data_home import DataHome
from marble_graph.presets import (
    EXAMPLE_PASSES,
    MIN_EPOCHS,
    MIN_VALIDATION_ROWS,
    PRESETS,
    preset_config,
)
from marble_graph.service import BrainService
from tests.conftest import small_config


def test_small_data_gets_enough_validation_rows_to_choose_an_epoch() -> None:
    config = preset_config("classification", 13, 3, n_rows=178)  # wine's size
    training_rows = round(178 * (1 - config.dataset.test_fraction))
    assert training_rows * config.learning.validation_fraction >= MIN_VALIDATION_ROWS - 0.5
    assert config.learning.validation_fraction <= 0.25


def test_tiny_data_gives_up_at_most_a_quarter_of_its_training_rows() -> None:
    assert preset_config("binary", 2, 1, n_rows=40).learning.validation_fraction == 0.25


def test_data_with_enough_rows_keeps_the_presets_validation_share() -> None:
    config = preset_config("classification", 64, 10, n_rows=1_797)  # digits
    assert config.learning.validation_fraction == 0.1
    assert config.learning.epochs == PRESETS["classification"]["learning"]["epochs"]


def test_large_data_plans_fewer_passes_but_never_below_the_minimum() -> None:
    big = preset_config("regression", 8, 1, n_rows=200_000)
    assert big.learning.epochs * 150_000 <= EXAMPLE_PASSES
    huge = preset_config("regression", 8, 1, n_rows=50_000_000)
    assert huge.learning.epochs == MIN_EPOCHS


def test_keys_the_user_set_win_over_the_row_sizing() -> None:
    user = config_from_mapping({"learning": {"epochs": 90, "validation_fraction": 0.05}})
    config = preset_config("classification", 4, 2, user, n_rows=1_000_000)
    assert (config.learning.epochs, config.learning.validation_fraction) == (90, 0.05)


def test_a_brain_created_for_a_csv_is_sized_to_its_rows(home: DataHome, tmp_path: Path) -> None:
    csv = tmp_path / "small.csv"
    csv.write_text("a,b,label\n" + "".join(f"{i},{i % 7},{i % 2}\n" for i in range(60)))
    with BrainService(small_config(), home) as service:
        service.create_brain_for_dataset("small", str(csv), service.config)
        learning = service.brain_config("small").learning
    assert learning.task == "binary"
    assert learning.validation_fraction == 0.25  # 45 training rows: 11 validate
