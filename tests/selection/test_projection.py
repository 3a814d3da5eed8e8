"""Tests for ``activelab.selection.projection``: the Gaussian random projection."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from activelab.selection import random_projection


# ------------------------------------------------------------------------ random_projection
def test_random_projection_shape_dtype_and_determinism() -> None:
    x = np.random.default_rng(0).normal(size=(300, 40))
    z = random_projection(x, 8, np.random.default_rng(1), chunk=64)
    assert z.shape == (300, 8)
    assert z.dtype == np.float32
    assert z.flags.c_contiguous
    np.testing.assert_array_equal(z, random_projection(x, 8, np.random.default_rng(1)))
    assert not np.array_equal(z, random_projection(x, 8, np.random.default_rng(2)))


def test_random_projection_roughly_preserves_distances() -> None:
    x = np.random.default_rng(0).normal(size=(100, 512)).astype(np.float32)
    z = random_projection(x, 256, np.random.default_rng(1))
    ratio = cdist(z, z)[np.triu_indices(100, 1)] / cdist(x, x)[np.triu_indices(100, 1)]
    assert 0.9 < np.median(ratio) < 1.1
    assert ratio.min() > 0.7
    assert ratio.max() < 1.3


def test_random_projection_to_wider_is_a_float32_copy() -> None:
    x = np.arange(12.0).reshape(4, 3)
    z = random_projection(x, 3, np.random.default_rng(0))
    assert z.dtype == np.float32
    np.testing.assert_array_equal(z, x)
    with pytest.raises(ValueError, match="dim must be a positive int"):
        random_projection(x, 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="2-D"):
        random_projection(np.zeros(3), 2, np.random.default_rng(0))
