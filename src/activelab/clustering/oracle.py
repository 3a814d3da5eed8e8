"""Pair oracles: answer "how similar are items i and j?" with a value in ``[-1, 1]``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, SupportsFloat, runtime_checkable

import numpy as np

from .store import check_pairs

__all__ = ["CallbackPairOracle", "NoisyPairOracle", "PairAnswers", "PairOracle"]


@dataclass(frozen=True)
class PairAnswers:
    """Answers to a batch of pair queries.

    Attributes:
        pairs: The pairs asked, int64 ``(m, 2)``.
        values: Similarities in ``[-1, 1]``, float64 ``(m,)``; ignored where not answered.
        answered: Bool ``(m,)``; a human may skip a pair (it is not stored, and may be asked again).
    """

    pairs: np.ndarray
    values: np.ndarray
    answered: np.ndarray


@runtime_checkable
class PairOracle(Protocol):
    """Anything that answers pair queries."""

    def answer(self, pairs: np.ndarray, rng: np.random.Generator) -> PairAnswers:
        """Answer ``pairs`` ``(m, 2)``; random choices use ``rng`` only."""
        ...


class NoisyPairOracle:
    """Simulated oracle from a ground-truth partition, with the noise model of the TMLR paper.

    With probability ``1 - noise`` the answer is the truth: ``+1`` if both items share a
    cluster, ``-1`` otherwise. With probability ``noise`` it is a random sign times a magnitude
    drawn from ``U(0.15, 0.5)``. Each answer is an independent draw, so asking a pair again
    gives fresh noise.

    Args:
        labels: Ground-truth cluster of each item, int ``(n_items,)``.
        noise: ``gamma`` in ``[0, 1)``.

    Example:
        >>> oracle = NoisyPairOracle(np.array([0, 0, 1]), noise=0.0)
        >>> oracle.answer(np.array([[0, 1], [1, 2]]), np.random.default_rng(0)).values.tolist()
        [1.0, -1.0]
    """

    def __init__(self, labels: np.ndarray, noise: float = 0.0) -> None:
        labels = np.asarray(labels)
        if labels.ndim != 1 or len(labels) == 0:
            raise ValueError(f"labels must be a non-empty 1-D array, got shape {labels.shape}.")
        if not isinstance(noise, (int, float, np.floating)) or not 0.0 <= float(noise) < 1.0:
            raise ValueError(f"noise must be a probability in [0, 1), got {noise!r}.")
        self.labels = labels
        self.noise = float(noise)

    def answer(self, pairs: np.ndarray, rng: np.random.Generator) -> PairAnswers:
        """Answer every pair (never skips). O(m) time and memory."""
        p = check_pairs(pairs, len(self.labels))
        truth = np.where(self.labels[p[:, 0]] == self.labels[p[:, 1]], 1.0, -1.0)
        noisy = rng.random(len(p)) < self.noise
        sign = np.where(rng.random(len(p)) < 0.5, 1.0, -1.0)
        magnitude = rng.uniform(0.15, 0.5, size=len(p))
        values = np.where(noisy, sign * magnitude, truth)
        return PairAnswers(p, values, np.ones(len(p), dtype=bool))


class CallbackPairOracle:
    """A person (or any code) answers through ``fn(pairs) -> values``.

    ``fn`` gets the canonical pairs ``(m, 2)`` and returns ``m`` values in ``[-1, 1]``, or
    ``None`` for a pair the person skips (e.g. "not sure").

    Example:
        >>> oracle = CallbackPairOracle(lambda pairs: [1.0 if p[0] < 2 else None for p in pairs])
        >>> a = oracle.answer(np.array([[0, 1], [2, 3]]), np.random.default_rng(0))
        >>> a.values.tolist(), a.answered.tolist()
        ([1.0, 0.0], [True, False])
    """

    def __init__(self, fn: Callable[[np.ndarray], Iterable[SupportsFloat | None]]) -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}.")
        self.fn = fn

    def answer(self, pairs: np.ndarray, rng: np.random.Generator) -> PairAnswers:
        """Call ``fn`` once for the whole batch and validate what it returns."""
        p = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        raw = list(self.fn(p.copy()))
        if len(raw) != len(p):
            raise ValueError(f"the pair oracle returned {len(raw)} answers for {len(p)} pairs; answer each "
                             "pair (None to skip).")
        answered = np.array([v is not None for v in raw], dtype=bool)
        values = np.array([0.0 if v is None else float(v) for v in raw], dtype=np.float64)
        if not np.isfinite(values).all() or np.abs(values).max(initial=0.0) > 1.0:
            raise ValueError("the pair oracle must answer similarities in [-1, 1] (or None to skip).")
        return PairAnswers(np.sort(p, axis=1), values, answered)
