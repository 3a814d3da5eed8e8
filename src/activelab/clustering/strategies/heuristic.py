"""Heuristic pair strategies: ``uniform`` (random), ``frequency`` (least answered first) and
``uncertainty`` (estimate closest to 0 first).
"""

from __future__ import annotations

import numpy as np

from ...errors import PoolExhaustedError
from ..store import pair_keys
from .base import ClusterState, ScorePairStrategy, check_batch_size, checked_candidates

__all__ = ["Frequency", "Uncertainty", "Uniform"]


class Uniform:
    """Uniformly random pairs among those with fewer than ``tau`` answers."""

    name = "uniform"

    def select(self, state: ClusterState, k: int, rng: np.random.Generator) -> np.ndarray:
        """Small ``N``: sample the candidate list; large ``N``: rejection-sample all pairs. O(k)."""
        check_batch_size(state, k)
        n = state.n_items
        if state.config.exhaustive(n):
            cand = checked_candidates(state, k, rng)
            return cand[np.sort(rng.choice(len(cand), size=k, replace=False))]
        out = np.empty((0, 2), dtype=np.int64)
        for _ in range(100):
            draw = np.sort(rng.integers(0, n, size=(2 * (k - len(out)) + 16, 2)), axis=1)
            draw = draw[draw[:, 0] != draw[:, 1]]
            draw = draw[state.store.counts_of(draw) < state.store.tau]
            keys = pair_keys(np.concatenate([out, draw]), n)
            _, first = np.unique(keys, return_index=True)
            out = np.concatenate([out, draw])[np.sort(first)][:k]
            if len(out) == k:
                return out
        raise PoolExhaustedError("could not draw enough unanswered random pairs; the pool is nearly exhausted.")


class Frequency(ScorePairStrategy):
    """Least-answered pairs first."""

    name = "frequency"

    def scores(self, state: ClusterState, pairs: np.ndarray) -> np.ndarray:
        """``-count``; O(m log q)."""
        return -state.store.counts_of(pairs).astype(np.float64)


class Uncertainty(ScorePairStrategy):
    """Pairs whose estimate is closest to 0 first."""

    name = "uncertainty"

    def scores(self, state: ClusterState, pairs: np.ndarray) -> np.ndarray:
        """``-|S|``; O(m (r + log q))."""
        scores: np.ndarray = -np.abs(state.store.similarity(pairs))
        return scores
