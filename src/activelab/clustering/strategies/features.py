"""Per-candidate pair features, so a learned pair policy can score candidates like the built-ins."""

from __future__ import annotations

import numpy as np

from ..candidates import violations
from ..solvers import same_cluster_prob
from .base import ClusterState
from .information import binary_entropy

__all__ = ["pair_features"]


def pair_features(state: ClusterState, pairs: np.ndarray) -> np.ndarray:
    """Per-candidate features for a learned pair policy, float32 ``(m, 8)``.

    Columns: ``|S|``, answers / tau, same current cluster, violates the clustering, size of
    the cluster of ``u`` / N and of ``v`` / N, ``P(u ~ v)`` (mean field), its binary entropy.
    All are dimension-free and scale-free. Time O(m K) after the mean field. The shipped
    ``learned`` policy uses the 21 columns of :func:`.learned.policy_features` (these eight
    plus the signed ``S``, triangle costs, per-item evidence and round values).
    """
    store = state.store
    s = store.similarity(pairs)
    sizes = np.bincount(state.labels) / state.n_items
    p = same_cluster_prob(state.soft_assignments(), pairs)
    return np.stack([
        np.abs(s),
        store.counts_of(pairs) / store.tau,
        (state.labels[pairs[:, 0]] == state.labels[pairs[:, 1]]).astype(np.float64),
        violations(store, state.labels, pairs, s).astype(np.float64),
        sizes[state.labels[pairs[:, 0]]],
        sizes[state.labels[pairs[:, 1]]],
        p,
        binary_entropy(p),
    ], axis=1).astype(np.float32)
