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

    The order is exactly that of ``np.lexsort((noise, -scores))[:k]``, but only the rows that
    can be chosen are sorted: the ``c`` rows strictly above the ``k``-th best score, and the
    ``k - c`` rows of lowest noise among those tied with it (found by a partition, so a pool
    where most scores tie, as ``frequency``'s zeros, is not sorted whole). Time O(m + k log k);
    a tie in ``noise`` itself across the cut (measure zero for random floats) falls back to
    sorting the tied rows.

    Example:
        >>> top_rows(np.array([1.0, 3.0, 3.0, 2.0]), 2, np.array([0.0, 0.9, 0.1, 0.0])).tolist()
        [2, 1]
    """
    neg = -np.asarray(scores, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    m = len(neg)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    if k >= m:
        return np.lexsort((noise, neg))[:k]
    kth = np.partition(neg, k - 1)[k - 1]
    better = np.flatnonzero(neg < kth)
    tied = np.flatnonzero(neg == kth)
    need = k - len(better)
    if need < len(tied):
        tn = noise[tied]
        cut = np.partition(tn, need - 1)[need - 1]
        if np.count_nonzero(tn == cut) == 1:  # the cut is unambiguous: keep the rows below it
            tied = tied[tn <= cut]
    rows = np.concatenate([better, tied])
    return rows[np.lexsort((noise[rows], neg[rows]))][:k]
