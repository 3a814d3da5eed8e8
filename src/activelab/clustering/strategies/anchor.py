"""``anchor``: check every item against the most confirmed members of its cluster, and look for
another cluster when the answers reject it.

Correlation clustering with a partition prior changes an item's cluster only when the answers
about that item outweigh the prior, so answers spread over many items (uniform) or drawn to a
few violated triangles (maxmin, maxexp) move few items per batch. ``anchor`` spends the batch
item by item instead:

* An item's *evidence* for a cluster is the answer-weighted sign of its answered pairs into
  that cluster: ``ev[u, c] = sum over answered (u, v), v in c, of sign(S_uv) * answers(u, v)``.
  Its *confidence* is the evidence for its own cluster.
* The least confident items come first (random ties), one pair per item per pass, and passes
  repeat until the batch is full.
* Each item is paired with the most confident member (its *anchor*) of the cluster with the
  largest evidence, where its own cluster gets a bonus of ``own_bias`` and clusters it was never
  asked about count 0 (larger clusters first). So an item is first confirmed in its own
  cluster; once a wrong sign or a wrong cluster has negative evidence, it is asked against the
  other clusters' anchors in turn, and against a new cluster (a singleton that the solver opened)
  when every other one has rejected it.
* Among the anchors of the chosen cluster, an unasked pair comes before a repeated one.
* Before the items, up to half the batch goes to *checks between clusters*: a pair of anchors of
  every two clusters (of the 64 largest) with fewer than ``cross`` answers between them, or with
  more "same" than "different" answers. A true class that the start split into two pure clusters
  shows up there; ``ActiveClusterer(merge="answers")`` then joins the two.

It uses only the answers and the current clustering, never the features. Cost per round: O(q)
for the evidence (``q`` answered pairs, a sparse ``N x K`` matrix), O(N log N) for the orders,
O(k (K log K + 64 log q)) for ``k`` pairs over ``K`` clusters, and O(q + min(K, 64)^2) for the
checks between clusters; memory O(q + N + K).

The recommended solver settings travel with it (:attr:`Anchor.solver`): see
``ActiveClusterer(prior_weight=..., merge=...)``.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..store import pair_keys
from .base import ClusterState, check_batch_size, fill_pairs

__all__ = ["Anchor"]

#: Anchors of one cluster looked at per item (the most confident first).
_SCAN = 64


def _evidence(labels: np.ndarray, qp: np.ndarray, votes: np.ndarray) -> sp.csr_matrix:
    """``ev[u, c]``: the votes of ``u``'s answered pairs into cluster ``c`` (see :meth:`Anchor.evidence`)."""
    n, k = len(labels), int(labels.max()) + 1
    u, v = qp[:, 0], qp[:, 1]
    # item u gets the vote into labels[v]'s column and v into labels[u]'s
    ev = sp.csr_matrix(
        (np.concatenate([votes, votes]), (np.concatenate([u, v]), np.concatenate([labels[v], labels[u]]))), shape=(n, k)
    )
    ev.sum_duplicates()
    return ev


class Anchor:
    """Item-by-item checks against the most confirmed member of a cluster (see the module docstring).

    Args:
        own_bias: Evidence bonus of an item's own cluster (ties between own and another
            cluster go to the own one; one negative answer already tips the balance).
        cross: Answers wanted between the anchors of every two clusters (0: no checks between
            clusters).
        solver: Solver settings recommended with this strategy; ``activelab cluster`` and
            ``benchmarks/clustering.py`` apply them unless the user sets them (``--prior-weight``,
            ``--merge``). Empty keeps the library's (prior weight 1, no merging); ``default`` is
            ``Anchor(solver={"prior_weight": 0.3, "merge": "answers"})``.

    Example:
        >>> from activelab.clustering import ActiveClusterer, NoisyPairOracle, partition_prior
        >>> truth = np.repeat([0, 1, 2], 10)
        >>> init = np.repeat([0, 1], 15)
        >>> ac = ActiveClusterer(Anchor(), NoisyPairOracle(truth, 0.0), partition_prior(init, 0.03),
        ...                      batch_size=20, budget=200, seed=0, truth=truth, initial_labels=init, merge="answers")
        >>> round(ac.run()[-1].metrics["ari"], 3)
        1.0
    """

    name = "anchor"

    def __init__(self, own_bias: float = 0.5, cross: int = 2, solver: dict[str, Any] | None = None) -> None:
        if isinstance(own_bias, bool) or not isinstance(own_bias, (int, float)) or not 0 <= own_bias < float("inf"):
            raise ValueError(f"own_bias must be a finite number >= 0, got {own_bias!r}.")
        if isinstance(cross, bool) or not isinstance(cross, (int, np.integer)) or cross < 0:
            raise ValueError(f"cross must be an int >= 0 (answers per pair of clusters), got {cross!r}.")
        self.own_bias = float(own_bias)
        self.cross = int(cross)
        self.solver = dict(solver or {})

    def evidence(self, state: ClusterState) -> sp.csr_matrix:
        """``ev`` ``(N, K)`` (sparse): answer-weighted signs of each item's answered pairs per cluster. O(q)."""
        return _evidence(state.labels, state.store.queried_pairs(), state.store.votes())

    def select(self, state: ClusterState, k: int, rng: np.random.Generator) -> np.ndarray:
        """``k`` pairs (see the module docstring for the rule and its cost)."""
        check_batch_size(state, k)
        store, labels = state.store, state.labels
        n = store.n_items
        if k == 0:
            return np.empty((0, 2), dtype=np.int64)
        qp, votes = store.queried_pairs(), store.votes()
        ev = _evidence(labels, qp, votes)
        n_clusters = ev.shape[1]
        conf = np.asarray(ev[np.arange(n), labels]).ravel()
        tie = rng.random(n)
        by_conf = np.lexsort((tie, -conf))  # most confident first
        members = np.split(
            by_conf[np.argsort(labels[by_conf], kind="stable")], np.cumsum(np.bincount(labels, minlength=n_clusters))[:-1]
        )
        size_bonus = 1e-6 * np.bincount(labels, minlength=n_clusters) / n  # larger clusters first among ties
        order = np.lexsort((rng.random(n), conf))  # least confident first
        chosen: list[tuple[int, int]] = []
        taken: set[int] = set()
        tau = store.tau
        if self.cross:
            for pair in self._cross_pairs(state, qp, votes, members, k):
                chosen.append(pair)
                taken.add(pair[0] * n + pair[1])
        for _ in range(tau * n):  # passes; each adds at least one pair or stops
            added = 0
            for u in order:
                if len(chosen) >= k:
                    break
                found = self._partner(int(u), ev, labels, members, size_bonus, taken, store, tau)
                if found is not None:
                    chosen.append(found)
                    taken.add(found[0] * n + found[1])
                    added += 1
            if len(chosen) >= k or not added:
                break
        out = np.array(chosen, dtype=np.int64).reshape(-1, 2)
        if len(out) < k:  # every anchor pair is used up: random eligible pairs (PoolExhaustedError if none)
            out = fill_pairs(state, out, k, rng)
        return out

    def _cross_pairs(
        self, state: ClusterState, qp: np.ndarray, votes: np.ndarray, members: list[np.ndarray], k: int
    ) -> list[tuple[int, int]]:
        """Pairs between the anchors of two clusters (the 64 largest with >= 2 members), for every
        two clusters with fewer than ``cross`` answers between them or with more "same" than
        "different" answers (a true cluster split in two); at most ``k // 2``. O(q + 64^2 * 16 log q).
        """
        store, labels = state.store, state.labels
        sizes = np.bincount(labels, minlength=len(members))
        big = np.array([c for c in np.argsort(-sizes, kind="stable")[:64] if sizes[c] >= 2], dtype=np.int64)
        if len(big) < 2:
            return []
        # net votes and answers between the big clusters, (len(big), len(big)), symmetric
        slot = np.full(len(members), -1, dtype=np.int64)
        slot[big] = np.arange(len(big))
        a, b = slot[labels[qp[:, 0]]], slot[labels[qp[:, 1]]]
        inside = (a >= 0) & (b >= 0)
        net = np.zeros((len(big), len(big)))
        cnt = np.zeros((len(big), len(big)))
        for m, w in ((net, votes), (cnt, store.counts)):
            np.add.at(m, (a[inside], b[inside]), w[inside])
            np.add.at(m, (b[inside], a[inside]), w[inside])
        out: list[tuple[int, int]] = []
        for i, j in zip(*np.triu_indices(len(big), 1), strict=True):
            if len(out) >= k // 2:
                break
            if cnt[i, j] >= self.cross and net[i, j] <= 0:
                continue
            # the first unasked pair among the 4 x 4 most confirmed members, row by row
            cand = np.array(list(itertools.product(members[big[i]][:4], members[big[j]][:4])), dtype=np.int64)
            cand = np.sort(cand, axis=1)
            fresh = np.flatnonzero(store.counts_of(cand) == 0)
            if len(fresh):
                out.append((int(cand[fresh[0], 0]), int(cand[fresh[0], 1])))
        return out

    def _partner(
        self,
        u: int,
        ev: sp.csr_matrix,
        labels: np.ndarray,
        members: list[np.ndarray],
        size_bonus: np.ndarray,
        taken: set[int],
        store: Any,
        tau: int,
    ) -> tuple[int, int] | None:
        """The pair for item ``u``: the best anchor of its best cluster, or ``None`` if none is left."""
        n = store.n_items
        score = size_bonus.copy()
        row = ev.getrow(u)
        score[row.indices] += row.data
        score[labels[u]] += self.own_bias
        for c in np.argsort(-score, kind="stable"):
            cand = members[c][:_SCAN]
            cand = cand[cand != u]
            if not len(cand):
                continue
            pairs = np.stack([np.minimum(cand, u), np.maximum(cand, u)], axis=1)
            keys = pair_keys(pairs, n)
            free = np.fromiter((int(x) not in taken for x in keys), bool, len(keys))
            counts = store.counts_of(pairs)
            ok = free & (counts < tau)
            if not ok.any():
                continue
            fresh = ok & (counts == 0)
            i = int(np.argmax(fresh)) if fresh.any() else int(np.argmax(ok))
            return int(pairs[i, 0]), int(pairs[i, 1])
        return None
