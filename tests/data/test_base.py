"""Tests of the held-out split rule, feature scaling and the data fingerprint (:mod:`activelab.data.base`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from activelab.data.base import Dataset, fingerprint, scale_features, with_test_split
from activelab.data.builtin import load_digits
from activelab.data.files import load_file


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


def _tabular() -> Dataset:
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(50, 3)) * [1.0, 100.0, 0.0] + [0.0, 5.0, 7.0]).astype(np.float32)
    X_test = (rng.normal(size=(20, 3)) * 100.0).astype(np.float32)
    return Dataset("t", X, np.arange(50) % 2, X_test, np.arange(20) % 2)


@pytest.mark.parametrize("method", ["standard", "minmax"])
def test_scale_features_fits_on_the_pool_only(method: str) -> None:
    ds = _tabular()
    scaled = scale_features(ds, method)
    X = ds.X.astype(np.float64)
    if method == "standard":
        np.testing.assert_allclose(scaled.X[:, :2].mean(0), 0.0, atol=1e-5)
        np.testing.assert_allclose(scaled.X[:, :2].std(0), 1.0, atol=1e-5)
        expected = (ds.X_test[:, 1] - X[:, 1].mean()) / X[:, 1].std()
    else:
        assert scaled.X[:, :2].min() == 0.0 and scaled.X[:, :2].max() == pytest.approx(1.0)
        expected = (ds.X_test[:, 1] - X[:, 1].min()) / (X[:, 1].max() - X[:, 1].min())
    np.testing.assert_allclose(scaled.X_test[:, 1], expected, rtol=1e-5)  # the test split uses the pool's statistics
    assert np.isfinite(scaled.X).all() and scaled.X.dtype == np.float32  # a constant feature is only shifted
    assert scale_features(ds, "none") is ds
    images = Dataset("i", np.ones((4, 1, 2, 2), dtype=np.float32), np.array([0, 1, 0, 1]))
    assert scale_features(images, "standard") is images
    with pytest.raises(ValueError, match="scale must be one of standard, minmax, none, got 'z'"):
        scale_features(ds, "z")


def test_fingerprint_changes_with_the_content_not_only_the_shape() -> None:
    ds = _tabular()
    same = Dataset("other name", ds.X.copy(), ds.y.copy(), ds.X_test.copy(), ds.y_test.copy())
    shuffled = Dataset("t", ds.X, ds.y[::-1].copy(), ds.X_test, ds.y_test)
    assert fingerprint(ds) == fingerprint(same)
    assert fingerprint(shuffled)["shape"] == fingerprint(ds)["shape"]
    assert fingerprint(shuffled)["sha256"] != fingerprint(ds)["sha256"]
