"""Oracles answer label queries: simulated from ground truth, noisy, or a person (callback)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, SupportsInt, runtime_checkable

import numpy as np

from .rng import as_generator

__all__ = ["Answers", "CallbackOracle", "NoisyOracle", "Oracle", "SimulatedOracle"]


@dataclass(frozen=True)
class Answers:
    """The oracle's answers to one query.

    Attributes:
        indices: ``(n,)`` absolute pool indices that were asked.
        labels: ``(n,)`` class ids; meaningless where ``answered`` is False.
        answered: ``(n,)`` bool; False = the oracle skipped this item.
    """

    indices: np.ndarray
    labels: np.ndarray
    answered: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.indices)
        if len(self.labels) != n or len(self.answered) != n:
            raise ValueError(
                f"Oracle returned {len(self.labels)} labels and {len(self.answered)} answered flags "
                f"for {n} indices; an oracle must answer every index (use answered=False to skip)."
            )


@runtime_checkable
class Oracle(Protocol):
    """Anything with ``label(indices) -> Answers``."""

    def label(self, indices: np.ndarray) -> Answers:
        """Answer the query for these absolute pool indices."""
        ...


class SimulatedOracle:
    """Answers with the ground-truth labels ``y`` (the usual simulation of an annotator)."""

    def __init__(self, y: np.ndarray) -> None:
        self.y = np.asarray(y)

    def label(self, indices: np.ndarray) -> Answers:
        """Return ``y[indices]``."""
        idx = np.asarray(indices, dtype=np.int64)
        return Answers(idx, self.y[idx].astype(np.int64), np.ones(len(idx), dtype=bool))


class NoisyOracle:
    """Ground truth with each item's label flipped, with probability ``flip_rate``, to a
    different class drawn uniformly. The noisy label of an item is fixed at construction,
    so asking twice gives the same answer and a resumed run sees the same labels.
    """

    def __init__(self, y: np.ndarray, n_classes: int, flip_rate: float, seed: int | np.random.Generator | None = 0) -> None:
        if not 0.0 <= flip_rate <= 1.0:
            raise ValueError(f"flip_rate must be in [0, 1], got {flip_rate}.")
        if n_classes < 2:
            raise ValueError(f"n_classes must be >= 2, got {n_classes}.")
        rng = as_generator(seed)
        y = np.asarray(y, dtype=np.int64)
        flip = rng.random(len(y)) < flip_rate
        shift = rng.integers(1, n_classes, size=len(y))
        self.noisy = np.where(flip, (y + shift) % n_classes, y)
        self.flipped = flip

    def label(self, indices: np.ndarray) -> Answers:
        """Return the (possibly flipped) labels."""
        idx = np.asarray(indices, dtype=np.int64)
        return Answers(idx, self.noisy[idx], np.ones(len(idx), dtype=bool))


class CallbackOracle:
    """Wraps ``fn(indices) -> labels`` where a label of -1 (or None) means "skip"."""

    def __init__(self, fn: Callable[[np.ndarray], Iterable[SupportsInt | None]]) -> None:
        self.fn = fn

    def label(self, indices: np.ndarray) -> Answers:
        """Call ``fn`` and convert its answers."""
        idx = np.asarray(indices, dtype=np.int64)
        raw = list(self.fn(idx))
        if len(raw) != len(idx):
            raise ValueError(f"Oracle callback returned {len(raw)} labels for {len(idx)} indices.")
        answered = np.array([r is not None and int(r) >= 0 for r in raw], dtype=bool)
        labels = np.array([int(r) if a and r is not None else -1 for r, a in zip(raw, answered, strict=True)], dtype=np.int64)
        return Answers(idx, labels, answered)
