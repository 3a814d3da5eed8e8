"""Acquisition functions: pure scores on arrays; higher score = ask first.

Every function validates its input (finite, non-negative, rows summing to 1) and costs
O(n_items · n_classes) time (times ``n_draws`` for sample-based scores) and O(n_items)
extra memory. They accept point probabilities ``(n_items, n_classes)`` or, where stated,
posterior samples ``(n_items, n_draws, n_classes)`` (MC dropout or ensemble members); for
point-probability scores, samples are averaged first.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_probs, check_rows

__all__ = [
    "SCORES",
    "bald",
    "consensus_kl",
    "entropy",
    "expected_gradient_length",
    "information_density",
    "least_confidence",
    "margin",
    "mean_probs",
    "mean_std",
    "variation_ratio",
    "vote_entropy",
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
    h: np.ndarray = 0.0 - (p * np.log(np.maximum(p, _EPS_LOG))).sum(axis=-1)  # 0.0 - x: no -0.0
    return h


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
    scores: np.ndarray = 1.0 - p.max(axis=1)
    return scores


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
    scores: np.ndarray = np.maximum(total - expected, 0.0)
    return scores


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
    scores: np.ndarray = 1.0 - counts.max(axis=1) / k
    return scores


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
    scores: np.ndarray = arr.std(axis=1).mean(axis=1)
    return scores


_QBC_ROWS = 65536  # rows per block in the committee scores: O(block·M·C) temporaries


def vote_entropy(probs: np.ndarray | None = None, *, votes: np.ndarray | None = None) -> np.ndarray:
    """Vote entropy of a committee (Dagan & Engelson, 1995): entropy of the members' hard votes.

    Each member votes for its most probable class (the lowest class index on ties); the
    score is the entropy (nats) of the vote shares ``V(c)/M``.

    Args:
        probs: Committee predictions ``(n_items, n_members, n_classes)`` (ensemble members,
            MC-dropout draws, a :class:`~activelab.models.ensemble.SklearnCommittee`). Point
            probabilities ``(n_items, n_classes)`` are one member: scores 0.
        votes: Alternatively, the votes themselves: integer class ids ``(n_items, n_members)``.
            Pass exactly one of ``probs`` and ``votes``.

    Returns:
        Scores ``(n_items,)`` in ``[0, log(min(n_members, n_classes))]``; 0 when all agree.

    Raises:
        ValueError: If both or neither input is given, or ``votes`` is not a 2-D array of
            non-negative integers.

    Cost: O(n·M·C) time, O(block·M·C + n·C) memory.

    Example:
        >>> vote_entropy(np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.6, 0.4], [0.7, 0.3]]])).round(3)
        array([0.693, 0.   ])
        >>> vote_entropy(votes=np.array([[0, 1, 2, 2]])).round(3)
        array([1.04])
    """
    if (probs is None) == (votes is None):
        raise ValueError("vote_entropy needs exactly one of probs (n, M, C) or votes (n, M); got "
                         f"{'both' if probs is not None else 'neither'}.")
    if votes is not None:
        v = np.asarray(votes)
        if v.ndim != 2 or not np.issubdtype(v.dtype, np.integer):
            raise ValueError(f"votes must be a 2-D integer array (n_items, n_members), got {v.dtype} of shape {v.shape}.")
        if v.size and v.min() < 0:
            raise ValueError(f"votes must be class ids >= 0, found {v.min()}.")
        n_classes = int(v.max()) + 1 if v.size else 1
    else:
        arr = check_probs(probs, ndim=(2, 3))
        if arr.ndim == 2:
            return np.zeros(len(arr), dtype=np.float64)
        v = None
        n_classes = arr.shape[2]
    n = len(v) if v is not None else len(arr)
    out = np.empty(n, dtype=np.float64)
    for start in range(0, n, _QBC_ROWS):
        block = v[start : start + _QBC_ROWS] if v is not None else arr[start : start + _QBC_ROWS].argmax(axis=2)
        b, m = block.shape
        counts = np.zeros((b, n_classes), dtype=np.float64)
        np.add.at(counts, (np.repeat(np.arange(b), m), block.ravel()), 1.0)
        out[start : start + b] = _entropy_rows(counts / max(m, 1))
    return out


def consensus_kl(probs: np.ndarray) -> np.ndarray:
    """Mean KL divergence of the members from the consensus, ``mean_m KL(p_m || p̄)`` (McCallum & Nigam, 1998).

    Query-by-committee's "KL to the mean". It equals :func:`bald` in value
    (``mean_m KL(p_m || p̄) = H[p̄] - mean_m H[p_m]``); it is computed here from its own
    definition and kept under its committee name.

    Args:
        probs: Committee predictions ``(n_items, n_members, n_classes)``; point probabilities
            ``(n_items, n_classes)`` give 0.

    Returns:
        Scores ``(n_items,)`` in ``[0, log(n_classes)]``; 0 when all members agree.

    Cost: O(n·M·C) time, O(block·M·C) memory.

    Example:
        >>> consensus_kl(np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.3, 0.7], [0.3, 0.7]]])).round(3)
        array([0.693, 0.   ])
    """
    arr = check_probs(probs, ndim=(2, 3))
    if arr.ndim == 2:
        return np.zeros(len(arr), dtype=np.float64)
    out = np.empty(len(arr), dtype=np.float64)
    for start in range(0, len(arr), _QBC_ROWS):
        p = arr[start : start + _QBC_ROWS].astype(np.float64)
        consensus = p.mean(axis=1, keepdims=True)
        log_ratio = np.log(np.maximum(p, _EPS_LOG)) - np.log(np.maximum(consensus, _EPS_LOG))
        kl = (p * log_ratio).sum(axis=2)  # p = 0 terms vanish; p > 0 implies consensus > 0
        out[start : start + len(p)] = np.maximum(kl.mean(axis=1), 0.0)
    return out


#: Registered score functions by name (used by strategies and the learned-AL features).
SCORES = {
    "least_confidence": least_confidence,
    "margin": margin,
    "entropy": entropy,
    "bald": bald,
    "variation_ratio": variation_ratio,
    "mean_std": mean_std,
    "vote_entropy": vote_entropy,
    "consensus_kl": consensus_kl,
}


def expected_gradient_length(probs: np.ndarray, embeddings: np.ndarray, *, chunk_size: int = 8192) -> np.ndarray:
    """Expected gradient length of the output layer (EGL; Settles, Craven & Ray, 2008), ``(n,)``.

    For a softmax output layer ``z = W h + b`` trained with cross-entropy, the gradient for
    label ``c`` is ``(p - e_c) h^T`` for ``W`` and ``p - e_c`` for ``b``, so its norm is
    ``||p - e_c|| * sqrt(||h||^2 + 1)``. EGL is its expectation under the model's own
    prediction: ``sum_c p_c ||p - e_c|| * sqrt(||h||^2 + 1)``, with
    ``||p - e_c||^2 = ||p||^2 - 2 p_c + 1``. Nothing of size ``n x (C·D)`` is formed.
    Time O(n·(C + D)), extra memory O(n + chunk_size·(C + D)).

    Args:
        probs: ``(n, C)`` probabilities (samples ``(n, S, C)`` are averaged).
        embeddings: ``(n, D)`` inputs ``h`` of the output layer (the ``embeddings`` view).

    Example:
        >>> expected_gradient_length(np.array([[1.0, 0.0], [0.5, 0.5]]), np.array([[0.0], [0.0]])).round(4).tolist()
        [0.0, 0.7071]
    """
    p = mean_probs(probs)
    h = check_rows(embeddings, n_rows=len(p))
    out = np.empty(len(p))
    for a in range(0, len(p), chunk_size):
        pb = p[a : a + chunk_size].astype(np.float64)
        hb = h[a : a + chunk_size].astype(np.float64)
        sq = np.maximum((pb * pb).sum(axis=1, keepdims=True) - 2.0 * pb + 1.0, 0.0)  # ||p - e_c||^2
        out[a : a + chunk_size] = (pb * np.sqrt(sq)).sum(axis=1) * np.sqrt((hb * hb).sum(axis=1) + 1.0)
    return out


def information_density(
    probs: np.ndarray,
    embeddings: np.ndarray,
    *,
    beta: float = 1.0,
    uncertainty: str = "entropy",
    chunk_size: int = 8192,
) -> np.ndarray:
    """Density-weighted uncertainty (Settles & Craven, 2008), ``(n,)``.

    ``score_i = u_i * d_i ** beta`` with ``u`` an uncertainty score of ``probs`` and ``d_i`` the
    mean cosine similarity of row ``i`` to the *other* rows, clipped at 0. Because the cosine is
    a dot product of unit vectors, ``d_i = (x̂_i · Σ_j x̂_j − 1) / (n − 1)`` is exact in
    O(n·D) time and O(D) extra memory: no ``n x n`` similarity matrix (the usual implementation)
    is formed. All-zero rows have similarity 0 to everything. Extra memory O(n + chunk_size·D).

    Args:
        probs: ``(n, C)`` probabilities (samples ``(n, S, C)`` are averaged) of the candidates.
        embeddings: ``(n, D)`` rows the similarity is measured on.
        beta: Weight of the density term (0 = plain uncertainty).
        uncertainty: ``"entropy"``, ``"margin"`` or ``"least_confidence"``.

    Example:
        >>> p = np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]])
        >>> e = np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]])
        >>> information_density(p, e, uncertainty="least_confidence").round(3).tolist()
        [0.249, 0.274, 0.025]
    """
    scorers = {"entropy": entropy, "margin": margin, "least_confidence": least_confidence}
    if uncertainty not in scorers:
        raise ValueError(f"uncertainty must be one of {sorted(scorers)}, got {uncertainty!r}.")
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 <= beta < float("inf"):
        raise ValueError(f"beta must be a finite number >= 0, got {beta!r}.")
    u = scorers[uncertainty](probs)
    h = check_rows(embeddings, n_rows=len(u))
    n = len(h)
    if n < 2:
        return u * 0.0 if beta > 0 else u
    def unit_rows(a: int) -> tuple[np.ndarray, np.ndarray]:
        hb = h[a : a + chunk_size].astype(np.float64)
        nb = np.linalg.norm(hb, axis=1)
        return hb / np.where(nb > 0, nb, 1.0)[:, None], (nb > 0).astype(np.float64)

    total = np.zeros(h.shape[1])
    for a in range(0, n, chunk_size):  # pass 1: the sum of the unit rows
        total += unit_rows(a)[0].sum(axis=0)
    density = np.empty(n)
    for a in range(0, n, chunk_size):  # pass 2: each row against the sum, minus itself (x̂·x̂ = 1, or 0)
        xb, self_sim = unit_rows(a)
        density[a : a + chunk_size] = (xb @ total - self_sim) / (n - 1)
    return u * np.maximum(density, 0.0) ** beta
