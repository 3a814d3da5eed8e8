"""Discriminative active learning (DAL, Gissin & Shalev-Shwartz, 2019).

A binary classifier learns to tell labelled from unlabelled rows in a representation (the
model's embeddings); the rows it is most sure are *unlabelled* are the least represented by the
labelled set, and are picked. The batch is chosen in ``n_steps`` sub-batches, the classifier being
refitted after each with the picks counted as labelled, as in the paper. The discriminator here
is a class-balanced logistic regression on the standardised embeddings (the paper trains an
MLP): cheap at any N, but it only sees linearly separable differences.

Cost per sub-batch: a logistic regression on at most ``max_train`` rows (all labelled rows plus a
random subset of the unlabelled ones), O(max_train·D) per solver iteration, and one O(N·D)
pass in blocks of 8,192 rows (the logit of the fitted model, rewritten for unstandardised rows);
extra memory O(max_train·D) for the fit (its standardised rows) plus O(N) for the scores: no copy
of the whole array.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_k, check_mask, check_rows
from .sampling import top_k

__all__ = ["discriminative"]


def discriminative(
    embeddings: np.ndarray,
    labelled: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    n_steps: int = 10,
    max_train: int = 20_000,
    C: float = 1.0,
) -> np.ndarray:
    """DAL picks: ``k`` unlabelled rows, in ``n_steps`` sub-batches of the highest P(unlabelled).

    Args:
        embeddings: ``(N, D)`` rows (standardised inside with the mean and std of all rows).
        labelled: ``(N,)`` bool mask; at least one row must be labelled.
        k: Rows to pick.
        rng: Generator (the unlabelled subsample of each fit, tie-breaks).
        n_steps: Sub-batches (refits); at most ``k``.
        max_train: Rows per fit: every labelled row plus unlabelled rows drawn at random.
        C: Inverse L2 strength of the logistic regression.

    Returns:
        ``(k,)`` int64 unique unlabelled row indices, in pick order.

    Example:
        >>> x = np.array([[0.0], [0.1], [0.2], [5.0], [5.1]])
        >>> sorted(discriminative(x, np.array([True, True, True, False, False]), 2, np.random.default_rng(0)).tolist())
        [3, 4]
    """
    from sklearn.linear_model import LogisticRegression

    x = check_rows(embeddings)
    chunk = 8192
    mask = check_mask(labelled, len(x)).copy()
    k = check_k(k, int((~mask).sum()))
    if not mask.any():
        raise ValueError("discriminative needs at least one labelled row; label an initial set first.")
    if not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"n_steps must be an int >= 1, got {n_steps!r}.")
    if not isinstance(max_train, (int, np.integer)) or max_train < 2:
        raise ValueError(f"max_train must be an int >= 2, got {max_train!r}.")
    # column statistics in float64 blocks; rows are standardised only when a fit or a block needs them
    mean = np.zeros(x.shape[1])
    sq = np.zeros(x.shape[1])
    for a in range(0, len(x), chunk):
        block = x[a : a + chunk].astype(np.float64)
        mean += block.sum(axis=0)
        sq += (block * block).sum(axis=0)
    mean /= len(x)
    std = np.sqrt(np.maximum(sq / len(x) - mean * mean, 0.0))
    scale = np.where(std > 0, std, 1.0)

    def z(rows: np.ndarray) -> np.ndarray:
        """Standardised float32 copies of ``rows`` only (never the whole array at once)."""
        z_rows: np.ndarray = ((x[rows] - mean) / scale).astype(np.float32)
        return z_rows

    picks: list[int] = []
    steps = min(int(n_steps), k) if k else 0
    for s in range(steps):
        want = k * (s + 1) // steps - len(picks)
        lab, unl = np.flatnonzero(mask), np.flatnonzero(~mask)
        room = max(1, int(max_train) - len(lab))
        train_unl = unl if len(unl) <= room else rng.choice(unl, size=room, replace=False)
        rows = np.concatenate([lab, train_unl])
        target = np.concatenate([np.zeros(len(lab), dtype=int), np.ones(len(train_unl), dtype=int)])
        clf = LogisticRegression(C=C, class_weight="balanced", max_iter=200)
        clf.fit(z(rows), target)
        # P(unlabelled) is increasing in the logit w·z + b = (w / scale)·x + (b − w·mean / scale),
        # so score the raw rows block by block (no standardised copy; logits do not saturate to ties)
        w = clf.coef_[0] / scale
        b = float(clf.intercept_[0] - np.dot(clf.coef_[0], mean / scale))
        logit = np.concatenate([x[unl[a : a + chunk]] @ w + b for a in range(0, len(unl), chunk)])
        chosen = unl[top_k(logit, want, rng)]
        picks.extend(int(i) for i in chosen)
        mask[chosen] = True
    return np.asarray(picks, dtype=np.int64)
