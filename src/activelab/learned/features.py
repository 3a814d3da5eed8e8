"""Dimension-, class-count- and scale-free features of candidates and of the AL state.

The same code computes the features inside :class:`~activelab.learned.env.ALEnv` (from a
proxy learner) and inside :class:`~activelab.learned.strategy.PolicyStrategy` (from the
:class:`~activelab.models.base.Views` of any model), so a policy sees the same inputs in
training and deployment.

Per-candidate columns (:data:`CANDIDATE_FEATURES`): validity, top-1 probability, margin,
normalised entropy, BALD (0 without posterior samples), their within-round percentiles,
distances to the nearest labelled and already-picked item (divided by the median
nearest-neighbour distance of a reference sample), local density, predicted class share among
the labels, pending picks of the same predicted class, and ranks under core-set and BADGE
(gradient-embedding norm). Global columns (:data:`GLOBAL_FEATURES`): pending-batch fill, the
model's own expected accuracy on the pool and its change since the last round, labelled count
per class, labelled class entropy, labelled fraction, and histograms of pool margin and
entropy. Budget-based features are deliberately absent: a deployed strategy does not know the
budget.

Costs (K candidates, R ≤ 256 reference rows, L labelled rows, D embedding width, C classes,
N unlabelled rows): O(N·C) for the pool histograms, O(K·(L + R)·D + R²·D) time for the
distances (computed in row chunks, memory O(chunk·max(L, R))), O(K·D) per pick.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from .. import acquisition as acq

__all__ = [
    "CANDIDATE_FEATURES",
    "GLOBAL_FEATURES",
    "WEIGHT_FEATURES",
    "RoundFeatures",
    "global_features",
    "min_distances",
    "sample_candidates",
    "summary_observation",
    "weighted_greedy",
]

CANDIDATE_FEATURES = (
    "valid",
    "top1",
    "gap",
    "entropy",
    "bald",
    "margin_rank",
    "entropy_rank",
    "bald_rank",
    "dist_labelled",
    "dist_picked",
    "sparsity",
    "density_rank",
    "class_share",
    "pending_same_class",
    "coreset_rank",
    "badge_rank",
)
GLOBAL_FEATURES = (
    "batch_fill",
    "expected_accuracy",
    "expected_accuracy_change",
    "labelled_per_class",
    "label_entropy",
    "labelled_fraction",
    *(f"margin_hist_{i}" for i in range(4)),
    *(f"entropy_hist_{i}" for i in range(4)),
)
N_CAND = len(CANDIDATE_FEATURES)
N_GLOBAL = len(GLOBAL_FEATURES)
_CLIP = 5.0
_REFERENCE = 256
_KNN = 5
_CHUNK = 2048


def percentile(x: np.ndarray) -> np.ndarray:
    """Within-set percentile in ``[0, 1]`` (ties share their mean rank); 0.5 for one item.

    Example:
        >>> percentile(np.array([3.0, 1.0, 2.0, 2.0]))
        array([1. , 0. , 0.5, 0.5])
    """
    n = len(x)
    if n <= 1:
        return np.full(n, 0.5)
    ranks: np.ndarray = (rankdata(x) - 1.0) / (n - 1)
    return ranks


def min_distances(A: np.ndarray, B: np.ndarray, k: int = 1) -> np.ndarray:
    """Mean Euclidean distance from each row of ``A`` to its ``k`` nearest rows of ``B``.

    Args:
        A: ``(m, D)`` rows.
        B: ``(n, D)`` reference rows; if empty the result is ``inf``.
        k: Neighbours averaged (``k <= n``; clipped to ``n``).

    Returns:
        ``(m,)`` distances. Cost: O(m·n·D) time, O(chunk·n) memory (chunks of 2048 rows of A).

    Example:
        >>> min_distances(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0], [1.0, 0.0]]))
        array([1.])
    """
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if len(B) == 0:
        return np.full(len(A), np.inf)
    k = min(k, len(B))
    b_sq = (B * B).sum(axis=1)
    out = np.empty(len(A))
    for s in range(0, len(A), _CHUNK):
        a = A[s : s + _CHUNK]
        d2 = (a * a).sum(axis=1)[:, None] + b_sq[None, :] - 2.0 * a @ B.T
        np.maximum(d2, 0.0, out=d2)
        part = np.partition(d2, k - 1, axis=1)[:, :k] if k < len(B) else d2
        out[s : s + len(a)] = np.sqrt(part).mean(axis=1) if k > 1 else np.sqrt(part.min(axis=1))
    return out


def sample_candidates(unlabelled_probs: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """The candidate set shown to a policy: half the top-margin items, half uniform from the rest.

    Args:
        unlabelled_probs: ``(N, C)`` probabilities of the unlabelled items.
        k: Candidate count (clipped to ``N``).
        rng: Generator for the uniform half and tie-breaking.

    Returns:
        ``(min(k, N),)`` sorted row positions into ``unlabelled_probs``. Cost O(N·C).
    """
    n = len(unlabelled_probs)
    k = min(k, n)
    if k == n:
        return np.arange(n)
    from ..selection import top_k

    top = top_k(acq.margin(unlabelled_probs), k // 2, rng)
    rest = np.setdiff1d(np.arange(n), top, assume_unique=False)
    uniform = rng.choice(rest, size=k - len(top), replace=False)
    return np.sort(np.concatenate([top, uniform]))


def _norm_entropy(probs: np.ndarray, n_classes: int) -> np.ndarray:
    normalised: np.ndarray = acq.entropy(probs) / np.log(n_classes)
    return normalised


def global_features(
    pool_probs: np.ndarray,
    labelled_labels: np.ndarray,
    n_classes: int,
    n_items: int,
    previous_expected_accuracy: float | None,
    batch_fill: float = 0.0,
) -> np.ndarray:
    """The global feature vector (:data:`GLOBAL_FEATURES`), shape ``(14,)``.

    Args:
        pool_probs: ``(N, C)`` probabilities of the unlabelled items.
        labelled_labels: ``(L,)`` labels of the labelled items.
        n_classes: ``C``.
        n_items: Pool size (labelled + unlabelled).
        previous_expected_accuracy: Last round's expected accuracy (None in the first round).
        batch_fill: Picks already made in this round divided by the query size.

    Cost: O(N·C).
    """
    c = n_classes
    top1 = pool_probs.max(axis=1) if len(pool_probs) else np.ones(1)
    expected = float(top1.mean())
    change = 0.0 if previous_expected_accuracy is None else float(np.clip(expected - previous_expected_accuracy, -1, 1))
    counts = np.bincount(labelled_labels, minlength=c).astype(np.float64)
    n_lab = counts.sum()
    share = counts / max(n_lab, 1.0)
    label_entropy = float(-(share[share > 0] * np.log(share[share > 0])).sum() / np.log(c))
    if len(pool_probs):
        m_hist = np.histogram(acq.margin(pool_probs), bins=4, range=(0.0, 1.0))[0] / len(pool_probs)
        e_hist = np.histogram(np.clip(_norm_entropy(pool_probs, c), 0, 1), bins=4, range=(0.0, 1.0))[0] / len(pool_probs)
    else:
        m_hist = e_hist = np.zeros(4)
    head = [batch_fill, expected, change, np.log1p(n_lab / c) / 3.0, label_entropy, n_lab / max(n_items, 1)]
    return np.concatenate([head, m_hist, e_hist]).astype(np.float32)


class RoundFeatures:
    """Candidate features of one round; :meth:`pick` updates the batch-aware columns.

    Args:
        probs: ``(K, C)`` candidate probabilities.
        emb: ``(K, D)`` candidate embeddings (any space; distances are median-normalised).
        labelled_emb: ``(L, D)`` embeddings of the labelled items.
        labelled_labels: ``(L,)`` their labels.
        reference_emb: ``(R, D)`` embeddings of a random pool sample (density and the distance scale).
        glob: Global features of the round (:func:`global_features`).
        query_size: Picks in this round (for the batch-aware columns).
        prob_samples: Optional ``(K, n_draws, C)`` posterior samples for BALD.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> p = rng.dirichlet(np.ones(3), size=6); e = rng.normal(size=(6, 2))
        >>> f = RoundFeatures(p, e, e[:2], np.array([0, 1]), e, np.zeros(14, np.float32), 2)
        >>> f.observe().shape
        (6, 30)
        >>> f.pick(3); bool(f.observe()[3, 0])
        False
    """

    def __init__(
        self,
        probs: np.ndarray,
        emb: np.ndarray,
        labelled_emb: np.ndarray,
        labelled_labels: np.ndarray,
        reference_emb: np.ndarray,
        glob: np.ndarray,
        query_size: int,
        prob_samples: np.ndarray | None = None,
    ) -> None:
        probs = np.asarray(probs, dtype=np.float64)
        k, c = probs.shape
        self.n_candidates = k
        self.query_size = max(int(query_size), 1)
        self.glob = np.asarray(glob, dtype=np.float32).copy()
        self.emb = np.asarray(emb, dtype=np.float64)
        ref = np.asarray(reference_emb, dtype=np.float64)
        if len(ref) >= 2:
            nn = min_distances(ref, ref, k=2) * 2.0  # mean of (0, nearest) × 2 = nearest other row
            scale = float(np.median(nn))
        else:
            scale = 0.0
        self.scale = scale if scale > 0 and np.isfinite(scale) else 1.0
        srt = np.sort(probs, axis=1)
        top1, gap = srt[:, -1], srt[:, -1] - srt[:, -2]
        ent = _norm_entropy(probs, c)
        bald = np.zeros(k) if prob_samples is None else acq.bald(prob_samples) / np.log(c)
        self.pred = probs.argmax(axis=1)
        counts = np.bincount(np.asarray(labelled_labels, dtype=np.int64), minlength=c).astype(np.float64)
        share = counts[self.pred] / max(counts.sum(), 1.0) * c
        self.d_lab = min_distances(self.emb, labelled_emb) / self.scale
        sparsity = min_distances(self.emb, ref, k=_KNN) / self.scale if len(ref) else np.ones(k)
        onehot = np.zeros_like(probs)
        onehot[np.arange(k), self.pred] = 1.0
        badge_norm = np.linalg.norm(probs - onehot, axis=1) * np.linalg.norm(self.emb, axis=1)
        F = np.zeros((k, N_CAND), dtype=np.float64)
        F[:, 0] = 1.0
        F[:, 1] = (top1 - 1.0 / c) / (1.0 - 1.0 / c)
        F[:, 2] = gap
        F[:, 3] = ent
        F[:, 4] = bald
        F[:, 5] = percentile(1.0 - gap)
        F[:, 6] = percentile(ent)
        F[:, 7] = percentile(bald) if prob_samples is not None else 0.0
        F[:, 8] = np.clip(self.d_lab, 0, _CLIP)
        F[:, 10] = np.clip(sparsity, 0, _CLIP)
        F[:, 11] = percentile(-sparsity)
        F[:, 12] = np.clip(share, 0, _CLIP)
        F[:, 15] = percentile(badge_norm)
        self._F = F
        self.d_pick = np.full(k, np.inf)
        self.picked = np.zeros(k, dtype=bool)
        self.pending_pred = np.zeros(c)
        self._refresh()

    def _refresh(self) -> None:
        F = self._F
        F[:, 0] = (~self.picked).astype(np.float64)
        F[:, 9] = np.clip(self.d_pick, 0, _CLIP)
        F[:, 13] = self.pending_pred[self.pred] / self.query_size
        F[:, 14] = percentile(np.minimum(self.d_lab, self.d_pick))

    def pick(self, row: int) -> None:
        """Mark candidate ``row`` as picked and update the batch-aware columns. Cost O(K·D)."""
        if not 0 <= row < self.n_candidates or self.picked[row]:
            raise ValueError(f"candidate {row} is out of range or already picked.")
        self.picked[row] = True
        d = np.sqrt(((self.emb - self.emb[row]) ** 2).sum(axis=1)) / self.scale
        self.d_pick = np.minimum(self.d_pick, d)
        self.pending_pred[self.pred[row]] += 1
        self.glob[0] = min(1.0, self.picked.sum() / self.query_size)
        self._refresh()

    @property
    def mask(self) -> np.ndarray:
        """``(K,)`` True for candidates that may still be picked."""
        return ~self.picked

    def observe(self) -> np.ndarray:
        """``(K, 30)`` float32 rows: candidate features then the global features."""
        g = np.broadcast_to(self.glob, (self.n_candidates, N_GLOBAL))
        return np.hstack([self._F, g]).astype(np.float32)


N_FEATURES = N_CAND + N_GLOBAL


def summary_observation(feats: RoundFeatures) -> np.ndarray:
    """``(30,)`` observation of the ``weights`` / ``heuristic`` modes: mean candidate features, then global ones."""
    rows = feats.observe()
    obs: np.ndarray = np.clip(np.concatenate([rows[:, :N_CAND].mean(axis=0), rows[0, N_CAND:]]), -1.0, 5.0).astype(np.float32)
    return obs


#: Candidate-feature columns mixed by the ``weights`` action mode (indices into CANDIDATE_FEATURES).
WEIGHT_FEATURES = (1, 2, 3, 5, 6, 8, 10, 11, 12, 14, 15)
_DIST_PICKED = 9  # the candidate feature: distance to the items already picked this round


def weighted_greedy(feats: RoundFeatures, w: np.ndarray, k: int) -> np.ndarray:
    """Pick ``k`` candidates greedily by ``w · f + w_div · dist_picked`` (rows of ``feats``).

    ``feats`` is updated by the picks. Cost O(k·K·D).
    """
    cols = np.array(WEIGHT_FEATURES)
    chosen = []
    for _ in range(k):
        F = feats.observe()
        s = F[:, cols] @ w[:-1] + w[-1] * F[:, _DIST_PICKED]
        s = np.where(feats.mask, s, -np.inf)
        row = int(np.argmax(s))
        feats.pick(row)
        chosen.append(row)
    return np.array(chosen, dtype=np.int64)

