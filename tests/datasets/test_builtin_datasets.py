"""Built-in datasets, Dataset hashing/subsets/splits and check_features give the documented data."""

from __future__ import annotations

import gzip
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn import datasets as sk_datasets
from sklearn.model_selection import train_test_split

import marble_graph.datasets as datasets_pkg
from marble_graph.datasets import (
    BUILTIN_DATASETS,
    Dataset,
    check_features,
    load_dataset,
    split_dataset,
)
from marble_graph.datasets.builtin import read_bundled, sklearn_data_dir
from marble_graph.errors import ValidationFailed


def tiny_dataset(**overrides: object) -> Dataset:
    fields: dict[str, object] = {
        "name": "tiny",
        "task": "regression",
        "features": np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]),
        "targets": np.array([1.0, 2.0, 3.0]),
        "feature_names": ["a", "b"],
        "target_names": ["y"],
        "source": "hand-made",
    }
    fields.update(overrides)
    return Dataset(**fields)  # type: ignore[arg-type]


# --- public surface ------------------------------------------------------------


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(datasets_pkg).items()
        if not name.startswith("_") and not isinstance(value, type(datasets_pkg))
    }
    assert set(datasets_pkg.__all__) == public
    assert BUILTIN_DATASETS == ("digits", "sine", "wine", "breast_cancer", "diabetes")


# --- built-in datasets ------------------------------------------------------------


def test_digits_has_1797_images_of_64_pixels_scaled_to_unit_range() -> None:
    ds = load_dataset("digits")
    assert ds.name == "digits"
    assert ds.task == "classification"
    assert ds.features.shape == (1797, 64)
    assert ds.features.dtype == np.float32 and ds.features.flags.c_contiguous
    assert ds.targets.shape == (1797,) and ds.targets.dtype == np.int64
    assert ds.features.min() == 0.0 and ds.features.max() == 1.0
    assert ds.n_outputs == 10 and ds.target_names == [str(d) for d in range(10)]
    assert set(np.unique(ds.targets)) == set(range(10))
    assert ds.feature_names[0] == "pixel_0_0" and ds.feature_names[-1] == "pixel_7_7"
    assert "scikit-learn digits" in ds.source


def test_digits_stratified_split_is_1347_by_450_with_class_proportions_kept() -> None:
    ds = load_dataset("digits")
    train, test = split_dataset(ds, test_fraction=0.25, random_state=0, stratify=True)
    assert (train.n_rows, test.n_rows) == (1347, 450)
    overall = np.bincount(ds.targets, minlength=10) / ds.n_rows
    for part in (train, test):
        share = np.bincount(part.targets, minlength=10) / part.n_rows
        np.testing.assert_allclose(share, overall, atol=0.005)


def test_split_matches_train_test_split_on_the_raw_arrays() -> None:
    # The acceptance bar compares against an MLP trained on exactly this split.
    ds = load_dataset("digits")
    train, test = split_dataset(ds, test_fraction=0.25, random_state=0)
    x_train, x_test, y_train, y_test = train_test_split(
        ds.features, ds.targets, test_size=0.25, random_state=0, stratify=ds.targets
    )
    np.testing.assert_array_equal(train.features, x_train)
    np.testing.assert_array_equal(train.targets, y_train)
    np.testing.assert_array_equal(test.features, x_test)
    np.testing.assert_array_equal(test.targets, y_test)
    assert train.target_names == ds.target_names


def test_sine_is_deterministic_finite_and_exactly_sin_of_x() -> None:
    first, second = load_dataset("sine"), load_dataset("sine")
    assert first.features.shape == (1000, 1) and first.targets.shape == (1000, 1)
    assert first.task == "regression" and first.n_outputs == 1
    assert first.feature_names == ["x"] and first.target_names == ["sin_x"]
    np.testing.assert_array_equal(first.features, second.features)
    assert np.isfinite(first.features).all() and np.isfinite(first.targets).all()
    assert np.abs(first.features).max() <= np.pi
    expected = np.sin(first.features[:, 0].astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(first.targets[:, 0], expected)


def test_sine_seed_changes_the_draw() -> None:
    assert load_dataset("sine", random_seed=1).content_hash() != load_dataset("sine").content_hash()


def test_wine_and_breast_cancer_come_in_their_own_units_with_the_right_targets() -> None:
    # Standardising is training's job, from the training split only; the
    # loader must not scale with statistics that include the test rows.
    wine = load_dataset("wine")
    assert wine.task == "classification" and wine.n_outputs == 3
    assert not wine.prescaled
    assert float(wine.features[:, 12].max()) == pytest.approx(1680.0)  # proline, mg/L
    cancer = load_dataset("breast_cancer")
    assert cancer.task == "binary" and cancer.n_outputs == 1 and not cancer.prescaled
    assert cancer.targets.shape == (569, 1) and cancer.targets.dtype == np.float32
    assert set(np.unique(cancer.targets)) == {0.0, 1.0}
    assert float(cancer.features[:, 3].max()) == pytest.approx(2501.0)  # mean area


def test_diabetes_target_is_in_the_studys_units() -> None:
    ds = load_dataset("diabetes")
    assert ds.task == "regression" and ds.targets.shape == (442, 1) and not ds.prescaled
    assert float(ds.targets.mean()) == pytest.approx(152.133, abs=1e-3)


SKLEARN_LOADERS: dict[str, Callable[[], Any]] = {
    "digits": sk_datasets.load_digits,
    "wine": sk_datasets.load_wine,
    "breast_cancer": sk_datasets.load_breast_cancer,
    "diabetes": sk_datasets.load_diabetes,
}


@pytest.mark.parametrize("name", sorted(SKLEARN_LOADERS))
def test_bundled_files_read_with_numpy_equal_scikit_learn_loaders_bit_for_bit(name: str) -> None:
    bunch = SKLEARN_LOADERS[name]()
    ours = read_bundled(name)
    for got, expected in ((ours.data, bunch.data), (ours.target, bunch.target)):
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert got.tobytes() == expected.tobytes()
    if name in ("wine", "breast_cancer"):
        assert list(ours.class_names) == [str(c) for c in bunch.target_names]


@pytest.mark.parametrize("name", sorted(SKLEARN_LOADERS))
def test_builtin_dataset_holds_the_scikit_learn_values_and_names(name: str) -> None:
    bunch = SKLEARN_LOADERS[name]()
    ds = load_dataset(name)
    data = np.asarray(bunch.data, dtype=np.float64)
    if name == "digits":
        data = data / 16.0
    np.testing.assert_array_equal(ds.features, data.astype(np.float32))
    assert ds.feature_names == [str(n) for n in bunch.feature_names]
    expected_targets = {
        "digits": np.asarray(bunch.target, dtype=np.int64),
        "wine": np.asarray(bunch.target, dtype=np.int64),
        "breast_cancer": np.asarray(bunch.target, dtype=np.float32)[:, None],
        "diabetes": np.asarray(bunch.target, dtype=np.float32)[:, None],
    }[name]
    assert ds.targets.dtype == expected_targets.dtype
    np.testing.assert_array_equal(ds.targets, expected_targets)
    if name == "wine":
        assert ds.target_names == [str(n) for n in bunch.target_names]


def test_bundled_data_is_found_in_the_installed_scikit_learn_package() -> None:
    assert sklearn_data_dir() == Path(sk_datasets.__file__).parent / "data"


def test_builtin_sets_without_scikit_learn_fail_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A None entry in sys.modules is how Python marks a package as unimportable.
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ValidationFailed, match="scikit-learn is not installed"):
        load_dataset("wine")
    assert load_dataset("sine").n_rows == 1000  # generated, needs no package


def test_missing_or_damaged_bundled_files_fail_with_the_file_named(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match=r"cannot read wine_data.csv from .*data directory"):
        read_bundled("wine", tmp_path)
    (tmp_path / "wine_data.csv").write_text("178,13,class_0,class_1,class_2\n1.0,abc,0\n")
    with pytest.raises(ValidationFailed, match=r"wine_data.csv .* is not a numeric table"):
        read_bundled("wine", tmp_path)
    (tmp_path / "wine_data.csv").write_text("178,13,class_0\n1.0,2.0,0\n")
    with pytest.raises(ValidationFailed, match=r"wine_data.csv .* has shape \(1, 3\)"):
        read_bundled("wine", tmp_path)
    (tmp_path / "breast_cancer.csv").write_text("569,30,malignant,benign\n")
    with pytest.raises(ValidationFailed, match=r"breast_cancer.csv .* input contained no data"):
        read_bundled("breast_cancer", tmp_path)
    (tmp_path / "breast_cancer.csv").write_text("no header\n1.0,0\n")
    with pytest.raises(ValidationFailed, match=r"breast_cancer.csv .* no 'n_samples"):
        read_bundled("breast_cancer", tmp_path)
    (tmp_path / "digits.csv.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ValidationFailed, match=r"digits.csv.gz .* is not a numeric table"):
        read_bundled("digits", tmp_path)
    with gzip.open(tmp_path / "diabetes_data_raw.csv.gz", "wt") as raw:
        raw.write("1 2 3 4 5 6 7 8 9 10\n2 3 4 5 6 7 8 9 10 11\n")
    with gzip.open(tmp_path / "diabetes_target.csv.gz", "wt") as target:
        target.write("151\n")
    with pytest.raises(
        ValidationFailed, match=r"diabetes_target.csv.gz .* shape \(\), expected \(2,\)"
    ):
        read_bundled("diabetes", tmp_path)


def test_digits_and_sine_are_prescaled_and_feature_subsets_keep_the_mark() -> None:
    assert load_dataset("digits").prescaled and load_dataset("sine").prescaled
    assert load_dataset("digits", feature_columns=["pixel_3_4"]).prescaled
    assert load_dataset("digits").subset([0, 1]).prescaled


def test_builtin_feature_columns_keep_only_those_pixels() -> None:
    ds = load_dataset("digits", feature_columns=["pixel_3_4", "pixel_0_1"])
    full = load_dataset("digits")
    assert ds.feature_names == ["pixel_3_4", "pixel_0_1"]
    np.testing.assert_array_equal(ds.features[:, 0], full.features[:, 3 * 8 + 4])


def test_builtin_refuses_a_task_or_target_it_does_not_have() -> None:
    with pytest.raises(ValidationFailed, match="'digits' is a classification dataset"):
        load_dataset("digits", task="regression")
    with pytest.raises(ValidationFailed, match="target column must be 'sin_x'"):
        load_dataset("sine", target_column="y")
    with pytest.raises(ValidationFailed, match="digits: unknown column 'nope'"):
        load_dataset("digits", feature_columns=["nope"])


# --- Dataset, hashing, subsets, splits ---------------------------------------------


def test_content_hash_is_stable_and_changes_with_one_value() -> None:
    ds = tiny_dataset()
    assert ds.content_hash() == tiny_dataset().content_hash()
    assert len(ds.content_hash()) == 64
    # Same data under another name or source is the same content.
    assert tiny_dataset(name="other", source="elsewhere").content_hash() == ds.content_hash()
    changed = ds.features.copy()
    changed[2, 1] = 5.0001
    assert tiny_dataset(features=changed).content_hash() != ds.content_hash()
    assert tiny_dataset(targets=np.array([1.0, 2.0, 3.5])).content_hash() != ds.content_hash()
    assert tiny_dataset(feature_names=["a", "c"]).content_hash() != ds.content_hash()


def test_dataset_coerces_dtypes_and_reports_outputs() -> None:
    ds = tiny_dataset()
    assert ds.features.dtype == np.float32 and ds.targets.shape == (3, 1)
    assert (ds.n_rows, ds.n_features, ds.n_outputs) == (3, 2, 1)


def test_dataset_refuses_nan_and_out_of_range_classes() -> None:
    with pytest.raises(ValidationFailed, match="feature row 1 column 0 is NaN"):
        tiny_dataset(features=np.array([[0.0, 1.0], [np.nan, 3.0], [4.0, 5.0]]))
    with pytest.raises(ValidationFailed, match=r"class indices must lie in \[0, 1\]"):
        tiny_dataset(task="classification", targets=np.array([0, 1, 2]), target_names=["a", "b"])
    with pytest.raises(ValidationFailed, match="binary targets must be 0 or 1, row 1 is 2"):
        tiny_dataset(task="binary")


def test_subset_keeps_names_and_picks_rows() -> None:
    ds = tiny_dataset()
    part = ds.subset(np.array([2, 0]))
    np.testing.assert_array_equal(part.features, [[4.0, 5.0], [0.0, 1.0]])
    assert part.feature_names == ds.feature_names and part.source == ds.source
    with pytest.raises(ValidationFailed, match="row index out of range"):
        ds.subset(np.array([3]))


def test_split_refuses_bad_fractions_and_unsplittable_classes() -> None:
    with pytest.raises(ValidationFailed, match="test_fraction must be between 0 and 1"):
        split_dataset(tiny_dataset(), test_fraction=1.0)
    lonely = tiny_dataset(
        task="classification", targets=np.array([0, 0, 1]), target_names=["a", "b"]
    )
    with pytest.raises(ValidationFailed, match=r"cannot split dataset 'tiny'.*stratify to false"):
        split_dataset(lonely, test_fraction=0.34)


def test_regression_split_ignores_stratify() -> None:
    train, test = split_dataset(load_dataset("sine"), test_fraction=0.2, stratify=True)
    assert (train.n_rows, test.n_rows) == (800, 200)


# --- check_features -------------------------------------------------------------


def test_check_features_promotes_one_example_to_a_batch() -> None:
    out = check_features([1, 2, 3], 3)
    assert out.shape == (1, 3) and out.dtype == np.float32 and out.flags.c_contiguous


def test_check_features_width_mismatch() -> None:
    with pytest.raises(
        ValidationFailed, match="input width mismatch: expected 64 features, got 10"
    ):
        check_features(np.zeros((2, 10)), 64)


def test_check_features_names_the_nan_row_and_column() -> None:
    batch = np.zeros((5, 8))
    batch[3, 5] = np.nan
    with pytest.raises(ValidationFailed, match=r"input row 3 contains NaN \(column 5\)"):
        check_features(batch, 8)


def test_check_features_refuses_infinity_empty_and_overflow() -> None:
    batch = np.zeros((2, 4))
    batch[1, 0] = -np.inf
    with pytest.raises(ValidationFailed, match=r"query row 1 contains infinity \(column 0\)"):
        check_features(batch, 4, what="query")
    with pytest.raises(ValidationFailed, match="input is empty"):
        check_features(np.zeros((0, 4)), 4)
    with pytest.raises(ValidationFailed, match="input is empty"):
        check_features([], 4)
    with pytest.raises(ValidationFailed, match="out of float32 range"):
        check_features([[1e300, 0.0]], 2)
    with pytest.raises(ValidationFailed, match="one example"):
        check_features(np.zeros((2, 2, 2)), 2)


def test_check_features_passes_valid_float32_batches_through() -> None:
    batch = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = check_features(batch, 4)
    np.testing.assert_array_equal(out, batch)
    batch[2, 3] = np.nan
    with pytest.raises(ValidationFailed, match=r"input row 2 contains NaN \(column 3\)"):
        check_features(batch, 4)
