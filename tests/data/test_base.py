"""Tests of the held-out split rule :func:`~activelab.data.base.with_test_split`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from activelab.data.base import with_test_split
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
