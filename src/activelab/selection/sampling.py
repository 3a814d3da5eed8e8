"""Batches from scores: ``top_k`` and the stochastic batches ``power``, ``softmax`` and ``rank``.

Every function takes ``(scores, k, rng)`` and returns ``k`` unique ``int64`` row indices.
``top_k`` takes the highest scores (ties at the cut at random). The stochastic batches of
Kirsch et al. (2023, "Stochastic batch acquisition") sample ``k`` rows without replacement by
the Gumbel-top-k trick: ``power`` with probability ∝ ``score**beta``, ``softmax`` ∝
``exp(beta·score)``, and ``rank`` (their "softrank") ∝ ``rank**(-beta)``, which only uses the
order of the scores, so it works for any score whatever its scale or sign.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._validation import check_k, check_scores

__all__ = ["check_beta", "power", "rank", "softmax", "top_k"]


def check_beta(beta: object, name: str = "beta") -> float:
    """``beta`` of the stochastic batches as a float: a real number, finite and > 0.

    Called when a strategy is built (so a bad option fails before any model is trained) and
    again by each sampler.

    Raises:
        TypeError: If ``beta`` is not a real number (e.g. ``"high"``, ``True``).
        ValueError: If it is not finite or not positive.

    Example:
        >>> check_beta(2)
        2.0
        >>> check_beta(-1)
        Traceback (most recent call last):
        ...
        ValueError: beta must be a positive finite number (an inverse temperature, e.g. 1.0), got -1.
    """
    if isinstance(beta, (bool, np.bool_)) or not isinstance(beta, numbers.Real):
        raise TypeError(
            f"{name} must be a positive finite number (an inverse temperature, e.g. 1.0), "
            f"got {type(beta).__name__} {beta!r}."
        )
    value = float(beta)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number (an inverse temperature, e.g. 1.0), got {beta!r}.")
    return value


def top_k(scores: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the ``k`` highest scores, ties at the cut broken uniformly at random.

    Args:
        scores: ``(N,)`` finite scores, higher = ask first.
        k: Number of rows to return, ``0 <= k <= N``.
        rng: Generator used only to break ties.

    Returns:
        ``(k,)`` int64 row indices, highest score first.

    Raises:
        PoolExhaustedError: If ``k > N``.

    Example:
        >>> top_k(np.array([0.1, 0.9, 0.5]), 2, np.random.default_rng(0))
        array([1, 2])
    """
    s = check_scores(scores)
    k = check_k(k, len(s))
    if k == 0:
        return np.empty(0, dtype=np.int64)
    n = len(s)
    if k == n:
        cut = s.min()
    else:
        cut = np.partition(s, n - k)[n - k]
    above = np.flatnonzero(s > cut)
    ties = np.flatnonzero(s == cut)
    need = k - len(above)
    chosen_ties = ties if need == len(ties) else rng.choice(ties, size=need, replace=False)
    sel = np.concatenate([above, chosen_ties]).astype(np.int64)
    return sel[np.argsort(-s[sel], kind="stable")]


def _gumbel_top_k(keys: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` rows sampled without replacement with probability ∝ ``exp(keys)`` (Gumbel-top-k)."""
    perturbed = keys + rng.gumbel(size=len(keys))
    # -inf keys (zero scores under ``power``) stay -inf; map them to a finite floor so that
    # ties among them are broken at random by ``top_k``.
    floor = np.finfo(np.float64).min
    return top_k(np.where(np.isneginf(perturbed), floor, perturbed), k, rng)


def power(scores: np.ndarray, k: int, rng: np.random.Generator, beta: float = 1.0) -> np.ndarray:
    """Stochastic batch: sample ``k`` rows without replacement with probability ∝ ``scores**beta``.

    Power acquisition of Kirsch et al. (2023, "Stochastic batch acquisition"), done with the
    Gumbel-top-k trick. Rows with score 0 come last, in random order.

    Args:
        scores: ``(N,)`` non-negative scores.
        k: Batch size.
        rng: Generator.
        beta: Inverse temperature; larger concentrates on the top scores.

    Example:
        >>> power(np.array([0.0, 1.0, 2.0]), 2, np.random.default_rng(0)).tolist()
        [2, 1]
    """
    s = check_scores(scores)
    beta = check_beta(beta)
    if s.size and s.min() < 0:
        raise ValueError(f"power sampling needs non-negative scores, found {s.min():.3g}; use softmax instead.")
    k = check_k(k, len(s))
    with np.errstate(divide="ignore"):
        keys = beta * np.log(s.astype(np.float64))
    return _gumbel_top_k(keys, k, rng)


def softmax(scores: np.ndarray, k: int, rng: np.random.Generator, beta: float = 1.0) -> np.ndarray:
    """Stochastic batch: sample ``k`` rows without replacement with probability ∝ ``exp(beta·score)``.

    Example:
        >>> softmax(np.array([0.0, 10.0, 20.0]), 2, np.random.default_rng(0)).tolist()
        [2, 1]
    """
    s = check_scores(scores)
    beta = check_beta(beta)
    k = check_k(k, len(s))
    return _gumbel_top_k(beta * s.astype(np.float64), k, rng)


def rank(scores: np.ndarray, k: int, rng: np.random.Generator, beta: float = 1.0) -> np.ndarray:
    """Stochastic batch: sample ``k`` rows without replacement with probability ∝ ``rank**(-beta)``.

    The highest score has rank 1; tied scores share the best rank of their group
    (competition ranking), so they are equally likely. Sampling is Gumbel-top-k on the keys
    ``-beta·log(rank)``.

    Args:
        scores: ``(N,)`` finite scores (any sign or scale), higher = ask first.
        k: Batch size, ``0 <= k <= N``.
        rng: Generator.
        beta: Larger values concentrate on the top ranks (Kirsch et al. use 1).

    Returns:
        ``(k,)`` int64 unique row indices.

    Raises:
        ValueError: If ``beta`` is not a positive finite number or the scores are not finite and 1-D.
        PoolExhaustedError: If ``k > N``.

    Cost: O(N log N) time (the ranks), O(N) memory.

    Example:
        >>> rank(np.array([-5.0, 3.0, 1.0]), 3, np.random.default_rng(0), beta=10.0).tolist()
        [1, 2, 0]
    """
    s = check_scores(scores)
    beta = check_beta(beta)
    k = check_k(k, len(s))
    ordered = np.sort(s)
    ranks = 1 + (len(s) - np.searchsorted(ordered, s, side="right"))  # 1 + number of strictly higher scores
    return _gumbel_top_k(-beta * np.log(ranks.astype(np.float64)), k, rng)
