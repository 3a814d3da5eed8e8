"""Acquisition functions: pure scores on arrays; higher score = ask first.

Every function validates its input (finite, non-negative, rows summing to 1) and costs
O(n_items · n_classes) time (times ``n_draws`` for sample-based scores) and O(n_items)
extra memory. They accept point probabilities ``(n_items, n_classes)`` or, where stated,
posterior samples ``(n_items, n_draws, n_classes)`` (MC dropout or ensemble members); for
point-probability scores, samples are averaged first.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_probs

__all__ = [
    "SCORES",
    "bald",
    "entropy",
    "least_confidence",
    "margin",
    "mean_probs",
    "mean_std",
    "variation_ratio",
]

_EPS_LOG = 1e-12


def mean_probs(probs: np.ndarray) -> np.ndarray:
    """Average posterior samples ``(n, k, c)`` to ``(n, c)``; 2-D input is returned validated.

    Example:
        >>> mean_probs(np.array([[[1.0, 0.0], [0.0, 1.0]]]))
        array([[0.5, 0.5]])
    """
    arr = check_probs(probs, ndim=(2, 3))
    return arr.mean(axis=1) if arr.ndim == 3 else arr


def _entropy_rows(p: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) over the last axis, with 0·log 0 = 0."""
    return 0.0 - (p * np.log(np.maximum(p, _EPS_LOG))).sum(axis=-1)  # 0.0 - x: no -0.0


def least_confidence(probs: np.ndarray) -> np.ndarray:
    """``1 - max_c p(c)``: items whose top class is least certain first.

    Args:
        probs: ``(n_items, n_classes)`` or samples ``(n_items, n_draws, n_classes)``.

    Returns:
        Scores ``(n_items,)`` in ``[0, 1 - 1/n_classes]``.

    Example:
        >>> least_confidence(np.array([[0.5, 0.5], [0.9, 0.1]])).round(2)
        array([0.5, 0.1])
    """
    p = mean_probs(probs)
    return 1.0 - p.max(axis=1)


def margin(probs: np.ndarray) -> np.ndarray:
    """``1 - (p_top1 - p_top2)``: a small gap between the two best classes is asked first.

    Args:
        probs: ``(n_items, n_classes)`` or samples ``(n_items, n_draws, n_classes)``.

    Returns:
        Scores ``(n_items,)`` in ``[0, 1]``.

    Example:
        >>> margin(np.array([[0.5, 0.5, 0.0], [0.8, 0.1, 0.1]])).round(2)
        array([1. , 0.3])
    """
    p = mean_probs(probs)
    top2 = np.partition(p, -2, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def entropy(probs: np.ndarray) -> np.ndarray:
    """Predictive entropy (nats) of the mean prediction.

    Args:
        probs: ``(n_items, n_classes)`` or samples ``(n_items, n_draws, n_classes)``.

    Returns:
        Scores ``(n_items,)`` in ``[0, log(n_classes)]``.

    Example:
        >>> entropy(np.array([[0.5, 0.5], [1.0, 0.0]])).round(3)
        array([0.693, 0.   ])
    """
    return _entropy_rows(mean_probs(probs))


def bald(probs: np.ndarray) -> np.ndarray:
    """BALD mutual information ``H[mean_k p_k] - mean_k H[p_k]`` (Houlsby et al., 2011).

    Args:
        probs: Posterior samples ``(n_items, n_draws, n_classes)``. Point probabilities
            ``(n_items, n_classes)`` are accepted and give 0 (no epistemic spread).

    Returns:
        Scores ``(n_items,)`` in ``[0, log(n_classes)]``; 0 when all draws agree.

    Example:
        >>> bald(np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.5, 0.5], [0.5, 0.5]]])).round(3)
        array([0.693, 0.   ])
    """
    arr = check_probs(probs, ndim=(2, 3))
    if arr.ndim == 2:
        return np.zeros(len(arr), dtype=arr.dtype)
    total = _entropy_rows(arr.mean(axis=1))
    expected = _entropy_rows(arr).mean(axis=1)
    return np.maximum(total - expected, 0.0)


def variation_ratio(probs: np.ndarray) -> np.ndarray:
    """Share of draws whose top class differs from the modal top class (Freeman, 1965).

    Args:
        probs: Posterior samples ``(n_items, n_draws, n_classes)``; point probabilities give 0.

    Returns:
        Scores ``(n_items,)`` in ``[0, 1 - 1/n_draws]``.

    Example:
        >>> s = np.array([[[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]])
        >>> variation_ratio(s).round(3)
        array([0.333])
    """
    arr = check_probs(probs, ndim=(2, 3))
    if arr.ndim == 2:
        return np.zeros(len(arr), dtype=arr.dtype)
    n, k, c = arr.shape
    votes = arr.argmax(axis=2)
    counts = np.zeros((n, c), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(n), k), votes.ravel()), 1)
    return 1.0 - counts.max(axis=1) / k


def mean_std(probs: np.ndarray) -> np.ndarray:
    """Mean over classes of the standard deviation across draws (Kampffmeyer et al., 2016).

    Args:
        probs: Posterior samples ``(n_items, n_draws, n_classes)``; point probabilities give 0.

    Returns:
        Scores ``(n_items,)`` in ``[0, 0.5]``.

    Example:
        >>> mean_std(np.array([[[1.0, 0.0], [0.0, 1.0]]])).round(3)
        array([0.5])
    """
    arr = check_probs(probs, ndim=(2, 3))
    if arr.ndim == 2:
        return np.zeros(len(arr), dtype=arr.dtype)
    return arr.std(axis=1).mean(axis=1)


#: Registered score functions by name (used by strategies and the learned-AL features).
SCORES = {
    "least_confidence": least_confidence,
    "margin": margin,
    "entropy": entropy,
    "bald": bald,
    "variation_ratio": variation_ratio,
    "mean_std": mean_std,
}
