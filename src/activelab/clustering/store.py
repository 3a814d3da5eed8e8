"""Similarity store: queried pairs kept sparsely, every other pair read from a low-rank prior.

The estimate of a pair ``(u, v)`` is

* ``prior(u, v)`` if it was never queried, and
* ``(prior(u, v) + sum of its answers) / (1 + number of answers)`` otherwise: the running mean of
  the oracle's answers with the prior counted as one observation (Aronsson & Chehreghani, 2024).

Every prior is of the form ``prior(u, v) = a * phi[u] . phi[v] + b`` for ``u != v``, with a small
feature matrix ``phi`` of shape ``(n_items, r)``:

* :func:`zero_prior`: ``a = b = 0`` (``r = 0``);
* :func:`partition_prior`: ``+value`` if ``u`` and ``v`` share a cluster of an initial
  partition (k-means or random), ``-value`` otherwise (``phi`` = one-hot cluster, ``a = 2 value``,
  ``b = -value``);
* :func:`feature_prior`: ``scale * cos(x_u - mean, x_v - mean)`` (``phi`` = centred, unit-norm
  features, ``a = scale``, ``b = 0``), also used for encoder embeddings (:mod:`.deep`).

This form lets every consumer (local search, mean field, objective) work with cluster sums
``C_k = sum_{v in k} phi[v]`` instead of an ``N x N`` matrix, so memory is
``O(N r + n_queried_pairs)``. There is no dense backend: even for small ``N`` the same code runs,
and only :meth:`SimilarityStore.rows` materialises dense rows, in chunks, for callers that ask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = [
    "LowRankPrior",
    "SimilarityStore",
    "check_pairs",
    "feature_prior",
    "n_pairs",
    "pair_keys",
    "partition_prior",
    "zero_prior",
]


def n_pairs(n_items: int) -> int:
    """Number of unordered pairs ``n_items * (n_items - 1) / 2``."""
    return n_items * (n_items - 1) // 2


def check_pairs(pairs: object, n_items: int, name: str = "pairs") -> np.ndarray:
    """Validate and canonicalise pairs: int64 ``(m, 2)`` with ``i < j`` in each row.

    Args:
        pairs: Array-like of shape ``(m, 2)`` of item indices.
        n_items: Number of items; every index must lie in ``[0, n_items)``.
        name: Name used in error messages.

    Returns:
        An int64 array ``(m, 2)`` with each row sorted ascending (order of rows kept).

    Raises:
        ValueError: If the shape is wrong, an index is out of range, or a pair has ``i == j``.
        TypeError: If the indices are not integers.

    Example:
        >>> check_pairs([[3, 1], [0, 2]], 4).tolist()
        [[1, 3], [0, 2]]
        >>> check_pairs([[1, 1]], 4)
        Traceback (most recent call last):
        ...
        ValueError: pairs row 0 is (1, 1): a pair needs two different items (i != j).
    """
    arr = np.asarray(pairs)
    if arr.size == 0:
        return np.empty((0, 2), dtype=np.int64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must have shape (m, 2), got {arr.shape}.")
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer item indices, got dtype {arr.dtype}.")
    arr = arr.astype(np.int64, copy=False)
    bad = np.flatnonzero((arr < 0).any(axis=1) | (arr >= n_items).any(axis=1))
    if len(bad):
        r = int(bad[0])
        raise ValueError(
            f"{name} row {r} is ({arr[r, 0]}, {arr[r, 1]}): indices must lie in [0, {n_items})."
        )
    same = np.flatnonzero(arr[:, 0] == arr[:, 1])
    if len(same):
        r = int(same[0])
        raise ValueError(
            f"{name} row {r} is ({arr[r, 0]}, {arr[r, 1]}): a pair needs two different items (i != j)."
        )
    return np.sort(arr, axis=1)


def pair_keys(pairs: np.ndarray, n_items: int) -> np.ndarray:
    """Unique int64 key ``i * n_items + j`` of canonical pairs ``(i < j)``, shape ``(m,)``."""
    keys: np.ndarray = pairs[:, 0] * np.int64(n_items) + pairs[:, 1]
    return keys


@dataclass(frozen=True)
class LowRankPrior:
    """``prior(u, v) = a * phi[u] . phi[v] + b`` for ``u != v``.

    Attributes:
        phi: Item features ``(n_items, r)``, float32 (``r`` may be 0).
        a: Scale of the inner product.
        b: Offset.
        kind: Short description (``zeros``, ``partition``, ``features``).
        groups: For a partition prior, the group of each item (``phi`` is its one-hot
            encoding); look-ups then compare groups instead of taking inner products.
    """

    phi: np.ndarray
    a: float
    b: float
    kind: str = "custom"
    groups: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.phi.ndim != 2:
            raise ValueError(f"phi must be 2-D (n_items, r), got shape {self.phi.shape}.")
        if not np.isfinite(self.a) or not np.isfinite(self.b):
            raise ValueError(f"a and b must be finite, got a={self.a}, b={self.b}.")

    @property
    def n_items(self) -> int:
        """Number of items."""
        return int(self.phi.shape[0])

    def pairs(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Prior of pairs ``(u[m], v[m])``, float64 ``(m,)``. O(m r) time and memory."""
        if self.groups is not None:
            return np.where(self.groups[u] == self.groups[v], self.a + self.b, self.b)
        out = np.full(len(u), self.b, dtype=np.float64)
        if self.phi.shape[1] and self.a != 0.0:
            out += self.a * np.einsum("ij,ij->i", self.phi[u], self.phi[v]).astype(np.float64)
        return out

    def self_term(self, items: np.ndarray) -> np.ndarray:
        """``a |phi_u|^2 + b``: what the cluster-sum formula counts for ``v = u``; ``(m,)``."""
        out = np.full(len(items), self.b, dtype=np.float64)
        if self.phi.shape[1] and self.a != 0.0:
            p = self.phi[items].astype(np.float64)
            out += self.a * np.einsum("ij,ij->i", p, p)
        return out

    def cluster_sums(self, labels: np.ndarray, n_clusters: int) -> np.ndarray:
        """``C[k] = sum_{labels[v] == k} phi[v]``, float64 ``(n_clusters, r)``. O(N r)."""
        out = np.zeros((n_clusters, self.phi.shape[1]), dtype=np.float64)
        if self.phi.shape[1]:
            np.add.at(out, labels, self.phi.astype(np.float64))
        return out

    def rows(self, items: np.ndarray) -> np.ndarray:
        """Dense prior rows ``(m, n_items)`` (diagonal entries included, not meaningful). O(m N r)."""
        if self.groups is not None:
            return np.where(self.groups[items, None] == self.groups[None, :], self.a + self.b, self.b)
        out = np.full((len(items), self.n_items), self.b, dtype=np.float64)
        if self.phi.shape[1] and self.a != 0.0:
            out += self.a * (self.phi[items].astype(np.float64) @ self.phi.T.astype(np.float64))
        return out


def zero_prior(n_items: int) -> LowRankPrior:
    """Every unqueried pair has similarity 0.

    Example:
        >>> zero_prior(3).pairs(np.array([0]), np.array([1]))
        array([0.])
    """
    return LowRankPrior(np.zeros((n_items, 0), dtype=np.float32), 0.0, 0.0, "zeros")


def partition_prior(labels: np.ndarray, value: float = 0.1) -> LowRankPrior:
    """``+value`` within a cluster of ``labels``, ``-value`` across clusters (the paper's init).

    Args:
        labels: Initial partition, int ``(n_items,)`` (e.g. k-means or random clusters).
        value: Magnitude of the prior, in ``(0, 1]``.

    Example:
        >>> p = partition_prior(np.array([0, 0, 1]))
        >>> p.pairs(np.array([0, 0]), np.array([1, 2])).round(3).tolist()
        [0.1, -0.1]
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D int array, got shape {labels.shape} dtype {labels.dtype}.")
    if not 0 < value <= 1:
        raise ValueError(f"value must lie in (0, 1], got {value}.")
    _, inv = np.unique(labels, return_inverse=True)
    phi = np.zeros((len(labels), int(inv.max()) + 1 if len(labels) else 0), dtype=np.float32)
    phi[np.arange(len(labels)), inv] = 1.0
    return LowRankPrior(phi, 2.0 * value, -value, "partition", inv.astype(np.int64))


def feature_prior(X: np.ndarray, scale: float = 0.1, *, centre: bool = True) -> LowRankPrior:
    """``scale * cosine`` of (centred) features; rows of zero norm get prior 0 to everything.

    Args:
        X: Features ``(n_items, d)`` (flattened if more dimensions).
        scale: Largest magnitude of the prior, in ``(0, 1]``.
        centre: Subtract the mean first (raw non-negative features have cosines near 1 for
            every pair, which would glue all items into one cluster).

    Example:
        >>> p = feature_prior(np.array([[1.0, 0.0], [2.0, 0.0], [-1.0, 0.0]]), centre=False)
        >>> p.pairs(np.array([0, 0]), np.array([1, 2])).round(3).tolist()
        [0.1, -0.1]
    """
    X = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
    if not 0 < scale <= 1:
        raise ValueError(f"scale must lie in (0, 1], got {scale}.")
    if not np.isfinite(X).all():
        raise ValueError("X holds NaN or inf values; clean the features before building a prior.")
    if centre:
        X = X - X.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    phi = np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)
    return LowRankPrior(phi.astype(np.float32), float(scale), 0.0, "features")


class SimilarityStore:
    """Sparse record of queried pairs plus a :class:`LowRankPrior` for all other pairs.

    Queried pairs are kept in a sorted int64 key array (``i * N + j``, ``i < j``) with parallel
    arrays of answer sums and counts; look-ups are binary searches. Memory is
    ``O(N r + q)`` for ``q`` queried pairs, never ``O(N^2)``.

    Args:
        prior: The prior of unqueried pairs (its ``n_items`` fixes ``N``).
        tau: Maximal number of answers stored per pair (``>= 1``).

    Example:
        >>> store = SimilarityStore(partition_prior(np.array([0, 0, 1])), tau=3)
        >>> store.add([[0, 1]], [-1.0])
        >>> store.similarity(np.array([[0, 1], [0, 2]])).round(3).tolist()
        [-0.45, -0.1]
    """

    def __init__(self, prior: LowRankPrior, tau: int = 3) -> None:
        if not isinstance(prior, LowRankPrior):
            raise TypeError(f"prior must be a LowRankPrior, got {type(prior).__name__}.")
        if not isinstance(tau, (int, np.integer)) or isinstance(tau, bool) or tau < 1:
            raise ValueError(f"tau must be an int >= 1 (answers allowed per pair), got {tau!r}.")
        if prior.n_items < 2:
            raise ValueError(f"a similarity store needs at least 2 items, got {prior.n_items}.")
        self.prior = prior
        self.tau = int(tau)
        self.n_items = prior.n_items
        self.keys = np.empty(0, dtype=np.int64)
        self.sums = np.empty(0, dtype=np.float64)
        self.counts = np.empty(0, dtype=np.int64)

    # ------------------------------------------------------------------ bookkeeping
    @property
    def n_queries(self) -> int:
        """Total answers stored (a pair asked three times counts three times)."""
        return int(self.counts.sum())

    @property
    def n_queried_pairs(self) -> int:
        """Distinct pairs with at least one answer."""
        return len(self.keys)

    def queried_pairs(self) -> np.ndarray:
        """Canonical queried pairs ``(q, 2)`` in key order."""
        return np.stack([self.keys // self.n_items, self.keys % self.n_items], axis=1)

    def _find(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = np.searchsorted(self.keys, keys)
        pos_c = np.minimum(pos, max(len(self.keys) - 1, 0))
        found = (pos < len(self.keys)) & (self.keys[pos_c] == keys) if len(self.keys) else np.zeros(len(keys), bool)
        return pos_c, found

    def counts_of(self, pairs: np.ndarray) -> np.ndarray:
        """Answers stored for each canonical pair, int64 ``(m,)``. O(m log q)."""
        pos, found = self._find(pair_keys(pairs, self.n_items))
        return np.where(found, self.counts[pos] if len(self.counts) else 0, 0)

    def add(self, pairs: object, values: object) -> None:
        """Store answers ``values[m]`` in ``[-1, 1]`` for ``pairs`` ``(m, 2)``.

        A pair may appear several times in one call. O((q + m) log(q + m)).

        Raises:
            ValueError: For invalid pairs (see :func:`check_pairs`), values outside ``[-1, 1]``
                or NaN, a length mismatch, or a pair that would exceed ``tau`` answers.
        """
        p = check_pairs(pairs, self.n_items)
        vals = np.asarray(values, dtype=np.float64).reshape(-1)
        if len(vals) != len(p):
            raise ValueError(f"got {len(p)} pairs but {len(vals)} values; give one value per pair.")
        if len(vals) and (not np.isfinite(vals).all() or np.abs(vals).max() > 1.0):
            raise ValueError("answers must be finite similarities in [-1, 1].")
        if not len(p):
            return
        keys = pair_keys(p, self.n_items)
        new_keys, inv = np.unique(keys, return_inverse=True)
        add_sum = np.bincount(inv, weights=vals, minlength=len(new_keys))
        add_cnt = np.bincount(inv, minlength=len(new_keys)).astype(np.int64)
        merged = np.union1d(self.keys, new_keys)
        sums = np.zeros(len(merged))
        counts = np.zeros(len(merged), dtype=np.int64)
        old_pos = np.searchsorted(merged, self.keys)
        sums[old_pos] = self.sums
        counts[old_pos] = self.counts
        new_pos = np.searchsorted(merged, new_keys)
        over = counts[new_pos] + add_cnt > self.tau
        if over.any():
            k = int(new_keys[over][0])
            raise ValueError(
                f"pair ({k // self.n_items}, {k % self.n_items}) would have "
                f"{int(counts[new_pos][over][0] + add_cnt[over][0])} answers but tau={self.tau}; "
                "a pair may be asked at most tau times."
            )
        sums[new_pos] += add_sum
        counts[new_pos] += add_cnt
        self.keys, self.sums, self.counts = merged, sums, counts

    # ------------------------------------------------------------------- read access
    def similarity(self, pairs: np.ndarray) -> np.ndarray:
        """Current estimate ``S`` of canonical (or unsorted) pairs ``(m, 2)``, float64 ``(m,)``.

        O(m (r + log q)) time, O(m) memory. Pairs are not validated (internal hot path);
        use :func:`check_pairs` on user input.
        """
        u, v = pairs[:, 0], pairs[:, 1]
        s = self.prior.pairs(u, v)
        if len(self.keys) and len(pairs):
            lo, hi = np.minimum(u, v), np.maximum(u, v)
            pos, found = self._find(lo * np.int64(self.n_items) + hi)
            if found.any():
                p = pos[found]
                s[found] = (s[found] + self.sums[p]) / (1.0 + self.counts[p])
        return s

    def votes(self) -> np.ndarray:
        """``sign(S) * answers`` of each queried pair in key order, float64 ``(q,)``: how many
        answers the pair's estimate stands for, positive for "same". O(q r).
        """
        votes: np.ndarray = np.sign(self.similarity(self.queried_pairs())) * self.counts
        return votes

    def deltas(self) -> np.ndarray:
        """``S - prior`` of each queried pair in key order, float64 ``(q,)``. O(q r)."""
        qp = self.queried_pairs()
        prior = self.prior.pairs(qp[:, 0], qp[:, 1])
        shrunk: np.ndarray = (self.sums - self.counts * prior) / (1.0 + self.counts)
        return shrunk

    def delta_csr(self) -> sp.csr_matrix:
        """Symmetric sparse ``N x N`` matrix of :meth:`deltas` (``2 q`` stored entries). O(q log q)."""
        qp = self.queried_pairs()
        d = self.deltas()
        rows = np.concatenate([qp[:, 0], qp[:, 1]])
        cols = np.concatenate([qp[:, 1], qp[:, 0]])
        mat = sp.csr_matrix((np.concatenate([d, d]), (rows, cols)), shape=(self.n_items, self.n_items))
        mat.sum_duplicates()
        return mat

    def rows(self, items: np.ndarray, delta: sp.csr_matrix | None = None) -> np.ndarray:
        """Dense rows ``S[items, :]`` ``(m, N)``, diagonal set to 0. O(m N r) time, O(m N) memory.

        Callers chunk ``items`` so that ``m * N`` stays small.
        """
        out = self.prior.rows(items)
        if len(self.keys):
            d = self.delta_csr() if delta is None else delta
            out += d[items].toarray()
        out[np.arange(len(items)), items] = 0.0
        return out

    def dense(self, max_items: int = 4096) -> np.ndarray:
        """The full ``N x N`` matrix ``S`` (zero diagonal), float64; only for ``N <= max_items``.

        Small-pool fast path (16 MB at ``N = 1448``). O(N^2 r) time, O(N^2) memory.

        Raises:
            ValueError: If ``N > max_items`` (use the sparse accessors instead).
        """
        if self.n_items > max_items:
            raise ValueError(
                f"dense() materialises N x N values and is limited to N <= {max_items}, got N={self.n_items}; "
                "use similarity() on candidate pairs instead."
            )
        return self.rows(np.arange(self.n_items))

    def set_prior(self, prior: LowRankPrior) -> None:
        """Replace the prior (e.g. after fine-tuning an encoder); answers are kept."""
        if not isinstance(prior, LowRankPrior) or prior.n_items != self.n_items:
            raise ValueError("the new prior must be a LowRankPrior over the same number of items.")
        self.prior = prior

    def state_dict(self) -> dict[str, np.ndarray]:
        """Arrays of the answers (the prior is rebuilt by its owner)."""
        return {"keys": self.keys.copy(), "sums": self.sums.copy(), "counts": self.counts.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict`."""
        keys = np.asarray(state["keys"], dtype=np.int64)
        if len(keys) and (np.any(np.diff(keys) <= 0) or keys[0] < 0 or keys[-1] >= self.n_items**2):
            raise ValueError("stored keys are not sorted unique pair keys of this store.")
        self.keys = keys
        self.sums = np.asarray(state["sums"], dtype=np.float64)
        self.counts = np.asarray(state["counts"], dtype=np.int64)
