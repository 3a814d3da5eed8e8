"""Top-``k`` of scored pairs with random tie-breaking (array level, no state)."""

from __future__ import annotations

import numpy as np

from ...errors import PoolExhaustedError

__all__ = ["top_k_pairs", "top_rows"]


def top_k_pairs(pairs: np.ndarray, scores: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """The ``k`` highest-scoring rows of ``pairs``, ties broken at random. O(m + k log k) typically.

    Example:
        >>> top_k_pairs(np.array([[0, 1], [0, 2], [1, 2]]), np.array([0.1, 0.9, 0.5]), 2,
        ...             np.random.default_rng(0)).tolist()
        [[0, 2], [1, 2]]
    """
    if k > len(pairs):
        raise PoolExhaustedError(f"asked for {k} pairs but only {len(pairs)} candidates remain.")
    top: np.ndarray = pairs[top_rows(scores, k, rng.random(len(scores)))]
    return top


def top_rows(scores: np.ndarray, k: int, noise: np.ndarray) -> np.ndarray:
    """Rows of the ``k`` highest ``scores``, ties broken by ``noise``, best first.

    Only rows scoring at least the k-th best can be chosen, so only those are sorted
    (O(m + r log r)); the order is exactly that of ``np.lexsort((noise, -scores))[:k]``.

    Example:
        >>> top_rows(np.array([1.0, 3.0, 3.0, 2.0]), 2, np.array([0.0, 0.9, 0.1, 0.0])).tolist()
        [2, 1]
    """
    neg = -np.asarray(scores, dtype=np.float64)
    rows = np.arange(len(neg))
    if 0 < k < len(neg):
        keep = np.flatnonzero(neg <= np.partition(neg, k - 1)[k - 1])
        if len(keep) >= k:
            rows = keep
    return rows[np.lexsort((noise[rows], neg[rows]))][:k]
