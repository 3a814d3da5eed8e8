"""What a pair strategy sees (:class:`ClusterState`), what it must return (:class:`PairStrategy`),
and the shared pieces that enforce that contract (batch checks, top-up, score-then-top-k).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from ...errors import PoolExhaustedError
from ..candidates import CandidateConfig, candidate_pairs
from ..solvers import mean_field
from ..store import SimilarityStore, n_pairs, pair_keys
from .selection import top_k_pairs

__all__ = [
    "ClusterState",
    "PairStrategy",
    "ScorePairStrategy",
    "check_batch_size",
    "checked_candidates",
    "fill_pairs",
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
        pairs: np.ndarray = self._cache["candidates"]
        return pairs

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
        dense: np.ndarray = self._cache["dense"]
        return dense

    def soft_assignments(self) -> np.ndarray:
        """Mean-field ``q`` ``(n_items, K)`` at inverse temperature ``beta`` (cached)."""
        if "q" not in self._cache:
            self._cache["q"] = mean_field(self.store, self.labels, beta=self.beta)
        q: np.ndarray = self._cache["q"]
        return q


@runtime_checkable
class PairStrategy(Protocol):
    """Chooses ``k`` pairs to ask.

    Attributes:
        name: Registry name (reported in the round records).

    Contract of ``select(state, k, rng)``, which :class:`~activelab.clustering.ActiveClusterer`
    checks after every call:

    * returns int64 ``(k, 2)`` canonical pairs (``i < j``, both in ``[0, n_items)``), no pair
      twice, each answered fewer than ``state.store.tau`` times so far;
    * raises ``ValueError`` when ``k`` is not a non-negative int and
      :class:`~activelab.errors.PoolExhaustedError` when fewer than ``k`` such pairs remain
      (see :func:`check_batch_size`), never returning a short batch;
    * draws all its randomness from ``rng`` (same state and seed, same pairs) and does not
      modify ``state`` beyond its per-round caches (candidates, graph, dense ``S``, mean field).

    Optional: score-based strategies also expose ``scores(state, pairs) -> (m,)`` (higher = ask
    first), and :func:`~activelab.clustering.strategies.pair_features` gives per-candidate
    features, so a learned policy can score candidates the same way.
    """

    name: str

    def select(self, state: ClusterState, k: int, rng: np.random.Generator) -> np.ndarray:
        """``k`` unique canonical pairs ``(k, 2)`` with fewer than ``tau`` answers."""
        ...


def check_batch_size(state: ClusterState, k: int) -> None:
    """Check that ``k`` is a non-negative int and that ``k`` answers are still allowed.

    Raises:
        ValueError: ``k`` is not a non-negative int.
        PoolExhaustedError: Every pair asked ``tau`` times leaves fewer than ``k`` answers.
    """
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 0:
        raise ValueError(f"k must be a non-negative int (pairs per batch), got {k!r}.")
    left = n_pairs(state.n_items) * state.store.tau - state.store.n_queries
    if k > left:
        raise PoolExhaustedError(
            f"asked for {k} pairs but only {left} answers remain (every pair at most tau={state.store.tau} "
            "times); lower the batch size or the budget."
        )


def checked_candidates(state: ClusterState, k: int, rng: np.random.Generator) -> np.ndarray:
    """The state's candidate pairs, after checking that at least ``k`` of them remain.

    Raises:
        PoolExhaustedError: Fewer than ``k`` candidates.
    """
    cand = state.candidates(rng)
    if k > len(cand):
        raise PoolExhaustedError(f"asked for {k} pairs but only {len(cand)} candidates remain.")
    return cand


def fill_pairs(state: ClusterState, chosen: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Top up ``chosen`` with uniformly random eligible candidates to ``k`` pairs.

    ``chosen`` (``(c, 2)``, unique eligible pairs) is cut to ``k`` rows if longer; otherwise
    ``k - c`` candidates not in ``chosen`` are appended in random order.

    Raises:
        PoolExhaustedError: Fewer than ``k`` distinct pairs in ``chosen`` and the candidates.
    """
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


class ScorePairStrategy:
    """Score every candidate, take the top ``k`` (random tie-breaking).

    Subclasses set ``name`` and implement ``scores(state, pairs) -> (m,)`` (higher = ask first).
    """

    name = "score"

    def scores(self, state: ClusterState, pairs: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """One score per row of ``pairs`` (shape ``(m,)``; higher = ask first); subclasses implement it."""
        raise NotImplementedError

    def select(self, state: ClusterState, k: int, rng: np.random.Generator) -> np.ndarray:
        """Top-``k`` candidates by :meth:`scores`. Time O(m log m) plus scoring."""
        check_batch_size(state, k)
        cand = checked_candidates(state, k, rng)
        return top_k_pairs(cand, self.scores(state, cand), k, rng)
