"""Contrastive active learning (CAL, Margatina et al., EMNLP 2021).

A candidate is *contrastive* when the model predicts it differently from the labelled items
that lie next to it in embedding space: CAL scores it by the mean Kullback-Leibler divergence
``KL(p_j || p_i)`` from its ``n_neighbors`` nearest labelled items ``j`` to the candidate ``i``.

Cost: an exact kNN of the U unlabelled rows among the L labelled rows, O(U·L·D) time in blocks,
plus O(U·n·C) for the divergences; O(U·n) extra memory. Nothing of size U×L is kept: the
neighbour search holds one block of distances at a time (:func:`activelab.neighbors.knn`).
"""

from __future__ import annotations

import numpy as np

from .._validation import check_mask, check_probs, check_rows
from ..neighbors import Backend, knn

__all__ = ["cal_scores"]


def cal_scores(
    probs: np.ndarray,
    embeddings: np.ndarray,
    labelled: np.ndarray,
    n_neighbors: int = 10,
    *,
    chunk_size: int = 4096,
    backend: Backend = "auto",
) -> np.ndarray:
    """CAL scores of the unlabelled rows (higher = ask first).

    Args:
        probs: ``(N, C)`` predicted probabilities of every row, labelled ones included (CAL
            compares with the model's predictions on the labelled neighbours, not their labels).
        embeddings: ``(N, D)`` rows in the space the neighbours are found in.
        labelled: ``(N,)`` bool mask; at least one row must be labelled.
        n_neighbors: Labelled neighbours per candidate (fewer when fewer rows are labelled).
        chunk_size: Candidates per block of the neighbour search and of the divergences.
        backend: kNN backend (``"auto"``: faiss if installed, else scikit-learn).

    Returns:
        ``(U,)`` float64 scores, in the order of ``np.flatnonzero(~labelled)``.

    Raises:
        ValueError: On invalid probabilities, shape mismatches, no labelled row or ``n_neighbors < 1``.

    Example:
        >>> p = np.array([[0.9, 0.1], [0.9, 0.1], [0.1, 0.9]])
        >>> e = np.array([[0.0], [0.1], [0.2]])
        >>> cal_scores(p, e, np.array([True, False, False]), 1).round(3).tolist()
        [0.0, 1.758]
    """
    p = check_probs(probs)
    mask = check_mask(labelled, len(p))
    emb = check_rows(embeddings, n_rows=len(p))
    if not isinstance(n_neighbors, (int, np.integer)) or isinstance(n_neighbors, bool) or n_neighbors < 1:
        raise ValueError(f"n_neighbors must be an int >= 1, got {n_neighbors!r}.")
    lab = np.flatnonzero(mask)
    unl = np.flatnonzero(~mask)
    if len(lab) == 0:
        raise ValueError("cal needs at least one labelled row (its neighbours); label an initial set first.")
    out = np.empty(len(unl))
    if len(unl) == 0:
        return out
    k = min(int(n_neighbors), len(lab))
    emb = emb.astype(np.float32, copy=False)
    log_p = np.log(np.maximum(p, np.finfo(np.float64).tiny))
    for a in range(0, len(unl), chunk_size):
        rows = unl[a : a + chunk_size]
        _, nb = knn(emb[lab], k, queries=emb[rows], chunk_size=chunk_size, backend=backend)
        neighbours = lab[nb]  # (b, k) absolute rows
        pj = p[neighbours]  # (b, k, C)
        # KL(p_j || p_i) = sum_c p_j (log p_j - log p_i); 0 log 0 = 0
        kl = np.sum(pj * (log_p[neighbours] - log_p[rows][:, None, :]), axis=2)
        out[a : a + len(rows)] = kl.mean(axis=1)
    return out
