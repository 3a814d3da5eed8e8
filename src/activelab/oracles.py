"""Oracles answer label queries: simulated from ground truth, noisy, or a person (callback)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, SupportsInt, runtime_checkable

import numpy as np

from .rng import as_generator

__all__ = ["Answers", "CallbackOracle", "NoisyOracle", "Oracle", "SimulatedOracle", "check_class_ids", "known_labels"]


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


def check_class_ids(y: object, name: str = "y") -> np.ndarray:
    """``y`` as int64 class ids: 1-D, integer-valued (floats such as ``2.0`` pass), no NaN.

    Raises:
        TypeError: If ``y`` is not numeric (map names to ids, e.g. ``np.unique(y, return_inverse=True)``).
        ValueError: If ``y`` is not 1-D, or holds non-integer values (a continuous target: regression
            is not supported yet); the message names the first such row.
    """
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one class id per pool item), got shape {arr.shape}.")
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold integer class ids 0..C-1, got dtype {arr.dtype}; map class names to ids first, "
            "e.g. classes, ids = np.unique(y, return_inverse=True)."
        )
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{name} holds non-integer values (first at row {row}: {arr[row]!r}); labels must be class ids "
                "0..C-1. A continuous target is regression, which activelab does not support yet."
            )
    return arr.astype(np.int64)


class SimulatedOracle:
    """Answers with the ground-truth labels ``y`` (the usual simulation of an annotator).

    Raises:
        TypeError, ValueError: If ``y`` is not a 1-D array of integer class ids (see
            :func:`check_class_ids`).
    """

    def __init__(self, y: np.ndarray) -> None:
        self.y = check_class_ids(y, "SimulatedOracle's y")

    def label(self, indices: np.ndarray) -> Answers:
        """Return ``y[indices]``."""
        idx = np.asarray(indices, dtype=np.int64)
        return Answers(idx, self.y[idx], np.ones(len(idx), dtype=bool))


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
        y = check_class_ids(y, "NoisyOracle's y")
        flip = rng.random(len(y)) < flip_rate
        shift = rng.integers(1, n_classes, size=len(y))
        self.noisy = np.where(flip, (y + shift) % n_classes, y)
        self.flipped = flip

    def label(self, indices: np.ndarray) -> Answers:
        """Return the (possibly flipped) labels."""
        idx = np.asarray(indices, dtype=np.int64)
        return Answers(idx, self.noisy[idx], np.ones(len(idx), dtype=bool))


def known_labels(oracle: object) -> np.ndarray | None:
    """The labels an oracle will give for every pool item, when it holds them all in advance.

    ``SimulatedOracle.y``, ``NoisyOracle.noisy`` (the noisy labels), or a ``y`` array of another
    oracle; ``None`` for oracles that answer on demand (a person, a callback). Drivers use them
    to check the pool size before any work and to fingerprint a checkpoint's labels.
    """
    if isinstance(oracle, NoisyOracle):
        return oracle.noisy
    y = getattr(oracle, "y", None)
    return y if isinstance(y, np.ndarray) else None


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
