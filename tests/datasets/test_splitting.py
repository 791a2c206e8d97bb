"""Our train/test split picks exactly the rows scikit-learn's ``train_test_split`` picks.

Training splits with ``marble_graph.datasets.splitting`` (numpy only) so a run
never imports scikit-learn; the split is documented as scikit-learn's, so
both must agree row for row, and fail on the same inputs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import train_test_split

from marble_graph.datasets import Dataset, split_dataset
from marble_graph.datasets.splitting import SplitError, split_rows
from marble_graph.errors import ValidationFailed

REPO = Path(__file__).resolve().parents[2]

FRACTIONS = (0.01, 0.1, 0.2, 0.25, 0.3, 1 / 3, 0.5, 0.7, 0.9, 0.99)
SEEDS = (0, 1, 7, 42, 12345, 2**32 - 1)


def sklearn_rows(
    n: int, fraction: float, seed: int, labels: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """scikit-learn's (train, test) row indices, or None where it refuses the split."""
    try:
        train, test = train_test_split(
            np.arange(n), test_size=fraction, random_state=seed, stratify=labels
        )
    except ValueError:
        return None
    return train, test


def assert_same_split(n: int, fraction: float, seed: int, labels: np.ndarray | None = None) -> None:
    expected = sklearn_rows(n, fraction, seed, labels)
    case = f"n={n} fraction={fraction} seed={seed} labels={labels}"
    if expected is None:
        with pytest.raises(SplitError):
            split_rows(n, fraction, seed, labels)
        return
    train, test = split_rows(n, fraction, seed, labels)
    assert train.dtype == np.int64 and test.dtype == np.int64, case
    np.testing.assert_array_equal(train, expected[0], err_msg=case)
    np.testing.assert_array_equal(test, expected[1], err_msg=case)


# --- equality with scikit-learn ---------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 4, 5, 10, 37, 100, 178, 442, 569, 1797])
def test_unstratified_split_equals_shuffle_split_for_every_fraction_and_seed(n: int) -> None:
    for fraction in FRACTIONS:
        for seed in SEEDS:
            assert_same_split(n, fraction, seed)


LAYOUTS: dict[str, np.ndarray] = {
    "balanced three classes": np.repeat([0, 1, 2], 20),
    "wine-like counts": np.repeat([0, 1, 2], [59, 71, 48]),
    "imbalanced with a pair": np.repeat([0, 1, 2, 3], [50, 30, 5, 2]),
    "interleaved classes": np.tile([2, 0, 1], 17),
    "tied remainders": np.repeat([0, 1, 2, 3], [2, 2, 2, 2]),
    "many small classes": np.repeat(np.arange(10), 3),
    "sparse negative labels": np.repeat([-5, 3, 7, 100], [6, 9, 4, 11]),
    "binary float labels": np.repeat(np.array([0.0, 1.0], dtype=np.float32), [212, 357]),
    "binary float shuffled": np.random.default_rng(3).permutation(
        np.repeat(np.array([0.0, 1.0], dtype=np.float32), [20, 13])
    ),
    "one lonely member": np.array([0, 0, 0, 1, 1, 2]),
    "digits-like": np.random.default_rng(0).integers(0, 10, size=1797),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_stratified_split_equals_stratified_shuffle_split_for_each_class_layout(
    layout: str,
) -> None:
    labels = LAYOUTS[layout]
    for fraction in FRACTIONS:
        for seed in SEEDS:
            assert_same_split(len(labels), fraction, seed, labels)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    counts=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=8),
    fraction=st.floats(min_value=0.01, max_value=0.99),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    order_seed=st.integers(min_value=0, max_value=1000),
    binary_float=st.booleans(),
)
def test_stratified_split_equals_scikit_learn_for_generated_layouts(
    counts: list[int], fraction: float, seed: int, order_seed: int, binary_float: bool
) -> None:
    labels = np.random.default_rng(order_seed).permutation(
        np.repeat(np.arange(len(counts)), counts)
    )
    if binary_float:
        labels = (labels % 2).astype(np.float32)
    assert_same_split(len(labels), fraction, seed, labels)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    n=st.integers(min_value=2, max_value=3000),
    fraction=st.floats(min_value=0.001, max_value=0.999),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_unstratified_split_equals_scikit_learn_for_generated_sizes(
    n: int, fraction: float, seed: int
) -> None:
    assert_same_split(n, fraction, seed)


# --- refusals ----------------------------------------------------------------------


def test_split_rows_names_a_class_with_one_member() -> None:
    with pytest.raises(SplitError, match=r"only 1 member.*\[2\]"):
        split_rows(6, 0.5, 0, np.array([0, 0, 0, 1, 1, 2]))


def test_split_rows_needs_a_test_row_of_every_class() -> None:
    # ceil(0.1 * 20) = 2 test rows cannot hold one of each of 3 classes.
    with pytest.raises(SplitError, match=r"test part \(2 rows\).*3 classes"):
        split_rows(20, 0.1, 0, np.repeat([0, 1, 2], [6, 7, 7]))


def test_split_rows_needs_a_train_row_of_every_class() -> None:
    with pytest.raises(SplitError, match=r"train part \(2 rows\).*3 classes"):
        split_rows(20, 0.9, 0, np.repeat([0, 1, 2], [6, 7, 7]))


def test_split_rows_refuses_an_empty_train_part() -> None:
    with pytest.raises(SplitError, match="train part would be empty"):
        split_rows(2, 0.6, 0)


def test_split_rows_refuses_labels_that_are_not_one_per_row() -> None:
    with pytest.raises(SplitError, match=r"one label per row \(4\)"):
        split_rows(4, 0.5, 0, np.array([0, 1, 0]))


def test_split_rows_refuses_a_seed_outside_numpys_range() -> None:
    with pytest.raises(SplitError, match="random_state must be an integer"):
        split_rows(10, 0.5, -1)


def test_split_dataset_turns_split_errors_into_validation_failed() -> None:
    ds = Dataset(
        name="three",
        task="classification",
        features=np.arange(12, dtype=np.float64).reshape(6, 2),
        targets=np.array([0, 0, 0, 1, 1, 2]),
        feature_names=["a", "b"],
        target_names=["x", "y", "z"],
        source="hand-made",
    )
    with pytest.raises(
        ValidationFailed,
        match=r"cannot split dataset 'three' \(6 rows, test_fraction 0.5\): "
        r"the least populated classes have only 1 member.*\[2\]; set stratify to false",
    ):
        split_dataset(ds, test_fraction=0.5)
    train, test = split_dataset(ds, test_fraction=0.5, stratify=False)
    assert (train.n_rows, test.n_rows) == (3, 3)


# --- start-up cost -------------------------------------------------------------------


def test_loading_and_splitting_wine_does_not_import_scikit_learn() -> None:
    # Importing scikit-learn costs a training process over a second; the
    # built-in data and the split need only numpy.
    script = (
        "import sys\n"
        "from marble_graph.datasets import split_dataset\n"
        "from marble_graph.datasets.builtin import load_builtin\n"
        "train, test = split_dataset(load_builtin('wine'), test_fraction=0.25, random_state=0)\n"
        "assert (train.n_rows, test.n_rows) == (133, 45), (train.n_rows, test.n_rows)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')))\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "[]", child.stdout
