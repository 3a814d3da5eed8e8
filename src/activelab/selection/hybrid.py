"""Hybrid selection: uncertainty filter + diversity (Cluster-Margin, two-step), score mixtures.

Costs (N rows, D dims, L labelled, k picks, M = size of the uncertainty-filtered subset):

=========================  ==============================================  =====================
function                   time                                            extra memory
=========================  ==============================================  =====================
``rank_normalise``         O(N log N)                                      O(N)
``mixture_scores``         O(S·N log N) for S score arrays                 O(N)
``two_step``               O(N) filter + k-center on L + M rows:           O((L + M)·D) copy
                           O((L + M)·L·D + k·(L + M)·D)
``cluster_margin``         O(N) filter + average-linkage HAC on M rows:     O(M²) (condensed
                           O(M²·D + M² log M)                              distances, float64)
=========================  ==============================================  =====================

Cluster-Margin clusters only the M filtered rows (``M ≤ max_subset``, default 5000: ~100 MB of
condensed distances), once per call; never the whole pool, never N×N.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from .._validation import check_k, check_mask, check_scores
from .kcenter import kcenter_greedy
from .sampling import top_k

__all__ = ["cluster_margin", "mixture_scores", "rank_normalise", "round_robin", "two_step"]


def _factor(value: object) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(float(value)):
        raise TypeError(f"factor must be a finite number, got {value!r}.")
    if float(value) < 1.0:
        raise ValueError(f"factor must be >= 1 (the filter keeps factor·k rows), got {value}.")
    return float(value)


def _emb(embeddings: object, n: int) -> np.ndarray:
    arr = np.asarray(embeddings)
    if arr.ndim != 2 or arr.shape[0] != n:
        raise ValueError(f"embeddings must have shape ({n}, n_dims) to match the scores, got {arr.shape}.")
    return arr


def rank_normalise(scores: np.ndarray) -> np.ndarray:
    """Map scores to ``[0, 1]`` by rank: lowest → 0, highest → 1, ties share their mean rank.

    Makes scores on different scales (margin in [0, 1], entropy in nats, BALD) addable.

    Example:
        >>> rank_normalise(np.array([0.2, 5.0, 0.2, 1.0])).tolist()
        [0.16666666666666666, 1.0, 0.16666666666666666, 0.6666666666666666]
    """
    from scipy.stats import rankdata

    s = check_scores(scores)
    if len(s) <= 1:
        return np.zeros(len(s))
    ranks: np.ndarray = (rankdata(s, method="average") - 1.0) / (len(s) - 1.0)
    return ranks


def mixture_scores(scores: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """Weighted sum of rank-normalised scores: ``Σ_j w_j · rank_normalise(s_j)``.

    Args:
        scores: S arrays of shape ``(N,)`` (higher = ask first each).
        weights: S non-negative weights, not all zero.

    Returns:
        ``(N,)`` float64 scores in ``[0, Σ w]``.

    Example:
        >>> mixture_scores([np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])], [0.75, 0.25]).tolist()
        [0.25, 0.5, 0.75]
    """
    if len(scores) != len(weights) or not len(scores):
        raise ValueError(f"mixture needs one weight per score array, got {len(scores)} arrays and {len(weights)} weights.")
    w = np.asarray(weights, dtype=np.float64)
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"mixture weights must be finite, >= 0 and not all 0, got {list(weights)}.")
    n = len(scores[0])
    out = np.zeros(n)
    for s, wj in zip(scores, w, strict=True):
        if len(s) != n:
            raise ValueError(f"every score array must have {n} rows, got one with {len(s)}.")
        out += wj * rank_normalise(s)
    return out


def _filter(scores: np.ndarray, labelled: np.ndarray, k: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """Absolute rows of the ``m`` highest-scoring unlabelled rows (ties at random)."""
    cand = np.flatnonzero(~labelled)
    rows: np.ndarray = cand[top_k(scores[cand], m, rng)]
    return rows


def two_step(
    scores: np.ndarray,
    embeddings: np.ndarray,
    labelled: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    factor: float = 10,
    device: str | None = None,
) -> np.ndarray:
    """Uncertainty then diversity: the ``M = ceil(factor·k)`` highest scores, then greedy k-center inside.

    k-center runs on the labelled rows (as centres) plus the M filtered rows, so the batch is
    spread out among the uncertain rows and away from what is already labelled.

    Args:
        scores: ``(N,)`` scores, higher = ask first (values of labelled rows are ignored).
        embeddings: ``(N, D)`` rows.
        labelled: ``(N,)`` bool mask.
        k: Rows to pick.
        rng: Ties in the filter and k-center's random first pick (when nothing is labelled).
        factor: Filter size as a multiple of k (``factor=1`` is plain top-k).
        device: torch device for k-center.

    Returns:
        ``(k,)`` int64 unique unlabelled row indices, in k-center pick order.

    Cost: O(N) filter, then k-center on L + M rows: O((L + M)·L·D + k·(L + M)·D) time and a
    (L + M)·D copy.

    Example:
        >>> s = np.array([0.9, 0.8, 0.7, 0.1])
        >>> X = np.array([[0.0], [0.1], [5.0], [9.0]], dtype=np.float32)
        >>> two_step(s, X, np.array([True, False, False, False]), 1, np.random.default_rng(0), factor=2).tolist()
        [2]
    """
    s = check_scores(scores)
    n = len(s)
    mask = check_mask(labelled, n)
    x = _emb(embeddings, n)
    n_cand = int(n - mask.sum())
    k = check_k(k, n_cand)
    if k == 0:
        return np.empty(0, dtype=np.int64)
    m = min(n_cand, max(k, int(np.ceil(_factor(factor) * k))))
    top = np.sort(_filter(s, mask, k, m, rng))
    lab = np.flatnonzero(mask)
    sub = np.concatenate([lab, top])
    sub_mask = np.zeros(len(sub), dtype=bool)
    sub_mask[: len(lab)] = True
    picked = kcenter_greedy(np.ascontiguousarray(x[sub]), sub_mask, k, rng, device=device)
    rows: np.ndarray = sub[picked].astype(np.int64)
    return rows


def _average_linkage_clusters(x: np.ndarray, n_clusters: int) -> np.ndarray:
    """Average-linkage HAC cut into at most ``n_clusters`` clusters; labels ``0..c-1``."""
    from scipy.cluster.hierarchy import fcluster, linkage

    if len(x) == 1:
        return np.zeros(1, dtype=np.int64)
    z = linkage(np.asarray(x, dtype=np.float64), method="average", metric="euclidean")
    lab = fcluster(z, t=n_clusters, criterion="maxclust")
    return np.unique(lab, return_inverse=True)[1].astype(np.int64)


def round_robin(clusters: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster-Margin's sampling: visit clusters from smallest to largest (ties → lower id),
    take one random unused member of each per pass, until ``k`` positions are taken.

    Args:
        clusters: ``(M,)`` int cluster labels of the filtered rows.
        k: ``<= M`` positions to return.
        rng: Shuffles each cluster's members (one permutation per cluster, in visit order).

    Returns:
        ``(k,)`` int64 positions into ``clusters``.
    """
    ids, sizes = np.unique(clusters, return_counts=True)
    order = ids[np.lexsort((ids, sizes))]
    queues = [rng.permutation(np.flatnonzero(clusters == c)) for c in order]
    picks: list[int] = []
    depth = 0
    while len(picks) < k:
        for q in queues:
            if depth < len(q):
                picks.append(int(q[depth]))
                if len(picks) == k:
                    break
        depth += 1
    return np.asarray(picks, dtype=np.int64)


def cluster_margin(
    scores: np.ndarray,
    embeddings: np.ndarray,
    labelled: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    factor: float = 10,
    n_clusters: int | None = None,
    max_subset: int = 5000,
) -> np.ndarray:
    """Cluster-Margin (Citovsky et al., 2021): margin filter, HAC, round-robin from the smallest cluster.

    The ``M = min(ceil(factor·k), max_subset)`` (at least k) highest-scoring unlabelled rows
    (scores = :func:`activelab.acquisition.margin` in the paper) are clustered by
    agglomerative clustering with average linkage (Euclidean) into at most ``n_clusters``
    clusters (default k); then clusters are visited from smallest to largest, taking one
    random member per visit (:func:`round_robin`).

    Difference from the paper: the paper clusters the whole pool once before the first round
    (with a distance threshold); here the filtered subset is clustered once per call, which
    needs only O(M²) memory and follows the current embeddings.

    Args:
        scores: ``(N,)`` scores, higher = ask first (e.g. margin scores).
        embeddings: ``(N, D)`` rows.
        labelled: ``(N,)`` bool mask.
        k: Rows to pick.
        rng: Ties in the filter and the round-robin draws.
        factor: Filter size as a multiple of k.
        n_clusters: Clusters of the filtered rows (default k).
        max_subset: Cap on M (the HAC holds M(M-1)/2 float64 distances).

    Returns:
        ``(k,)`` int64 unique unlabelled row indices.

    Cost: O(N) filter + O(M²·D + M² log M) HAC; O(M²) memory.

    Example:
        >>> s = np.array([0.9, 0.8, 0.85, 0.1])
        >>> X = np.array([[0.0], [0.1], [5.0], [9.0]])
        >>> sorted(cluster_margin(s, X, np.zeros(4, bool), 2, np.random.default_rng(0), factor=1.5).tolist())
        [0, 2]
    """
    s = check_scores(scores)
    n = len(s)
    mask = check_mask(labelled, n)
    x = _emb(embeddings, n)
    n_cand = int(n - mask.sum())
    k = check_k(k, n_cand)
    if k == 0:
        return np.empty(0, dtype=np.int64)
    if not isinstance(max_subset, numbers.Integral) or max_subset < 1:
        raise ValueError(f"max_subset must be a positive int, got {max_subset!r}.")
    m = min(n_cand, max(k, min(int(np.ceil(_factor(factor) * k)), int(max_subset))))
    c = k if n_clusters is None else int(n_clusters)
    if c < 1:
        raise ValueError(f"n_clusters must be >= 1, got {n_clusters}.")
    top = np.sort(_filter(s, mask, k, m, rng))
    clusters = _average_linkage_clusters(x[top], min(c, m))
    return top[round_robin(clusters, k, rng)]
