"""Tests for ``activelab.selection.tensors``: the torch helpers k-center and BADGE share."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from activelab.selection.tensors import CHUNK, as_tensor, first_argmax, sq_norms, sq_norms_checked


def test_as_tensor_shares_float_arrays_and_converts_the_rest() -> None:
    x32 = np.arange(12, dtype=np.float32).reshape(4, 3)
    t = as_tensor(x32, "x", None)
    assert t.dtype == torch.float32
    assert np.shares_memory(t.numpy(), x32)  # no copy on CPU
    x64 = x32.astype(np.float64)
    assert np.shares_memory(as_tensor(x64, "x", "cpu").numpy(), x64)
    ints = np.arange(6).reshape(2, 3)
    t_int = as_tensor(ints, "x", None)
    assert t_int.dtype == torch.float32
    np.testing.assert_array_equal(t_int.numpy(), ints)
    strided = np.asfortranarray(x64)
    t_f = as_tensor(strided, "x", None)
    assert t_f.numpy().flags.c_contiguous
    np.testing.assert_array_equal(t_f.numpy(), x64)
    with pytest.raises(ValueError, match=r"x must be 2-D \(n_rows, n_dims\), got shape \(3,\)"):
        as_tensor(np.zeros(3), "x", None)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(0, 4), (5, 1), (1000, 7), (3, CHUNK * 8 + 5)])
def test_sq_norms_equal_the_row_sums_of_squares(dtype: type, shape: tuple[int, int]) -> None:
    x = np.random.default_rng(0).normal(size=shape).astype(dtype)
    out = sq_norms(torch.from_numpy(x))
    assert out.dtype == torch.from_numpy(x).dtype
    assert out.shape == (shape[0],)
    np.testing.assert_allclose(out.numpy(), (x.astype(np.float64) ** 2).sum(1), rtol=1e-5)
    np.testing.assert_array_equal(sq_norms_checked(torch.from_numpy(x), "x").numpy(), out.numpy())


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_sq_norms_checked_names_the_bad_rows(bad: float) -> None:
    x = np.ones((10, 3), dtype=np.float32)
    x[7, 2] = bad
    with pytest.raises(ValueError, match=r"emb holds NaN/inf values \(first at row 7, column 2: "):
        sq_norms_checked(torch.from_numpy(x), "emb")
    assert not np.isfinite(sq_norms(torch.from_numpy(x)).numpy()[7])  # the unchecked norms pass it on


def test_first_argmax_takes_the_first_of_tied_maxima() -> None:
    assert first_argmax(torch.tensor([1.0, 3.0, 2.0, 3.0])) == 1
    assert first_argmax(torch.tensor([-1.0])) == 0
    assert isinstance(first_argmax(torch.tensor([0.0, 1.0])), int)
