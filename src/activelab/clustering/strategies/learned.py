"""``learned``: a pair policy trained by imitation (``activelab policy train-pairs``), run as a pair strategy.

A small network scores every candidate pair from :data:`POLICY_FEATURES`: the answers (``|S|``,
``S``, answer count), the current clustering (same cluster, violation, the two cluster sizes),
the mean-field same-cluster probability and its entropy, the bad-triangle costs of ``maxmin`` /
``maxexp``, how confirmed each item is in its own cluster (``anchor``'s evidence), how many
answers each item has, and two round-level values (fraction of pairs asked, assumed noise). It
never sees the items' features. The batch is the top-``k`` scores with at most
``max_per_item`` pairs per item (so one uncertain item cannot take the whole batch), topped up
in score order when that cap leaves it short.

The network (:class:`PairScorer`) scores each row alone, so scores do not depend on which other
candidates are present: a policy trained on samples of a few hundred candidates scores the
``N (N - 1) / 2`` candidates of a deployment exactly as it would score them one by one.

The policy file (``torch.save`` of a dict, loaded with ``weights_only=True``) holds the weights,
the feature names it was trained on (checked on load), the selection cap, the solver settings
it was trained with (:attr:`PairPolicy.solver`, applied like ``default``'s) and the training
command. The shipped file ``pair_policy.pt`` is the one :func:`default_pair_policy_path` names.

Cost per round: the features of ``m`` candidates in O(m K) after the mean field, plus one
``maxexp`` triangle scan (O(v N) for ``v`` violated pairs in the exhaustive mode, as
``maxexp``), and the network in O(m H (F + H)) in chunks of ``chunk`` rows (memory
O(chunk H)); nothing N x N beyond what the exhaustive candidate list already holds.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ...errors import ActiveLabError
from ..candidates import violations
from ..solvers import same_cluster_prob
from ..store import pair_keys
from .anchor import _evidence
from .base import ClusterState, check_batch_size, checked_candidates
from .information import binary_entropy
from .selection import top_rows
from .triangles import MaxTriangle

__all__ = [
    "POLICY_FEATURES",
    "PairPolicy",
    "PairScorer",
    "capped_top_k",
    "default_pair_policy_path",
    "load_pair_policy",
    "policy_features",
    "save_pair_policy",
]

#: Columns of :func:`policy_features` (column 0 marks a valid row, as in the supervised scorer).
POLICY_FEATURES: tuple[str, ...] = (
    "valid",
    "abs_s",
    "s",
    "answers_over_tau",
    "same_cluster",
    "violates",
    "size_small",
    "size_large",
    "p_same",
    "p_entropy",
    "triangle_edge",
    "triangle_cost",
    "confidence_low",
    "confidence_high",
    "answered_low",
    "answered_high",
    "cross_evidence_low",
    "cross_evidence_high",
    "other_evidence_low",
    "other_evidence_high",
    "fraction_asked",
    "noise",
)

#: Logit of rows that may not be picked.
NEG = -1e8


def default_pair_policy_path() -> Path:
    """The shipped pair policy (``clustering/strategies/pair_policy.pt``)."""
    return Path(__file__).with_name("pair_policy.pt")


def _triangle_lookup(state: ClusterState, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sorted keys of the edges ``maxexp`` would score and their expected costs (cached per round)."""
    if "triangle_lookup" not in state._cache:
        edges, score = MaxTriangle("maxexp", eps=0.0).edge_scores(state, rng)
        keys = pair_keys(edges, state.n_items) if len(edges) else np.empty(0, np.int64)
        order = np.argsort(keys)
        state._cache["triangle_lookup"] = (keys[order], np.asarray(score, dtype=np.float64)[order])
    lookup: tuple[np.ndarray, np.ndarray] = state._cache["triangle_lookup"]
    return lookup


def _item_stats(state: ClusterState) -> dict[str, np.ndarray]:
    """Per item and round (cached): the evidence table and the values derived from it.

    ``conf``: tanh(evidence for its own cluster / tau); ``other``: tanh(largest evidence for
    another cluster / tau), at least 0 (a cluster never asked about counts 0); ``deg``:
    log(1 + answered pairs) / log(1 + N); ``keys`` / ``values``: the nonzero evidence entries
    as sorted ``item * K + cluster`` keys (for :func:`_evidence_of`). Time O(q log q).
    """
    if "item_stats" not in state._cache:
        store, labels = state.store, state.labels
        n, tau = store.n_items, store.tau
        n_clusters = int(labels.max()) + 1
        qp = store.queried_pairs()
        conf, other, deg = np.zeros(n), np.zeros(n), np.zeros(n)
        keys, values = np.empty(0, np.int64), np.empty(0)
        if len(qp):
            ev = _evidence(labels, qp, store.votes()).tocoo()
            rows, cols, vals = ev.row.astype(np.int64), ev.col.astype(np.int64), np.tanh(ev.data / tau)
            own = cols == labels[rows]
            conf[rows[own]] = vals[own]
            np.maximum.at(other, rows[~own], vals[~own])
            deg = np.bincount(qp.ravel(), minlength=n).astype(np.float64)
            keys = rows * n_clusters + cols
            order = np.argsort(keys)
            keys, values = keys[order], vals[order]
        state._cache["item_stats"] = {"conf": conf, "other": other, "deg": np.log1p(deg) / np.log1p(n),
                                      "keys": keys, "values": values, "n_clusters": np.array(n_clusters)}
    stats: dict[str, np.ndarray] = state._cache["item_stats"]
    return stats


def _sorted_lookup(keys: np.ndarray, values: np.ndarray, want: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(found, value)`` of each of ``want`` in sorted ``keys`` (value 0 where not found). O(m log q)."""
    if not len(keys):
        return np.zeros(len(want), dtype=bool), np.zeros(len(want))
    at = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
    found = keys[at] == want
    return found, np.where(found, values[at], 0.0)


def _evidence_of(stats: dict[str, np.ndarray], items: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """tanh(evidence / tau) of each item for the given cluster (0 where it has no answer there)."""
    return _sorted_lookup(stats["keys"], stats["values"], items * int(stats["n_clusters"]) + clusters)[1]


def policy_features(state: ClusterState, pairs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Features of ``pairs`` for the pair policy, float32 ``(m, len(POLICY_FEATURES))``.

    Per-pair values that depend on an order of the two items are given as (smaller, larger), so
    ``(u, v)`` and ``(v, u)`` get the same row. Round-level parts (mean field, triangle scan,
    item evidence) are computed once per state and cached. Time O(m K) plus those parts.
    """
    store, labels = state.store, state.labels
    n = state.n_items
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    u, v = pairs[:, 0], pairs[:, 1]
    s = store.similarity(pairs)
    sizes = np.bincount(labels) / n
    p = same_cluster_prob(state.soft_assignments(), pairs)
    hit, cost = _sorted_lookup(*_triangle_lookup(state, rng), pair_keys(pairs, n))
    stats = _item_stats(state)
    conf, deg, other = stats["conf"], stats["deg"], stats["other"]
    cross_u, cross_v = _evidence_of(stats, u, labels[v]), _evidence_of(stats, v, labels[u])
    su, sv = sizes[labels[u]], sizes[labels[v]]
    m = len(pairs)
    cols = (
        1.0,
        np.abs(s),
        s,
        store.counts_of(pairs) / store.tau,
        (labels[u] == labels[v]).astype(np.float64),
        violations(store, labels, pairs, s).astype(np.float64),
        np.minimum(su, sv),
        np.maximum(su, sv),
        p,
        binary_entropy(p),
        hit.astype(np.float64),
        cost,
        np.minimum(conf[u], conf[v]),
        np.maximum(conf[u], conf[v]),
        np.minimum(deg[u], deg[v]),
        np.maximum(deg[u], deg[v]),
        np.minimum(cross_u, cross_v),
        np.maximum(cross_u, cross_v),
        np.minimum(other[u], other[v]),
        np.maximum(other[u], other[v]),
        10.0 * store.n_queries / max(n * (n - 1) // 2, 1),
        state.noise,
    )
    out = np.empty((m, len(cols)), dtype=np.float32)  # filled column by column: no float64 (m, F) copy
    for j, c in enumerate(cols):
        out[:, j] = c
    return out


class PairScorer(nn.Module):
    """Per-row MLP ``F -> H -> H -> 1``; rows with column 0 <= 0.5 get :data:`NEG`.

    Takes ``(B, K, F)`` and returns ``(logits (B, K), pooled (B, 0))`` like the supervised
    :class:`~activelab.learned.scorer.CandidateScorer`, so the same imitation trainer fits it;
    unlike it, a row's score does not depend on the other rows.

    Example:
        >>> net = PairScorer(4, hidden=8)
        >>> x = torch.rand(2, 5, 4); x[..., 0] = 1.0
        >>> logits, _ = net(x)
        >>> torch.allclose(net(x[:, :2])[0], logits[:, :2])
        True
    """

    def __init__(self, n_features: int, hidden: int = 64) -> None:
        super().__init__()
        self.n_features = int(n_features)
        self.hidden = int(hidden)
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, K)`` (NEG on invalid rows) and an empty pooled context ``(B, 0)``."""
        logits = self.net(x).squeeze(-1)
        logits = torch.where(x[..., 0] > 0.5, logits, torch.full_like(logits, NEG))
        return logits, x.new_zeros((x.shape[0], 0))

    @torch.no_grad()
    def score_rows(self, features: np.ndarray, chunk: int = 65536) -> np.ndarray:
        """Scores of ``features`` ``(m, F)`` as float64 ``(m,)``, in chunks of ``chunk`` rows."""
        out = np.empty(len(features))
        for start in range(0, len(features), chunk):
            x = torch.as_tensor(features[start:start + chunk], dtype=torch.float32)
            out[start:start + len(x)] = self.net(x).squeeze(-1).double().numpy()
        return out


def capped_top_k(pairs: np.ndarray, scores: np.ndarray, k: int, max_per_item: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` rows of ``pairs`` by score (random ties), at most ``max_per_item`` per item while
    possible, then the best rows left in score order.

    Time O(m) to find the best ``8 k`` rows and O(k log k) to order them; then ``64 k`` and
    all ``m`` rows only when the cap leaves the batch short within them.

    Example:
        >>> pairs = np.array([[0, 1], [0, 2], [0, 3], [1, 2]])
        >>> capped_top_k(pairs, np.array([4.0, 3.0, 2.0, 1.0]), 2, 1, np.random.default_rng(0)).tolist()
        [[0, 1], [0, 2]]
        >>> capped_top_k(pairs, np.array([4.0, 3.0, 2.0, 5.0]), 2, 1, np.random.default_rng(0)).tolist()
        [[1, 2], [0, 3]]
    """
    scores = np.asarray(scores, dtype=np.float64)
    noise = rng.random(len(scores))
    if k == 0:
        return pairs[:0]
    used = [0] * (int(pairs.max()) + 1)
    # Most batches fill from the best 8 k rows: order those first, more only if they run out.
    for head in sorted({min(len(scores), 8 * k), min(len(scores), 64 * k), len(scores)}):
        keep: list[int] = []
        skipped: list[int] = []  # rows over the cap, in score order
        used = [0] * len(used)
        rows = top_rows(scores, head, noise)
        for start in range(0, len(rows), 4096):  # plain ints in blocks: a fast loop that may stop early
            block = rows[start:start + 4096]
            for r, (a, b) in zip(block.tolist(), pairs[block].tolist(), strict=True):
                if used[a] < max_per_item and used[b] < max_per_item:
                    keep.append(r)
                    used[a] += 1
                    used[b] += 1
                    if len(keep) == k:
                        break
                else:
                    skipped.append(r)
            if len(keep) == k:
                break
        if len(keep) == k or head == len(scores):
            break
    keep += skipped[: k - len(keep)]
    return pairs[np.asarray(keep, dtype=np.int64)]


def save_pair_policy(scorer: PairScorer, path: str | Path, *, max_per_item: int, solver: dict[str, Any],
                     meta: dict[str, Any]) -> Path:
    """Write ``scorer`` and its settings to ``path`` (``torch.save`` of plain types)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({
        "kind": "activelab pair policy",
        "format": 1,
        "features": list(POLICY_FEATURES),
        "hidden": scorer.hidden,
        "state_dict": scorer.state_dict(),
        "max_per_item": int(max_per_item),
        "solver": dict(solver),
        "meta": meta,
    }, path)
    return path


def load_pair_policy(path: str | Path) -> tuple[PairScorer, dict[str, Any]]:
    """The scorer and the settings dict of a file written by :func:`save_pair_policy`.

    Raises:
        ActiveLabError: The file is missing, not a pair policy, or was trained on other features.
    """
    path = Path(path)
    if not path.is_file():
        raise ActiveLabError(f"pair policy file {str(path)!r} not found; train one with `activelab policy train-pairs`.")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or blob.get("kind") != "activelab pair policy":
        raise ActiveLabError(f"{str(path)!r} is not a pair policy file (written by `activelab policy train-pairs`).")
    if list(blob["features"]) != list(POLICY_FEATURES):
        raise ActiveLabError(
            f"pair policy {str(path)!r} was trained on features {blob['features']}, not this version's "
            f"{list(POLICY_FEATURES)}; retrain it with `activelab policy train-pairs`."
        )
    scorer = PairScorer(len(POLICY_FEATURES), int(blob["hidden"]))
    scorer.load_state_dict(blob["state_dict"])
    scorer.eval()
    return scorer, blob


class PairPolicy:
    """A trained pair policy as a pair strategy (see the module docstring).

    Args:
        path: Policy file; ``None`` loads the shipped one.
        max_per_item: Pairs per item per batch before the top-up; ``None`` takes the file's.

    Attributes:
        solver: The solver settings the policy was trained with (applied unless the user sets
            ``--prior-weight`` / ``--merge``).
    """

    name = "learned"
    path: Path | None

    def __init__(self, path: str | Path | None = None, max_per_item: int | None = None) -> None:
        self.path = Path(path) if path is not None else default_pair_policy_path()
        self.scorer, blob = load_pair_policy(self.path)
        cap = blob["max_per_item"] if max_per_item is None else max_per_item
        if isinstance(cap, bool) or not isinstance(cap, (int, np.integer)) or cap < 1:
            raise ValueError(f"max_per_item must be an int >= 1, got {cap!r}.")
        self.max_per_item = int(cap)
        self.solver: dict[str, Any] = dict(blob["solver"])
        self.meta: dict[str, Any] = dict(blob.get("meta", {}))

    @classmethod
    def from_scorer(cls, scorer: PairScorer, *, max_per_item: int, solver: dict[str, Any] | None = None) -> PairPolicy:
        """A policy around an in-memory scorer (training roll-ins), without a file."""
        self = cls.__new__(cls)
        self.path = None
        self.scorer = scorer.eval()
        self.max_per_item = int(max_per_item)
        self.solver = dict(solver or {})
        self.meta = {}
        return self

    def meaning(self) -> dict[str, Any]:
        """What this policy is, for a grid job's fingerprint: the file's SHA-256 and the cap."""
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest() if self.path is not None else None
        return {"policy_sha256": digest, "max_per_item": self.max_per_item}

    def scores(self, state: ClusterState, pairs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Network scores of ``pairs`` (higher = ask first)."""
        return self.scorer.score_rows(policy_features(state, pairs, rng))

    def select(self, state: ClusterState, k: int, rng: np.random.Generator) -> np.ndarray:
        """Top-``k`` candidates by score with the per-item cap."""
        check_batch_size(state, k)
        cand = checked_candidates(state, k, rng)
        if k == 0:
            return np.empty((0, 2), dtype=np.int64)
        out: np.ndarray = capped_top_k(cand, self.scores(state, cand, rng), k, self.max_per_item, rng)
        return out.astype(np.int64)
