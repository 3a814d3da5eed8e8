"""Bad-triangle pair strategies ``maxmin`` / ``maxexp`` (Aronsson & Chehreghani, TMLR 2024).

Over the bad triangles through pairs that violate the current clustering, the least certain
edge of each triangle gets ``|S|`` (maxmin) or the triangle's expected correlation-clustering
cost under a Boltzmann distribution over its 5 partitions (maxexp, max over triangles);
top-``k``; with probability ``eps`` the whole batch is ``frequency`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..._arrays import unique_ints
from ..candidates import all_pairs, bad_triangles, violations
from ..store import pair_keys
from .base import ClusterState, check_batch_size, fill_pairs
from .heuristic import Frequency
from .selection import top_k_pairs

__all__ = ["MaxTriangle", "triangle_expected_cost"]

# Which edges of a triangle lie inside a cluster, for its 5 partitions; edges are (i, j), (i, k), (j, k).
_SAME = np.array([
    [1, 1, 1],  # {i, j, k}
    [0, 1, 0],  # {i, k} {j}
    [1, 0, 0],  # {i, j} {k}
    [0, 0, 1],  # {j, k} {i}
    [0, 0, 0],  # {i} {j} {k}
], dtype=np.float64)


def _cost_columns(s0: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> tuple[np.ndarray, ...]:
    """Correlation-clustering cost of the 5 partitions of triangles (the rows of :data:`_SAME`), as 5 columns.

    ``s0, s1, s2`` are the similarities of the edges ``(i, j), (i, k), (j, k)``. An edge inside
    a cluster costs ``|s|`` if ``s < 0``; an edge across clusters costs ``|s|`` if ``s >= 0``.
    Both cases are ``max(s, 0) - s * inside``, so a partition costs ``sum(max(s, 0))`` minus the
    sum of its inside edges; sums are taken left to right.
    """
    m = (np.maximum(s0, 0.0) + np.maximum(s1, 0.0)) + np.maximum(s2, 0.0)
    return m - ((s0 + s1) + s2), m - s1, m - s0, m - s2, m


def _sorted3(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row of ``(t, 3)`` sorted, as three columns (a sorting network of min/max: exact)."""
    a, b, c = s[:, 0], s[:, 1], s[:, 2]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    s0, x = np.minimum(lo, c), np.maximum(lo, c)
    return s0, np.minimum(hi, x), np.maximum(hi, x)


def triangle_expected_cost(s: np.ndarray, beta: float = 1.0) -> np.ndarray:
    """Expected cost of each triangle under ``P(partition) ∝ exp(-beta cost)``, ``(t,)``.

    Column by column (a triangle's 5 partitions are 5 arrays of length ``t``), with every sum
    taken left to right as NumPy's row sums of ``(t, 5)`` arrays take them, so the result is
    bit-identical to the row-wise form (tested) at about a quarter of its time. ``s`` must
    not hold NaN. O(t) time and memory.

    Example:
        >>> triangle_expected_cost(np.array([[1.0, 1.0, 1.0], [1.0, 1.0, -1.0]])).round(3).tolist()
        [0.66, 1.182]
    """
    # The expected cost is symmetric in the three edges; sorting each row first makes it exactly
    # so in floating point, so equal triangles tie exactly and the random tie-break decides.
    costs = _cost_columns(*_sorted3(np.asarray(s, dtype=np.float64).reshape(-1, 3)))
    logits = [-beta * c for c in costs]
    top = logits[0]
    for lg in logits[1:]:
        top = np.maximum(top, lg)
    w = [np.exp(lg - top) for lg in logits]
    total = (((w[0] + w[1]) + w[2]) + w[3]) + w[4]
    w = [wj / total for wj in w]
    expected: np.ndarray = (((w[0] * costs[0] + w[1] * costs[1]) + w[2] * costs[2]) + w[3] * costs[3]) + w[4] * costs[4]
    return expected


def _max_per_key(keys: np.ndarray, score: np.ndarray, n_keys: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``keys`` in increasing order and the maximum ``score`` of each (scores ``>= 0``).

    With ``n_keys`` (all keys below it): one scatter into an ``(n_keys,)`` array, O(t + n_keys)
    time and memory, for small pools whose ``N x N`` similarity matrix is held anyway; without:
    a stable sort of the keys and the maximum over each run, O(t log t) time, O(t) memory.
    """
    if n_keys is not None:
        best = np.full(n_keys, -np.inf)
        np.maximum.at(best, keys, score)
        found = np.flatnonzero(best > -np.inf)
        return found, best[found]
    order = np.argsort(keys, kind="stable")
    keys, score = keys[order], score[order]
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return keys[starts], np.maximum.reduceat(score, starts)


def _first_argmin3(m: np.ndarray) -> np.ndarray:
    """``np.argmin(m, axis=1)`` of a NaN-free ``(t, 3)`` array, column-wise (ties: the first)."""
    which = np.zeros(len(m), dtype=np.int64)
    best = m[:, 0]
    for col in (1, 2):
        better = m[:, col] < best
        which[better] = col
        best = np.where(better, m[:, col], best)
    return which


@dataclass
class MaxTriangle:
    """``maxmin`` / ``maxexp``: least certain edges of bad triangles through violated pairs.

    Attributes:
        name: ``"maxmin"`` or ``"maxexp"``.
        eps: Probability that a round's batch is ``frequency`` instead (exploration).
        beta: Inverse temperature of the triangle's Boltzmann distribution (``maxexp``).
        max_violations: At most this many violated pairs (a random subset) are scanned per
            round; ``None`` means ``min(N, 20_000)``, which is the paper's ``N`` for every pool
            it used. The cost is ``O(max_violations * N)`` (small ``N``) or
            ``O(max_violations * degree)`` (large ``N``).
    """

    name: str = "maxexp"
    eps: float = 0.3
    beta: float = 1.0
    max_violations: int | None = None

    def __post_init__(self) -> None:
        if self.name not in ("maxmin", "maxexp"):
            raise ValueError(f"name must be 'maxmin' or 'maxexp', got {self.name!r}.")
        if not 0.0 <= self.eps <= 1.0:
            raise ValueError(f"eps must lie in [0, 1], got {self.eps!r}.")
        if self.max_violations is not None and (
            not isinstance(self.max_violations, (int, np.integer)) or self.max_violations < 1
        ):
            raise ValueError(f"max_violations must be an int >= 1 or None (min(N, 20000)), got {self.max_violations!r}.")

    def edge_scores(self, state: ClusterState, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(edges ``(e, 2)``, scores ``(e,)``) of the edges that are the least certain edge of a bad triangle."""
        store = state.store
        n = state.n_items
        dense = state.dense()
        if dense is not None:
            sources = all_pairs(n)
            s_src = dense[sources[:, 0], sources[:, 1]]
        else:
            # unique rows via their int64 keys (same sorted order as np.unique(axis=0), many times faster)
            keys = unique_ints(pair_keys(np.concatenate([state.candidates(rng), store.queried_pairs()]), n))
            sources = np.stack([keys // n, keys % n], axis=1)
            s_src = None
        viol = sources[violations(store, state.labels, sources, s_src)]
        cap = min(n, 20_000) if self.max_violations is None else self.max_violations
        if len(viol) > cap:
            viol = viol[np.sort(rng.choice(len(viol), size=cap, replace=False))]
        if not len(viol):
            return np.empty((0, 2), np.int64), np.empty(0)
        tri = bad_triangles(store, viol, graph=None if dense is not None else state.graph(),
                            rng=rng, config=state.config, dense=dense)
        if not len(tri.k):
            return np.empty((0, 2), np.int64), np.empty(0)
        i, j, k = viol[tri.pair_index, 0], viol[tri.pair_index, 1], tri.k
        mag = np.abs(tri.s) + 1e-12 * rng.random(tri.s.shape)  # random tie-break
        which = _first_argmin3(mag)  # 0: (i, j), 1: (i, k), 2: (j, k)
        a = np.where(which == 2, j, i)
        b = np.where(which == 0, j, k)
        if self.name == "maxmin":
            score = np.abs(np.take_along_axis(tri.s, which[:, None], axis=1)[:, 0])
        else:
            score = triangle_expected_cost(tri.s, self.beta)
        # Per edge, keep its best triangle, edges in key order.
        keys = np.minimum(a, b) * np.int64(n) + np.maximum(a, b)
        keys, score = _max_per_key(keys, score, n * n if dense is not None else None)
        edges = np.stack([keys // n, keys % n], axis=1)
        ok = store.counts_of(edges) < store.tau
        return edges[ok], score[ok]

    def select(self, state: ClusterState, k: int, rng: np.random.Generator) -> np.ndarray:
        """Top-``k`` triangle edges, topped up with random candidates; or a ``frequency`` batch."""
        check_batch_size(state, k)
        if rng.random() < self.eps:
            return Frequency().select(state, k, rng)
        edges, score = self.edge_scores(state, rng)
        chosen = top_k_pairs(edges, score, min(k, len(edges)), rng)
        return fill_pairs(state, chosen, k, rng)
