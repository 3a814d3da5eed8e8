"""Rank-based stochastic batch selection (the "softrank" of Kirsch et al., 2023).

``power`` and ``softmax`` live in :mod:`activelab.selection`; this module adds ``rank``,
which only uses the order of the scores, so it works for any score whatever its scale or
sign.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_k, check_scores
from . import _gumbel_top_k

__all__ = ["rank"]


def rank(scores: np.ndarray, k: int, rng: np.random.Generator, beta: float = 1.0) -> np.ndarray:
    """Stochastic batch: sample ``k`` rows without replacement with probability ∝ ``rank**(-beta)``.

    The highest score has rank 1; tied scores share the best rank of their group
    (competition ranking), so they are equally likely. Sampling is Gumbel-top-k on the keys
    ``-beta·log(rank)``.

    Args:
        scores: ``(N,)`` finite scores (any sign or scale), higher = ask first.
        k: Batch size, ``0 <= k <= N``.
        rng: Generator.
        beta: Larger values concentrate on the top ranks (Kirsch et al. use 1).

    Returns:
        ``(k,)`` int64 unique row indices.

    Raises:
        ValueError: If ``beta <= 0`` or the scores are not finite and 1-D.
        PoolExhaustedError: If ``k > N``.

    Cost: O(N log N) time (the ranks), O(N) memory.

    Example:
        >>> rank(np.array([-5.0, 3.0, 1.0]), 3, np.random.default_rng(0), beta=10.0).tolist()
        [1, 2, 0]
    """
    s = check_scores(scores)
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta}.")
    k = check_k(k, len(s))
    ordered = np.sort(s)
    ranks = 1 + (len(s) - np.searchsorted(ordered, s, side="right"))  # 1 + number of strictly higher scores
    return _gumbel_top_k(-beta * np.log(ranks.astype(np.float64)), k, rng)
