"""Information-based pair strategies on the mean-field soft assignments.

``entropy``: binary entropy of ``P(u ~ v)`` from mean field; ``eig``: expected reduction of the
two items' assignment entropies after the answer (one-step local mean-field update, the cheap
form of EIG-O); ``batch_ig``: ``eig`` scores sampled with the power/Gumbel trick
(``P ∝ score ** power``) with at most ``max_per_item`` pairs per item in a batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..solvers import same_cluster_prob
from .base import ClusterState, ScorePairStrategy, check_batch_size, checked_candidates, fill_pairs
from .selection import top_k_pairs, top_rows

__all__ = ["EIG", "BatchIG", "Entropy", "binary_entropy", "expected_info_gain"]


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """Entropy in nats of a Bernoulli(``p``), elementwise; ``p`` is clipped to ``[1e-12, 1 - 1e-12]``.

    Example:
        >>> binary_entropy(np.array([0.5, 0.0])).round(4).tolist()
        [0.6931, 0.0]
    """
    p = np.clip(p, 1e-12, 1 - 1e-12)
    h: np.ndarray = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    return h


class Entropy(ScorePairStrategy):
    """Binary entropy of the mean-field ``P(u ~ v)``."""

    name = "entropy"

    def scores(self, state: ClusterState, pairs: np.ndarray) -> np.ndarray:
        """O(m K) after the mean field."""
        return binary_entropy(same_cluster_prob(state.soft_assignments(), pairs))


def _row_entropy(q: np.ndarray, log_q: np.ndarray) -> np.ndarray:
    """Entropy of each row of ``q`` given its (clipped) logarithm."""
    h: np.ndarray = -(q * log_q).sum(axis=-1)
    return h


def _softmax_entropy(logits: np.ndarray) -> np.ndarray:
    """Entropy of ``softmax(logits)`` per row, without forming ``log(softmax)``.

    With ``z = logits - max``, ``e = exp(z)`` and ``S = sum(e)``: ``H = log S - sum(e z) / S``.
    """
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    total = e.sum(axis=1)
    h: np.ndarray = np.log(total) - np.einsum("ij,ij->i", e, z) / total
    return h


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


def _prefilter(state: ClusterState, cand: np.ndarray, k: int, max_candidates: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``max(max_candidates, 2 k)`` candidates: half by mean-field entropy, half at random.

    EIG is ``O(K)`` per pair with four outcomes, so it runs on a pre-selected set (as EIG-O does
    in the paper); the entropy pass costs ``O(m K)``.
    """
    keep = max(max_candidates, 2 * k)
    if len(cand) <= keep:
        return cand
    ent = binary_entropy(same_cluster_prob(state.soft_assignments(), cand))
    top = top_rows(ent, keep // 2, rng.random(len(cand)))
    free = np.ones(len(cand), dtype=bool)
    free[top] = False
    rest = np.flatnonzero(free)
    extra = rng.choice(rest, size=keep - len(top), replace=False)
    kept: np.ndarray = cand[np.sort(np.concatenate([top, extra]))]
    return kept


def _information_candidates(state: ClusterState, k: int, max_candidates: int, rng: np.random.Generator) -> np.ndarray:
    """The checked, pre-filtered candidates the information-gain strategies score."""
    check_batch_size(state, k)
    return _prefilter(state, checked_candidates(state, k, rng), k, max_candidates, rng)


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
        return fill_pairs(state, cand[np.asarray(chosen, dtype=np.int64)].reshape(-1, 2), k, rng)
