"""Pair strategies: which pairs to ask next (items = pairs).

Every strategy has ``select(state, k, rng) -> (k, 2)`` int64 canonical pairs (``i < j``), unique,
each with fewer than ``tau`` answers; score-based strategies also expose
``scores(state, pairs) -> (m,)`` (higher = ask first), and :func:`pair_features` gives a
per-candidate feature matrix, so a learned policy can score candidates the same way later.

Names (registry :data:`PAIR_STRATEGIES`, :func:`make_pair_strategy`):

* ``uniform``: random pairs; ``frequency``: least-answered first; ``uncertainty``: smallest ``|S|``.
* ``maxmin`` / ``maxexp`` (Aronsson & Chehreghani, TMLR 2024): over the bad triangles through
  pairs that violate the current clustering, the least certain edge of each triangle gets
  ``|S|`` (maxmin) or the triangle's expected correlation-clustering cost under a Boltzmann
  distribution over its 5 partitions (maxexp, max over triangles); top-``k``; with
  probability ``eps`` the whole batch is ``frequency`` instead.
* ``entropy``: binary entropy of ``P(u ~ v)`` from mean field; ``eig``: expected reduction of
  the two items' assignment entropies after the answer (one-step local mean-field update, the
  cheap form of EIG-O); ``batch_ig``: ``eig`` scores sampled with the power/Gumbel trick
  (``P ∝ score ** power``) with at most ``max_per_item`` pairs per item in a batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from .._registry import lookup
from ..errors import PoolExhaustedError
from .candidates import CandidateConfig, all_pairs, bad_triangles, candidate_pairs, violations
from .solvers import mean_field, same_cluster_prob
from .store import SimilarityStore, n_pairs, pair_keys

__all__ = [
    "PAIR_STRATEGIES",
    "ClusterState",
    "PairStrategy",
    "list_pair_strategies",
    "make_pair_strategy",
    "pair_features",
    "top_k_pairs",
    "triangle_expected_cost",
]


@dataclass
class ClusterState:
    """What a pair strategy sees in one round (read-only for strategies).

    Attributes:
        store: Similarities and answer counts.
        labels: Current clustering, int64 ``(n_items,)``.
        round_: Round number.
        noise: Assumed oracle noise (for the information-gain strategies).
        config: Candidate settings.
        graph_pairs: kNN pairs of the features (large ``N``), or ``None``.
        beta: Inverse temperature of the mean field.
    """

    store: SimilarityStore
    labels: np.ndarray
    round_: int = 0
    noise: float = 0.0
    config: CandidateConfig = field(default_factory=CandidateConfig)
    graph_pairs: np.ndarray | None = None
    beta: float = 1.0
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def n_items(self) -> int:
        """Number of items."""
        return self.store.n_items

    def candidates(self, rng: np.random.Generator) -> np.ndarray:
        """Candidate pairs of this round (computed once per state), ``(m, 2)``."""
        if "candidates" not in self._cache:
            self._cache["candidates"] = candidate_pairs(self.store, self.labels, rng, self.config, self.graph_pairs)
        return self._cache["candidates"]

    def graph(self) -> sp.csr_matrix:
        """Symmetric graph of kNN pairs and queried pairs (third vertices of triangles)."""
        if "graph" not in self._cache:
            n = self.n_items
            parts = [self.store.queried_pairs()]
            if self.graph_pairs is not None:
                parts.append(self.graph_pairs)
            p = np.concatenate(parts)
            rows, cols = np.concatenate([p[:, 0], p[:, 1]]), np.concatenate([p[:, 1], p[:, 0]])
            g = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
            g.sum_duplicates()
            self._cache["graph"] = g
        return self._cache["graph"]

    def dense(self) -> np.ndarray | None:
        """``S`` as an ``N x N`` matrix when the pool is small (exhaustive mode), else ``None``."""
        if not self.config.exhaustive(self.n_items):
            return None
        if "dense" not in self._cache:
            self._cache["dense"] = self.store.dense(max_items=self.n_items)
        return self._cache["dense"]

    def soft_assignments(self) -> np.ndarray:
        """Mean-field ``q`` ``(n_items, K)`` at inverse temperature ``beta`` (cached)."""
        if "q" not in self._cache:
            self._cache["q"] = mean_field(self.store, self.labels, beta=self.beta)
        return self._cache["q"]


@runtime_checkable
class PairStrategy(Protocol):
    """Chooses ``k`` pairs to ask."""

    name: str

    def select(self, state: ClusterState, k: int, rng: np.random.Generator) -> np.ndarray:
        """``k`` unique canonical pairs ``(k, 2)`` with fewer than ``tau`` answers."""
        ...


def top_k_pairs(pairs: np.ndarray, scores: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """The ``k`` highest-scoring rows of ``pairs``, ties broken at random. O(m + k log k) typically.

    Example:
        >>> top_k_pairs(np.array([[0, 1], [0, 2], [1, 2]]), np.array([0.1, 0.9, 0.5]), 2,
        ...             np.random.default_rng(0)).tolist()
        [[0, 2], [1, 2]]
    """
    if k > len(pairs):
        raise PoolExhaustedError(f"asked for {k} pairs but only {len(pairs)} candidates remain.")
    return pairs[_top_rows(scores, k, rng.random(len(scores)))]


def _top_rows(scores: np.ndarray, k: int, noise: np.ndarray) -> np.ndarray:
    """Rows of the ``k`` highest ``scores``, ties broken by ``noise``, best first.

    Only rows scoring at least the k-th best can be chosen, so only those are sorted
    (O(m + r log r)); the order is exactly that of ``np.lexsort((noise, -scores))[:k]``.
    """
    neg = -np.asarray(scores, dtype=np.float64)
    rows = np.arange(len(neg))
    if 0 < k < len(neg):
        keep = np.flatnonzero(neg <= np.partition(neg, k - 1)[k - 1])
        if len(keep) >= k:
            rows = keep
    return rows[np.lexsort((noise[rows], neg[rows]))][:k]


def _check_k(state: ClusterState, k: int) -> None:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 0:
        raise ValueError(f"k must be a non-negative int (pairs per batch), got {k!r}.")
    left = n_pairs(state.n_items) * state.store.tau - state.store.n_queries
    if k > left:
        raise PoolExhaustedError(
            f"asked for {k} pairs but only {left} answers remain (every pair at most tau={state.store.tau} "
            "times); lower the batch size or the budget."
        )


def _fill(state: ClusterState, chosen: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Top up ``chosen`` with uniformly random eligible candidates to ``k`` pairs."""
    if len(chosen) >= k:
        return chosen[:k]
    cand = state.candidates(rng)
    taken = np.isin(pair_keys(cand, state.n_items), pair_keys(chosen, state.n_items))
    rest = cand[~taken]
    need = k - len(chosen)
    if need > len(rest):
        raise PoolExhaustedError(f"asked for {k} pairs but only {len(chosen) + len(rest)} candidates remain.")
    extra = rest[rng.choice(len(rest), size=need, replace=False)]
    return np.concatenate([chosen, extra]).astype(np.int64)


class _ScoreStrategy:
    """Score every candidate, take the top ``k`` (random tie-breaking)."""

    name = "score"

    def scores(self, state: ClusterState, pairs: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def select(self, state: ClusterState, k: int, rng: np.random.Generator) -> np.ndarray:
        """Top-``k`` candidates by :meth:`scores`. Time O(m log m) plus scoring."""
        _check_k(state, k)
        cand = _enough_candidates(state, k, rng)
        return top_k_pairs(cand, self.scores(state, cand), k, rng)


class Uniform:
    """Uniformly random pairs among those with fewer than ``tau`` answers."""

    name = "uniform"

    def select(self, state: ClusterState, k: int, rng: np.random.Generator) -> np.ndarray:
        """Small ``N``: sample the candidate list; large ``N``: rejection-sample all pairs. O(k)."""
        _check_k(state, k)
        n = state.n_items
        if state.config.exhaustive(n):
            cand = _enough_candidates(state, k, rng)
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


class Frequency(_ScoreStrategy):
    """Least-answered pairs first."""

    name = "frequency"

    def scores(self, state: ClusterState, pairs: np.ndarray) -> np.ndarray:
        """``-count``; O(m log q)."""
        return -state.store.counts_of(pairs).astype(np.float64)


class Uncertainty(_ScoreStrategy):
    """Pairs whose estimate is closest to 0 first."""

    name = "uncertainty"

    def scores(self, state: ClusterState, pairs: np.ndarray) -> np.ndarray:
        """``-|S|``; O(m (r + log q))."""
        return -np.abs(state.store.similarity(pairs))


# Which edges of a triangle lie inside a cluster, for its 5 partitions; edges are (i, j), (i, k), (j, k).
_SAME = np.array([
    [1, 1, 1],  # {i, j, k}
    [0, 1, 0],  # {i, k} {j}
    [1, 0, 0],  # {i, j} {k}
    [0, 0, 1],  # {j, k} {i}
    [0, 0, 0],  # {i} {j} {k}
], dtype=np.float64)


def _partition_costs(s: np.ndarray) -> np.ndarray:
    """Correlation-clustering cost of the 5 partitions of a triangle, ``(t, 5)``.

    ``s`` is ``(t, 3)`` for edges ``(i, j), (i, k), (j, k)``. An edge inside a cluster costs
    ``|s|`` if ``s < 0``; an edge across clusters costs ``|s|`` if ``s >= 0``. Both cases are
    ``max(s, 0) - s * inside``, so a partition costs ``sum(max(s, 0)) - s @ inside``: one
    ``(t, 3) @ (3, 5)`` product and no ``(t, 5, 3)`` temporaries.
    """
    return np.maximum(s, 0.0).sum(axis=1, keepdims=True) - s @ _SAME.T


def triangle_expected_cost(s: np.ndarray, beta: float = 1.0) -> np.ndarray:
    """Expected cost of each triangle under ``P(partition) ∝ exp(-beta cost)``, ``(t,)``.

    Example:
        >>> triangle_expected_cost(np.array([[1.0, 1.0, 1.0], [1.0, 1.0, -1.0]])).round(3).tolist()
        [0.66, 1.182]
    """
    # The expected cost is symmetric in the three edges; sorting each row first makes it exactly
    # so in floating point, so equal triangles tie exactly and the random tie-break decides.
    cost = _partition_costs(np.sort(np.asarray(s, dtype=np.float64).reshape(-1, 3), axis=1))
    logits = -beta * cost
    logits -= logits.max(axis=1, keepdims=True)
    w = np.exp(logits)
    w /= w.sum(axis=1, keepdims=True)
    return (w * cost).sum(axis=1)


@dataclass
class MaxTriangle:
    """``maxmin`` / ``maxexp``: least certain edges of bad triangles through violated pairs.

    Attributes:
        name: ``"maxmin"`` or ``"maxexp"``.
        eps: Probability that a round's batch is ``frequency`` instead (exploration).
        beta: Inverse temperature of the triangle's Boltzmann distribution (``maxexp``).
        max_violations: At most this many violated pairs (a random subset) are scanned per
            round, bounding the cost at ``O(max_violations * N)`` (small ``N``) or
            ``O(max_violations * degree)`` (large ``N``).
    """

    name: str = "maxexp"
    eps: float = 0.3
    beta: float = 1.0
    max_violations: int = 20_000

    def __post_init__(self) -> None:
        if self.name not in ("maxmin", "maxexp"):
            raise ValueError(f"name must be 'maxmin' or 'maxexp', got {self.name!r}.")
        if not 0.0 <= self.eps <= 1.0:
            raise ValueError(f"eps must lie in [0, 1], got {self.eps!r}.")

    def edge_scores(self, state: ClusterState, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(edges ``(e, 2)``, scores ``(e,)``) of the edges that are the least certain edge of a bad triangle."""
        store = state.store
        n = state.n_items
        dense = state.dense()
        if dense is not None:
            sources = all_pairs(n)
            s_src = dense[sources[:, 0], sources[:, 1]]
        else:
            sources = np.unique(np.concatenate([state.candidates(rng), store.queried_pairs()]), axis=0)
            s_src = None
        viol = sources[violations(store, state.labels, sources, s_src)]
        if len(viol) > self.max_violations:
            viol = viol[np.sort(rng.choice(len(viol), size=self.max_violations, replace=False))]
        if not len(viol):
            return np.empty((0, 2), np.int64), np.empty(0)
        tri = bad_triangles(store, viol, graph=None if dense is not None else state.graph(),
                            rng=rng, config=state.config, dense=dense)
        if not len(tri.k):
            return np.empty((0, 2), np.int64), np.empty(0)
        i, j, k = viol[tri.pair_index, 0], viol[tri.pair_index, 1], tri.k
        mag = np.abs(tri.s) + 1e-12 * rng.random(tri.s.shape)  # random tie-break
        which = np.argmin(mag, axis=1)  # 0: (i, j), 1: (i, k), 2: (j, k)
        a = np.where(which == 2, j, i)
        b = np.where(which == 0, j, k)
        if self.name == "maxmin":
            score = np.abs(np.take_along_axis(tri.s, which[:, None], axis=1)[:, 0])
        else:
            score = triangle_expected_cost(tri.s, self.beta)
        # Per edge, keep its best triangle: sort by key, then the maximum over each run.
        keys = np.minimum(a, b) * np.int64(n) + np.maximum(a, b)
        order = np.argsort(keys, kind="stable")
        keys, score = keys[order], score[order]
        starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
        keys, score = keys[starts], np.maximum.reduceat(score, starts)
        edges = np.stack([keys // n, keys % n], axis=1)
        ok = store.counts_of(edges) < store.tau
        return edges[ok], score[ok]

    def select(self, state: ClusterState, k: int, rng: np.random.Generator) -> np.ndarray:
        """Top-``k`` triangle edges, topped up with random candidates; or a ``frequency`` batch."""
        _check_k(state, k)
        if rng.random() < self.eps:
            return Frequency().select(state, k, rng)
        edges, score = self.edge_scores(state, rng)
        chosen = top_k_pairs(edges, score, min(k, len(edges)), rng)
        return _fill(state, chosen, k, rng)


def _binary_entropy(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -(p * np.log(p) + (1 - p) * np.log(1 - p))


class Entropy(_ScoreStrategy):
    """Binary entropy of the mean-field ``P(u ~ v)``."""

    name = "entropy"

    def scores(self, state: ClusterState, pairs: np.ndarray) -> np.ndarray:
        """O(m K) after the mean field."""
        return _binary_entropy(same_cluster_prob(state.soft_assignments(), pairs))


def _row_entropy(q: np.ndarray, log_q: np.ndarray) -> np.ndarray:
    """Entropy of each row of ``q`` given its (clipped) logarithm."""
    return -(q * log_q).sum(axis=-1)


def _softmax_entropy(logits: np.ndarray) -> np.ndarray:
    """Entropy of ``softmax(logits)`` per row, without forming ``log(softmax)``.

    With ``z = logits - max``, ``e = exp(z)`` and ``S = sum(e)``: ``H = log S - sum(e z) / S``.
    """
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    total = e.sum(axis=1)
    return np.log(total) - np.einsum("ij,ij->i", e, z) / total


def expected_info_gain(state: ClusterState, pairs: np.ndarray, chunk_size: int = 32768) -> np.ndarray:
    """Expected entropy reduction of ``q_u`` and ``q_v`` after asking ``(u, v)``, ``(m,)``.

    Outcomes: the truth ``±1`` (probability ``(1 - noise) p`` / ``(1 - noise)(1 - p)`` with
    ``p = P(u ~ v)``) or a noisy ``±0.325`` (``noise / 2`` each). An answer ``x`` moves the
    estimate by ``d = (x - S) / (n + 2)`` (running mean, ``n`` answers so far); the local
    mean-field update is ``q_u' ∝ q_u exp(beta d q_v)`` and symmetrically for ``v``.
    Time ``O(m K)``, memory ``O(chunk_size K)``.
    """
    q = state.soft_assignments()
    s = state.store.similarity(pairs)
    n_ans = state.store.counts_of(pairs)
    out = np.empty(len(pairs))
    g = state.noise
    xs = np.array([1.0, -1.0, 0.325, -0.325])
    for a in range(0, len(pairs), chunk_size):
        b = slice(a, a + chunk_size)
        qu, qv = q[pairs[b, 0]], q[pairs[b, 1]]
        lqu, lqv = np.log(np.maximum(qu, 1e-300)), np.log(np.maximum(qv, 1e-300))
        p = np.clip(np.einsum("ij,ij->i", qu, qv), 0.0, 1.0)
        probs = np.stack([(1 - g) * p, (1 - g) * (1 - p), np.full_like(p, g / 2), np.full_like(p, g / 2)], axis=1)
        h0 = _row_entropy(qu, lqu) + _row_entropy(qv, lqv)
        step = state.beta * (xs[None, :] - s[b, None]) / (n_ans[b, None] + 2.0)  # (m, 4)
        expected = np.zeros(len(p))
        for o in range(4):
            h = _softmax_entropy(lqu + step[:, o:o + 1] * qv) + _softmax_entropy(lqv + step[:, o:o + 1] * qu)
            expected += probs[:, o] * h
        out[b] = h0 - expected
    return out


def _enough_candidates(state: ClusterState, k: int, rng: np.random.Generator) -> np.ndarray:
    """The state's candidate pairs, after checking that at least ``k`` of them remain."""
    cand = state.candidates(rng)
    if k > len(cand):
        raise PoolExhaustedError(f"asked for {k} pairs but only {len(cand)} candidates remain.")
    return cand


def _prefilter(state: ClusterState, cand: np.ndarray, k: int, max_candidates: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``max(max_candidates, 2 k)`` candidates: half by mean-field entropy, half at random.

    EIG is ``O(K)`` per pair with four outcomes, so it runs on a pre-selected set (as EIG-O does
    in the paper); the entropy pass costs ``O(m K)``.
    """
    keep = max(max_candidates, 2 * k)
    if len(cand) <= keep:
        return cand
    ent = _binary_entropy(same_cluster_prob(state.soft_assignments(), cand))
    top = _top_rows(ent, keep // 2, rng.random(len(cand)))
    free = np.ones(len(cand), dtype=bool)
    free[top] = False
    rest = np.flatnonzero(free)
    extra = rng.choice(rest, size=keep - len(top), replace=False)
    return cand[np.sort(np.concatenate([top, extra]))]


def _information_candidates(state: ClusterState, k: int, max_candidates: int, rng: np.random.Generator) -> np.ndarray:
    """The checked, pre-filtered candidates the information-gain strategies score."""
    _check_k(state, k)
    return _prefilter(state, _enough_candidates(state, k, rng), k, max_candidates, rng)


@dataclass
class EIG:
    """Expected information gain (see :func:`expected_info_gain`), top-``k``.

    Attributes:
        max_candidates: EIG is evaluated on at most this many candidates (half the most
            uncertain by mean-field entropy, half random); the rest score nothing.
    """

    name: str = "eig"
    max_candidates: int = 20_000

    def scores(self, state: ClusterState, pairs: np.ndarray) -> np.ndarray:
        """O(m K) after the mean field."""
        return expected_info_gain(state, pairs)

    def select(self, state: ClusterState, k: int, rng: np.random.Generator) -> np.ndarray:
        """Top-``k`` EIG among the pre-selected candidates."""
        cand = _information_candidates(state, k, self.max_candidates, rng)
        return top_k_pairs(cand, self.scores(state, cand), k, rng)


@dataclass
class BatchIG:
    """Batch information gain: EIG scores, power (Gumbel) sampling and a per-item cap.

    The batch is the top ``k`` of ``power * log(eig) + Gumbel noise`` (sampling without
    replacement with ``P ∝ eig ** power``), skipping a pair when one of its items already
    appears in ``max_per_item`` chosen pairs, so one uncertain item cannot take the batch.
    """

    name: str = "batch_ig"
    power: float = 2.0
    max_per_item: int = 3
    max_candidates: int = 20_000

    def scores(self, state: ClusterState, pairs: np.ndarray) -> np.ndarray:
        """EIG of each pair."""
        return expected_info_gain(state, pairs)

    def select(self, state: ClusterState, k: int, rng: np.random.Generator) -> np.ndarray:
        """Gumbel-top-k with the item cap; O(m log m + k)."""
        cand = _information_candidates(state, k, self.max_candidates, rng)
        eig = np.clip(self.scores(state, cand), 1e-12, None)
        keyed = self.power * np.log(eig) + rng.gumbel(size=len(eig))
        order = np.argsort(-keyed, kind="stable")
        use = np.zeros(state.n_items, dtype=np.int64)
        chosen = []
        for idx in order:
            u, v = cand[idx]
            if use[u] < self.max_per_item and use[v] < self.max_per_item:
                chosen.append(idx)
                use[u] += 1
                use[v] += 1
                if len(chosen) == k:
                    break
        return _fill(state, cand[np.asarray(chosen, dtype=np.int64)].reshape(-1, 2), k, rng)


def pair_features(state: ClusterState, pairs: np.ndarray) -> np.ndarray:
    """Per-candidate features for a learned pair policy, float32 ``(m, 8)``.

    Columns: ``|S|``, answers / tau, same current cluster, violates the clustering, size of
    the cluster of ``u`` / N and of ``v`` / N, ``P(u ~ v)`` (mean field), its binary entropy.
    All are dimension-free and scale-free. Time O(m K) after the mean field.
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
        _binary_entropy(p),
    ], axis=1).astype(np.float32)


#: Name -> (factory, description).
PAIR_STRATEGIES: dict[str, tuple[Callable[..., Any], str]] = {
    "uniform": (Uniform, "Uniformly random pairs."),
    "frequency": (Frequency, "Least-answered pairs first."),
    "uncertainty": (Uncertainty, "Pairs with the estimate closest to 0 first."),
    "maxmin": (lambda **kw: MaxTriangle("maxmin", **kw), "Least certain edge of bad triangles (|S|), eps-greedy."),
    "maxexp": (lambda **kw: MaxTriangle("maxexp", **kw), "Least certain edge of bad triangles (expected cost), eps-greedy."),
    "entropy": (Entropy, "Binary entropy of the mean-field same-cluster probability."),
    "eig": (EIG, "Expected information gain on the two items' assignments (mean field)."),
    "batch_ig": (BatchIG, "EIG with power/Gumbel batch sampling and a per-item cap."),
}


def make_pair_strategy(name: str, **kwargs: Any) -> Any:
    """Build a registered pair strategy.

    Example:
        >>> make_pair_strategy("maxexp").name
        'maxexp'
        >>> make_pair_strategy("maxepx")
        Traceback (most recent call last):
        ...
        activelab.errors.UnknownNameError: Unknown pair strategy 'maxepx'. Did you mean 'maxexp'? Available: batch_ig, eig, entropy, frequency, maxexp, maxmin, uncertainty, uniform.
    """
    return lookup("pair strategy", name, PAIR_STRATEGIES)[0](**kwargs)


def list_pair_strategies() -> list[tuple[str, str]]:
    """``(name, description)`` of each registered pair strategy, sorted."""
    return [(n, PAIR_STRATEGIES[n][1]) for n in sorted(PAIR_STRATEGIES)]
