"""The :class:`Dataset` container and the held-out split rule shared by every loader."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from activelab._validation import fingerprint_arrays

__all__ = ["SCALES", "Dataset", "fingerprint", "scale_features", "split_indices", "with_test_split"]


@dataclass(frozen=True)
class Dataset:
    """Arrays of one classification task; the pool is ``X``/``y``, evaluation uses the test split.

    Attributes:
        name: Registry name or file name.
        X: Pool features, shape ``(n_items, *feature_shape)``, float32 (may be a memmap).
            Images are ``(n_items, channels, height, width)``.
        y: Pool labels, shape ``(n_items,)``, int64 in ``[0, n_classes)``.
        X_test: Test features or ``None`` (then :func:`with_test_split` makes one).
        y_test: Test labels or ``None``.
        n_classes: Number of classes (never inferred from the pool's hidden labels at query time).
        class_names: Optional names of the classes.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    n_classes: int = 0
    class_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if len(self.X) != len(self.y):
            raise ValueError(
                f"Dataset {self.name!r}: X has {len(self.X)} rows but y has {len(self.y)} labels."
            )
        if len(self.X) == 0:
            raise ValueError(f"Dataset {self.name!r} is empty (0 rows).")
        if (self.X_test is None) != (self.y_test is None):
            raise ValueError(f"Dataset {self.name!r}: give both X_test and y_test, or neither.")
        if self.X_test is not None and self.y_test is not None and len(self.X_test) != len(self.y_test):
            raise ValueError(
                f"Dataset {self.name!r}: X_test has {len(self.X_test)} rows but y_test has "
                f"{len(self.y_test)} labels."
            )
        n_classes = self.n_classes or int(
            max(self.y.max(), -1 if self.y_test is None else self.y_test.max()) + 1
        )
        object.__setattr__(self, "n_classes", n_classes)
        for part, labels in (("y", self.y), ("y_test", self.y_test)):
            if labels is None:
                continue
            if labels.min() < 0 or labels.max() >= n_classes:
                raise ValueError(
                    f"Dataset {self.name!r}: {part} holds labels outside [0, {n_classes}) "
                    f"(min {labels.min()}, max {labels.max()}); labels must be 0..n_classes-1."
                )

    @property
    def n_items(self) -> int:
        """Number of pool items."""
        return len(self.X)

    @property
    def feature_shape(self) -> tuple[int, ...]:
        """Shape of one item's features."""
        return tuple(self.X.shape[1:])


def split_indices(dataset: Dataset, seed: int, test_fraction: float = 1 / 3) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``dataset`` that :func:`with_test_split` keeps as the pool and holds out, both sorted.

    A stratified split when every class has at least two items, seeded by ``seed`` only.
    """
    from sklearn.model_selection import train_test_split

    counts = np.bincount(dataset.y, minlength=dataset.n_classes)
    stratify = dataset.y if counts[counts > 0].min() >= 2 else None
    idx = np.arange(dataset.n_items)
    train_idx, test_idx = train_test_split(
        idx, test_size=test_fraction, random_state=seed, stratify=stratify
    )
    train_idx.sort()
    test_idx.sort()
    return train_idx, test_idx


def with_test_split(dataset: Dataset, seed: int, test_fraction: float = 1 / 3) -> Dataset:
    """Return ``dataset`` with a test split; a stratified ``test_fraction`` is held out if none.

    The split depends only on ``seed`` (not on the strategy), so paired runs share it.
    A dataset that already has a test split is returned unchanged. The pool keeps the rows
    :func:`split_indices` gives, in their order.
    """
    if dataset.X_test is not None:
        return dataset
    train_idx, test_idx = split_indices(dataset, seed, test_fraction)
    return replace(
        dataset,
        X=dataset.X[train_idx],
        y=dataset.y[train_idx],
        X_test=dataset.X[test_idx],
        y_test=dataset.y[test_idx],
    )


def fingerprint(dataset: Dataset) -> dict[str, Any]:
    """Shapes and a SHA-256 of the dataset's arrays (``X``, ``y`` and the test split if given).

    Results record it, and a rerun compares it, so edited data (the same shape, other values,
    e.g. shuffled labels) are never mistaken for the data the results came from.

    Example:
        >>> ds = Dataset("d", np.zeros((4, 2), dtype=np.float32), np.array([0, 1, 0, 1]))
        >>> fingerprint(ds)["shape"]
        {'X': [4, 2], 'y': [4]}
    """
    return fingerprint_arrays({"X": dataset.X, "y": dataset.y, "X_test": dataset.X_test, "y_test": dataset.y_test})


def _standard(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = X.mean(axis=0, dtype=np.float64)
    std = X.std(axis=0, dtype=np.float64)
    return mean, np.where(std > 0, std, 1.0)


def _minmax(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    low = X.min(axis=0).astype(np.float64)
    span = X.max(axis=0).astype(np.float64) - low
    return low, np.where(span > 0, span, 1.0)


#: ``--scale`` choices: name -> ``pool features -> (shift, divisor)`` per feature (``None``: as they are).
SCALES: dict[str, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None] = {
    "standard": _standard,
    "minmax": _minmax,
    "none": None,
}


def scale_features(dataset: Dataset, method: str) -> Dataset:
    """Tabular features scaled per feature, fitted on the pool (``dataset.X``) only.

    ``standard``: zero mean and unit variance; ``minmax``: into ``[0, 1]`` on the pool (test
    rows may fall outside); ``none``: unchanged. Constant features are only shifted. The test
    split is transformed with the pool's statistics, never fitted on. Features of more than
    one dimension per item (images) are returned unchanged: scaling pixels one by one would
    distort them.

    Raises:
        ValueError: For an unknown ``method``.

    Example:
        >>> ds = Dataset("d", np.array([[0.0, 5.0], [2.0, 5.0]], dtype=np.float32), np.array([0, 1]))
        >>> scale_features(ds, "standard").X.tolist()
        [[-1.0, 0.0], [1.0, 0.0]]
    """
    if method not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, got {method!r}.")
    fit = SCALES[method]
    if fit is None or np.asarray(dataset.X).ndim != 2:
        return dataset
    X = np.asarray(dataset.X)
    shift, divisor = fit(X)

    def apply(a: np.ndarray) -> np.ndarray:
        out: np.ndarray = ((np.asarray(a, dtype=np.float64) - shift) / divisor).astype(np.float32)
        return out

    return replace(dataset, X=apply(X), X_test=None if dataset.X_test is None else apply(dataset.X_test))
