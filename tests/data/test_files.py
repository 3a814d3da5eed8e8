"""Tests of user data files (``.npz``/``.csv``): loading, label mapping and validation errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from activelab.data.files import DataFileError, load_file
from activelab.errors import ActiveLabError, DataWarning


# --- user files ------------------------------------------------------------------------------


def test_npz_round_trip_with_string_labels(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3))
    y = np.array(["cat", "dog", "emu"] * 4)
    X_test = rng.normal(size=(4, 3))
    y_test = np.array(["dog", "cat", "zebra", "emu"])  # 'zebra' only in the test split
    path = tmp_path / "animals.npz"
    np.savez(path, X=X, y=y, X_test=X_test, y_test=y_test)
    ds = load_file(path)
    assert ds.name == "animals.npz"
    assert ds.class_names == ("cat", "dog", "emu", "zebra") and ds.n_classes == 4
    assert ds.X.dtype == np.float32 and ds.y.dtype == np.int64
    np.testing.assert_allclose(ds.X, X.astype(np.float32))
    assert ds.y[:3].tolist() == [0, 1, 2]
    assert ds.y_test is not None and ds.y_test.tolist() == [1, 0, 3, 2]


def test_npz_int_labels_are_remapped(tmp_path: Path) -> None:
    path = tmp_path / "ints.npz"
    np.savez(path, X=np.ones((4, 2, 2)), y=np.array([10, -1, 10, 5]))
    with pytest.warns(DataWarning, match=r"stray label value\(s\) -1 \(1 item: row 1 of y\) next to the classes 5, 10"):
        ds = load_file(str(path))
    assert ds.X.shape == (4, 2, 2) and ds.X_test is None
    assert ds.class_names == ("-1", "5", "10")
    assert ds.y.tolist() == [2, 0, 2, 1]


def test_csv_without_header(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("0.5,1,10\n1.5,2,2\n-1,3e-1,10\n\n")
    ds = load_file(path)
    np.testing.assert_allclose(ds.X, [[0.5, 1], [1.5, 2], [-1, 0.3]])
    assert ds.class_names == ("2", "10")  # integer labels sort as numbers
    assert ds.y.tolist() == [1, 0, 1] and ds.X_test is None


def test_csv_with_header_and_string_labels(tmp_path: Path) -> None:
    path = tmp_path / "iris.csv"
    path.write_text("length, width ,species\n1,2,setosa\n3,4,virginica\n5,6,setosa\n")
    ds = load_file(path)
    assert ds.X.shape == (3, 2) and ds.X.dtype == np.float32
    assert ds.class_names == ("setosa", "virginica")
    assert ds.y.tolist() == [0, 1, 0]


def test_npz_csv_same_result(tmp_path: Path) -> None:
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    y = np.array(["b", "a", "b"])
    np.savez(tmp_path / "d.npz", X=X, y=y)
    (tmp_path / "d.csv").write_text("".join(f"{a},{b},{c}\n" for (a, b), c in zip(X, y, strict=True)))
    from_npz, from_csv = load_file(tmp_path / "d.npz"), load_file(tmp_path / "d.csv")
    np.testing.assert_array_equal(from_npz.X, from_csv.X)
    np.testing.assert_array_equal(from_npz.y, from_csv.y)
    assert from_npz.class_names == from_csv.class_names == ("a", "b")


def test_file_errors_are_activelab_and_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ActiveLabError):
        load_file(tmp_path / "missing.csv")
    with pytest.raises(ValueError):
        load_file(tmp_path / "missing.csv")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match=r"missing\.npz' does not exist"):
        load_file(tmp_path / "missing.npz")


def test_wrong_extension(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text("{}")
    with pytest.raises(DataFileError, match=r"extension must be \.npz or \.csv, got \.json"):
        load_file(path)


def test_directory_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(DataFileError, match="not a regular file"):
        load_file(tmp_path / "folder.csv")


def test_npz_missing_y(tmp_path: Path) -> None:
    path = tmp_path / "noy.npz"
    np.savez(path, X=np.zeros((3, 2)), labels=np.zeros(3))
    with pytest.raises(DataFileError, match=r"missing array\(s\) y; found X, labels"):
        load_file(path)


def test_npz_missing_both(tmp_path: Path) -> None:
    path = tmp_path / "none.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(DataFileError, match=r"missing array\(s\) X, y"):
        load_file(path)


def test_npz_half_test_split(tmp_path: Path) -> None:
    path = tmp_path / "half.npz"
    np.savez(path, X=np.zeros((4, 2)), y=np.array([0, 1, 0, 1]), X_test=np.zeros((2, 2)))
    with pytest.raises(DataFileError, match="has X_test but not y_test; give both or neither"):
        load_file(path)


def test_npz_nan_count(tmp_path: Path) -> None:
    X = np.zeros((5, 2))
    X[0, 0] = np.nan
    X[3, 1] = np.inf
    path = tmp_path / "nan.npz"
    np.savez(path, X=X, y=np.array([0, 1, 0, 1, 0]))
    with pytest.raises(DataFileError, match=r"nan\.npz: X holds 2 NaN/inf value"):
        load_file(path)


def test_npz_nan_in_test_split(tmp_path: Path) -> None:
    X_test = np.zeros((2, 2))
    X_test[1, 1] = np.nan
    path = tmp_path / "nant.npz"
    np.savez(path, X=np.zeros((2, 2)), y=np.array([0, 1]), X_test=X_test, y_test=np.array([0, 1]))
    with pytest.raises(DataFileError, match="X_test holds 1 NaN/inf value"):
        load_file(path)


def test_single_class(tmp_path: Path) -> None:
    path = tmp_path / "one.npz"
    np.savez(path, X=np.zeros((3, 2)), y=np.array(["a", "a", "a"]))
    with pytest.raises(DataFileError, match=r"at least 2 classes, found 1 \('a'\)"):
        load_file(path)


def test_x_must_be_2d(tmp_path: Path) -> None:
    path = tmp_path / "flat.npz"
    np.savez(path, X=np.zeros(4), y=np.array([0, 1, 0, 1]))
    with pytest.raises(DataFileError, match=r"X must be at least 2-D .* got shape \(4,\)"):
        load_file(path)


def test_length_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "len.npz"
    np.savez(path, X=np.zeros((4, 2)), y=np.array([0, 1, 0]))
    with pytest.raises(DataFileError, match="X has 4 rows but y has 3 labels"):
        load_file(path)


def test_y_must_be_1d(tmp_path: Path) -> None:
    path = tmp_path / "y2d.npz"
    np.savez(path, X=np.zeros((2, 2)), y=np.array([[0, 1], [1, 0]]))
    with pytest.raises(DataFileError, match=r"y must be 1-D"):
        load_file(path)


def test_test_feature_shape_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "shape.npz"
    np.savez(path, X=np.zeros((2, 3)), y=np.array([0, 1]), X_test=np.zeros((2, 4)), y_test=np.array([0, 1]))
    with pytest.raises(DataFileError, match=r"X_test items have shape \(4,\) but X items have \(3,\)"):
        load_file(path)


def test_string_features_rejected(tmp_path: Path) -> None:
    path = tmp_path / "strx.npz"
    np.savez(path, X=np.array([["a", "b"], ["c", "d"]]), y=np.array([0, 1]))
    with pytest.raises(DataFileError, match="X must be numeric"):
        load_file(path)


def test_object_arrays_rejected(tmp_path: Path) -> None:
    path = tmp_path / "obj.npz"
    np.savez(path, X=np.zeros((2, 2)), y=np.array(["a", None], dtype=object))
    with pytest.raises(DataFileError, match="Object arrays are not supported"):
        load_file(path)


def test_not_an_npz(tmp_path: Path) -> None:
    path = tmp_path / "fake.npz"
    path.write_text("hello")
    with pytest.raises(DataFileError, match="fake.npz"):
        load_file(path)


def test_mixed_label_kinds(tmp_path: Path) -> None:
    path = tmp_path / "mixed.npz"
    np.savez(path, X=np.zeros((2, 2)), y=np.array([0, 1]), X_test=np.zeros((2, 2)), y_test=np.array(["a", "b"]))
    with pytest.raises(DataFileError, match="both be strings or both be numbers"):
        load_file(path)


def test_csv_non_numeric_feature(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("1,2,a\n3,oops,b\n")
    with pytest.raises(DataFileError, match=r"line 2, column 2: 'oops' is not a number"):
        load_file(path)


def test_csv_ragged(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("x,y,label\n1,2,a\n3,b\n")
    with pytest.raises(DataFileError, match="line 3 has 2 columns, expected 3"):
        load_file(path)


def test_csv_nan(tmp_path: Path) -> None:
    path = tmp_path / "nan.csv"
    path.write_text("1,nan,a\n3,4,b\ninf,-inf,a\n")
    with pytest.raises(DataFileError, match=r"nan\.csv: X holds 3 NaN/inf value"):
        load_file(path)


def test_csv_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("a,b,label\n")
    with pytest.raises(DataFileError, match="no data rows"):
        load_file(path)


def test_csv_one_column(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("1\n2\n")
    with pytest.raises(DataFileError, match="at least 2 columns"):
        load_file(path)


def test_csv_empty_label(tmp_path: Path) -> None:
    path = tmp_path / "nolabel.csv"
    path.write_text("1,2,a\n3,4,\n")
    with pytest.raises(DataFileError, match="line 2 has an empty label"):
        load_file(path)


# --------------------------------------------------------------------------- label sanity
def _labels(kind: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    if kind == "continuous":
        return rng.normal(size=600)
    if kind == "ids":
        return np.arange(600)
    y = rng.integers(0, 3, 600)
    if kind == "huge":
        y[7] = 10**12
    elif kind == "negative":
        y[[3, 9]] = -1
    elif kind == "typo":
        y = np.array(["cat", "dog", "emu"], dtype="<U4")[y]
        y[11] = "catt"
    return y


@pytest.mark.parametrize(("kind", "match"), [
    ("continuous", r"look like a continuous target \(600 distinct float values such as .*regression is not supported yet"),
    ("ids", r"600 distinct values for 600 items.*continuous target or an ID column"),
])
def test_a_continuous_target_is_refused(tmp_path: Path, kind: str, match: str) -> None:
    np.savez(tmp_path / "d.npz", X=np.ones((600, 2)), y=_labels(kind))
    with pytest.raises(DataFileError, match=match):
        load_file(tmp_path / "d.npz")


@pytest.mark.parametrize(("kind", "match"), [
    ("huge", r"stray label value\(s\) 1000000000000 \(1 item: row 7 of y\) next to the classes 0, 1, 2"),
    ("negative", r"stray label value\(s\) -1 \(2 items: rows 3, 9 of y\) next to the classes 0, 1, 2"),
    ("typo", r"stray label value\(s\) catt \(1 item: row 11 of y\) next to the classes cat, dog, emu"),
])
def test_stray_label_values_are_named_in_a_warning(tmp_path: Path, kind: str, match: str) -> None:
    np.savez(tmp_path / "d.npz", X=np.ones((600, 2)), y=_labels(kind))
    with pytest.warns(DataWarning, match=match):
        ds = load_file(tmp_path / "d.npz")
    assert ds.n_classes == 4  # they stay classes of their own


def test_clean_labels_give_no_warning(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", X=np.ones((600, 2)), y=_labels("clean").astype(float))  # 0.0, 1.0, 2.0 are classes
    assert load_file(tmp_path / "d.npz").n_classes == 3
