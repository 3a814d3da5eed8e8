"""Shared reference for the neighbour tests: an obviously correct brute-force kNN."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


def brute_knn(X: np.ndarray, k: int, Q: np.ndarray | None = None, exclude_self: bool = True):
    """Obviously correct reference: full float64 distance matrix, sort by (distance, index)."""
    x = X.astype(np.float64)
    q = x if Q is None else Q.astype(np.float64)
    d = ((q[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    if Q is None and exclude_self:
        np.fill_diagonal(d, np.inf)
    idx = np.empty((len(q), k), dtype=np.int64)
    for r in range(len(q)):
        order = np.lexsort((np.arange(len(x)), d[r]))
        idx[r] = order[:k]
    return np.take_along_axis(d, idx, 1), idx


@pytest.fixture(name="brute_knn")
def brute_knn_fixture() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """:func:`brute_knn`, for tests that compare against it."""
    return brute_knn
