"""Candidate pairs and bad triangles, without enumerating all ``N^2 / 2`` pairs for large ``N``.

* Small pools (``N (N - 1) / 2 <= max_exhaustive_pairs``) use every pair as a candidate and
  every item as the third vertex of a triangle: this is the paper's protocol (N = 500) and
  costs ``O(N^2)`` time in chunks, ``O(N^2)`` memory for the pair list only (2 MB at N = 500).
* Large pools use pairs of a kNN graph of the features, the queried pairs, random pairs and
  random same-cluster pairs; third vertices come from the graph neighbours of both ends plus a
  few random items. Time and memory are ``O(N k + q + n_random)``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._arrays import unique_ints
from ..neighbors import knn
from .solvers import gather_rows
from .store import SimilarityStore, n_pairs, pair_keys

__all__ = [
    "BadTriangles",
    "CandidateConfig",
    "all_pairs",
    "bad_triangles",
    "candidate_pairs",
    "knn_pairs",
    "violations",
]


@dataclass(frozen=True)
class CandidateConfig:
    """How candidate pairs and third vertices are found.

    Attributes:
        max_exhaustive_pairs: Use all pairs while ``N (N-1)/2`` is at most this (default
            2**20, i.e. ``N <= 1448``); above it, sample as below.
        n_random: Random pairs added per round (large ``N``).
        n_same_cluster: Random same-cluster partners per item drawn per round, as pairs, for up
            to ``n_random`` items (large ``N``).
        n_random_third: Random third vertices per violated pair (large ``N``).
        chunk_elements: Maximal ``rows x N`` of a dense chunk in the exhaustive mode.
    """

    max_exhaustive_pairs: int = 2**20
    n_random: int = 50_000
    n_same_cluster: int = 2
    n_random_third: int = 8
    chunk_elements: int = 2**22

    def exhaustive(self, n_items: int) -> bool:
        """Whether a pool of ``n_items`` uses all pairs."""
        return n_pairs(n_items) <= self.max_exhaustive_pairs


@functools.lru_cache(maxsize=4)
def _all_pairs(n_items: int) -> np.ndarray:
    i, j = np.triu_indices(n_items, k=1)
    out = np.stack([i, j], axis=1).astype(np.int64)
    out.setflags(write=False)
    return out


def all_pairs(n_items: int) -> np.ndarray:
    """Every pair ``(i < j)``, int64 ``(N (N-1)/2, 2)``; only for small ``N``.

    Example:
        >>> all_pairs(3).tolist()
        [[0, 1], [0, 2], [1, 2]]
    """
    return _all_pairs(n_items)


def _unique_pairs(pairs: np.ndarray, n_items: int) -> np.ndarray:
    pairs = np.sort(pairs, axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    keys = unique_ints(pair_keys(pairs, n_items))
    return np.stack([keys // n_items, keys % n_items], axis=1)


def knn_pairs(X: np.ndarray, k: int = 10, chunk_size: int = 4096) -> np.ndarray:
    """Pairs of the symmetrised ``k``-nearest-neighbour graph (Euclidean), ``(m, 2)``, ``m <= N k``.

    Exact search with :func:`activelab.neighbors.knn` (faiss or scikit-learn): time ``O(N^2 d)``,
    memory ``O(chunk_size * N)``.
    """
    X = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
    n = len(X)
    k = min(k, n - 1)
    if k < 1:
        return np.empty((0, 2), dtype=np.int64)
    _, idx = knn(X, k, exclude_self=True, chunk_size=chunk_size)
    rows = np.repeat(np.arange(n), idx.shape[1])
    return _unique_pairs(np.stack([rows, np.asarray(idx).reshape(-1)], axis=1), n)


def violations(store: SimilarityStore, labels: np.ndarray, pairs: np.ndarray, s: np.ndarray | None = None) -> np.ndarray:
    """Bool ``(m,)``: the pair disagrees with the clustering (``S >= 0`` across clusters or ``S < 0`` within).

    Example:
        >>> from activelab.clustering.store import partition_prior
        >>> store = SimilarityStore(partition_prior(np.array([0, 0, 1])))
        >>> violations(store, np.array([0, 1, 1]), np.array([[0, 1], [1, 2]])).tolist()
        [True, True]
    """
    if s is None:
        s = store.similarity(pairs)
    same = labels[pairs[:, 0]] == labels[pairs[:, 1]]
    return np.where(same, s < 0, s >= 0)


def candidate_pairs(
    store: SimilarityStore,
    labels: np.ndarray,
    rng: np.random.Generator,
    config: CandidateConfig,
    graph_pairs: np.ndarray | None = None,
) -> np.ndarray:
    """Candidate pairs of a round: canonical, unique, each with fewer than ``tau`` answers.

    Small ``N``: all pairs. Large ``N``: ``graph_pairs`` (kNN) + queried pairs + ``n_random``
    random pairs + random same-cluster pairs. Time and memory ``O(N k + q + n_random)``.
    """
    n = store.n_items
    if config.exhaustive(n):
        cand = all_pairs(n)
    else:
        parts = [store.queried_pairs()]
        if graph_pairs is not None:
            parts.append(graph_pairs)
        m = config.n_random
        parts.append(rng.integers(0, n, size=(m, 2)))
        if config.n_same_cluster:
            items = rng.choice(n, size=min(n, m), replace=False)
            order = np.argsort(labels, kind="stable")
            sizes = np.bincount(labels)
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            for _ in range(config.n_same_cluster):
                c = labels[items]
                partner = order[starts[c] + (rng.random(len(items)) * sizes[c]).astype(np.int64)]
                parts.append(np.stack([items, partner], axis=1))
        cand = _unique_pairs(np.concatenate(parts).astype(np.int64), n)
    return cand[store.counts_of(cand) < store.tau]


@dataclass(frozen=True)
class BadTriangles:
    """Bad triangles ``(i, j, k)`` found for a set of pairs ``(i, j)``.

    Attributes:
        pair_index: Row of the pair in the input, int64 ``(t,)``.
        k: Third vertex, int64 ``(t,)``.
        s: Similarities ``(t, 3)`` of the edges ``(i, j), (i, k), (j, k)``.
    """

    pair_index: np.ndarray
    k: np.ndarray
    s: np.ndarray


def _neighbour_thirds(
    graph: sp.csr_matrix, pairs: np.ndarray, rng: np.random.Generator, n_random: int
) -> tuple[np.ndarray, np.ndarray]:
    n = graph.shape[0]
    li, ki, _ = gather_rows(graph, pairs[:, 0])
    lj, kj, _ = gather_rows(graph, pairs[:, 1])
    lr = np.repeat(np.arange(len(pairs)), n_random)
    kr = rng.integers(0, n, size=len(lr))
    p = np.concatenate([li, lj, lr])
    k = np.concatenate([ki, kj, kr])
    keys = unique_ints(p * np.int64(n) + k)
    p, k = keys // n, keys % n
    keep = (k != pairs[p, 0]) & (k != pairs[p, 1])
    return p[keep], k[keep]


def bad_triangles(
    store: SimilarityStore,
    pairs: np.ndarray,
    *,
    graph: sp.csr_matrix | None = None,
    rng: np.random.Generator | None = None,
    config: CandidateConfig | None = None,
    dense: np.ndarray | None = None,
) -> BadTriangles:
    """All bad triangles (exactly two edges with ``S > 0``) through each of ``pairs``.

    Third vertices: every item when ``N`` is small (``config.exhaustive(N)``), otherwise the
    neighbours of either end in ``graph`` (e.g. kNN + queried pairs) plus
    ``config.n_random_third`` random items. Exhaustive: ``O(m N r)`` time in chunks of
    ``config.chunk_elements`` entries (``O(m N)`` with ``dense``, the matrix of
    :meth:`~.store.SimilarityStore.dense`); neighbour mode: ``O(sum of degrees)``.

    Example:
        >>> from activelab.clustering.store import zero_prior
        >>> store = SimilarityStore(zero_prior(3))
        >>> store.add([[0, 1], [1, 2], [0, 2]], [1.0, 1.0, -1.0])
        >>> t = bad_triangles(store, np.array([[0, 2]]))
        >>> t.pair_index.tolist(), t.k.tolist()
        ([0], [1])
    """
    config = config or CandidateConfig()
    n = store.n_items
    s_ij = store.similarity(pairs) if dense is None else dense[pairs[:, 0], pairs[:, 1]]
    if config.exhaustive(n) or graph is None:
        delta = store.delta_csr() if dense is None else None
        chunk = max(1, config.chunk_elements // n)
        out_p, out_k, out_s = [], [], []
        for s in range(0, len(pairs), chunk):
            p = pairs[s:s + chunk]
            ri = store.rows(p[:, 0], delta) if dense is None else dense[p[:, 0]]
            rj = store.rows(p[:, 1], delta) if dense is None else dense[p[:, 1]]
            pos = (ri > 0).astype(np.int8) + (rj > 0) + (s_ij[s:s + chunk, None] > 0)
            pos[np.arange(len(p)), p[:, 0]] = 0
            pos[np.arange(len(p)), p[:, 1]] = 0
            lp, kk = np.nonzero(pos == 2)
            out_p.append(lp + s)
            out_k.append(kk)
            out_s.append(np.stack([s_ij[lp + s], ri[lp, kk], rj[lp, kk]], axis=1))
        if not out_p:
            return BadTriangles(np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, 3)))
        return BadTriangles(
            np.concatenate(out_p).astype(np.int64), np.concatenate(out_k).astype(np.int64), np.concatenate(out_s)
        )
    if rng is None:
        raise ValueError("bad_triangles needs an rng in the neighbour mode (random third vertices).")
    p, k = _neighbour_thirds(graph, pairs, rng, config.n_random_third)
    s_ik = store.similarity(np.stack([pairs[p, 0], k], axis=1))
    s_jk = store.similarity(np.stack([pairs[p, 1], k], axis=1))
    pos = (s_ij[p] > 0).astype(np.int8) + (s_ik > 0) + (s_jk > 0)
    bad = pos == 2
    return BadTriangles(p[bad], k[bad], np.stack([s_ij[p][bad], s_ik[bad], s_jk[bad]], axis=1))
