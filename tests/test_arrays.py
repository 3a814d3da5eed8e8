"""``activelab._arrays.unique_ints`` against ``np.unique``."""

from __future__ import annotations

import numpy as np
import pytest

from activelab._arrays import unique_ints


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint16, np.int8])
@pytest.mark.parametrize("size", [0, 1, 2, 17, 5000])
def test_same_values_and_dtype_as_np_unique(dtype: type, size: int) -> None:
    gen = np.random.default_rng(size)
    values = gen.integers(0, 100 if size > 50 else 5, size).astype(dtype)
    got = unique_ints(values)
    want = np.unique(values)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_negative_and_extreme_keys() -> None:
    values = np.array([np.iinfo(np.int64).max, -3, 0, -3, np.iinfo(np.int64).min, 0], dtype=np.int64)
    np.testing.assert_array_equal(unique_ints(values), np.unique(values))


@pytest.mark.parametrize("bad", [np.zeros((2, 2), dtype=np.int64), np.array([0.5, 1.5])])
def test_rejects_what_it_does_not_handle(bad: np.ndarray) -> None:
    with pytest.raises(TypeError, match="unique_ints takes a 1-D integer array"):
        unique_ints(bad)
