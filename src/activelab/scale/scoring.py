"""Score-and-top-k pieces shared by the local and the Ray selection: the score functions, one
block's top ``k`` and the exact merge of per-block results (no Ray, no pool I/O here).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import acquisition
from .model import PoolModel

__all__ = ["SCORES", "merge_top_k", "score_block"]

SCORES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "margin": acquisition.margin,
    "entropy": acquisition.entropy,
    "least_confidence": acquisition.least_confidence,
}


def merge_top_k(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best ``(id, score)`` pairs: highest score first, ties to the smaller id.

    Exact over a union of per-block results: the global top ``k`` of any order lies in the union
    of every block's top ``k``. Cost: O(n) partition + O(m log m) on the m rows at or above the cut.
    """
    if len(ids) > k:
        cut = np.partition(scores, len(scores) - k)[len(scores) - k]
        keep = scores >= cut  # every tie at the cut stays: the id decides among them
        ids, scores = ids[keep], scores[keep]
    order = np.lexsort((ids, -scores))[:k]
    return ids[order], scores[order]


def score_block(
    ids: np.ndarray, x: np.ndarray, score: Callable[[np.ndarray], np.ndarray], model: PoolModel, labelled: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """One block's top ``k`` (id, score) of its unlabelled rows."""
    keep = ~np.isin(ids, labelled) if len(labelled) else np.ones(len(ids), dtype=bool)
    if not keep.any():
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    ids = np.asarray(ids[keep], dtype=np.int64)
    s = np.asarray(score(model.probs(np.asarray(x[keep], dtype=np.float32))), dtype=np.float64)
    return merge_top_k(ids, s, k)
