"""Train/test row indices, identical to scikit-learn's ``train_test_split``.

``split_rows(n, f, s, labels)`` returns the same (train, test) row indices as
``sklearn.model_selection.train_test_split(np.arange(n), test_size=f,
random_state=s, stratify=labels)``: ``ShuffleSplit`` without labels,
``StratifiedShuffleSplit`` (with its ``_approximate_mode`` class allotment)
with them, both drawing from ``numpy.random.RandomState(s)`` in the same order.
It lives here, in numpy alone, because importing scikit-learn costs a
training process over a second of start-up. The split is documented as
scikit-learn's (so anyone can reproduce a run's held-out rows with it, and
results compare with those published on the same split), so every draw below
must stay in scikit-learn's order (tests/datasets/test_splitting.py checks it).

Where scikit-learn would raise ``ValueError`` this raises ``SplitError`` with
the same condition named, so callers word it for their user.
"""

from __future__ import annotations

from math import ceil

import numpy as np


class SplitError(ValueError):
    """The rows cannot be split as asked (too few rows or too few per class)."""


def split_rows(
    n_rows: int,
    test_fraction: float,
    random_state: int,
    labels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (train, test) int64 row indices of a shuffled, optionally stratified split.

    ``test_fraction`` is in (0, 1); the test part has ``ceil(test_fraction *
    n_rows)`` rows and the train part the rest. ``labels`` (one per row)
    stratify the split: each class keeps its share in both parts.
    """
    if not 0.0 < test_fraction < 1.0:
        raise SplitError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n_test = ceil(test_fraction * n_rows)
    n_train = n_rows - n_test
    if n_train <= 0:
        raise SplitError(
            f"with {n_rows} rows and test_fraction {test_fraction} the train part would be empty"
        )
    if labels is None:
        permutation = _random_state(random_state).permutation(n_rows)
        return permutation[n_test:], permutation[:n_test]
    labels = np.asarray(labels)
    if labels.shape != (n_rows,):
        raise SplitError(f"stratify needs one label per row ({n_rows}), got shape {labels.shape}")
    return _stratified(labels, n_train, n_test, random_state)


def _random_state(seed: int) -> np.random.RandomState:
    try:
        return np.random.RandomState(seed)
    except (ValueError, TypeError) as exc:
        raise SplitError(
            f"random_state must be an integer in [0, 2**32 - 1], got {seed!r}"
        ) from exc


def _stratified(
    labels: np.ndarray, n_train: int, n_test: int, random_state: int
) -> tuple[np.ndarray, np.ndarray]:
    classes, class_of_row, class_counts = np.unique(labels, return_inverse=True, return_counts=True)
    n_classes = classes.shape[0]
    if np.min(class_counts) < 2:
        lonely = classes[class_counts < 2].tolist()
        raise SplitError(
            f"the least populated classes have only 1 member, too few to split: {lonely}"
        )
    if n_train < n_classes:
        raise SplitError(
            f"the train part ({n_train} rows) needs at least one row of each of "
            f"the {n_classes} classes"
        )
    if n_test < n_classes:
        raise SplitError(
            f"the test part ({n_test} rows) needs at least one row of each of "
            f"the {n_classes} classes"
        )
    # Rows of each class in their original order (a stable sort by class).
    rows_by_class = np.split(np.argsort(class_of_row, kind="stable"), np.cumsum(class_counts)[:-1])
    rng = _random_state(random_state)
    train_per_class = _approximate_mode(class_counts, n_train, rng)
    test_per_class = _approximate_mode(class_counts - train_per_class, n_test, rng)
    train: list[np.ndarray] = []
    test: list[np.ndarray] = []
    for i in range(n_classes):
        shuffled = rows_by_class[i].take(rng.permutation(class_counts[i]), mode="clip")
        n_i, t_i = train_per_class[i], test_per_class[i]
        train.append(shuffled[:n_i])
        test.append(shuffled[n_i : n_i + t_i])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _approximate_mode(
    class_counts: np.ndarray, n_draws: int, rng: np.random.RandomState
) -> np.ndarray:
    """Rows per class for ``n_draws`` rows: the floor of each class's share, then
    the leftover rows to the largest remainders, ties broken by ``rng``."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (tied,) = np.where(remainder == value)
            add_now = min(len(tied), need_to_add)
            floored[rng.choice(tied, size=add_now, replace=False)] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(np.int64)
