"""The :class:`Dataset` container and the held-out split rule shared by every loader."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

__all__ = ["Dataset", "with_test_split"]


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


def with_test_split(dataset: Dataset, seed: int, test_fraction: float = 1 / 3) -> Dataset:
    """Return ``dataset`` with a test split; a stratified ``test_fraction`` is held out if none.

    The split depends only on ``seed`` (not on the strategy), so paired runs share it.
    A dataset that already has a test split is returned unchanged.
    """
    if dataset.X_test is not None:
        return dataset
    from sklearn.model_selection import train_test_split

    counts = np.bincount(dataset.y, minlength=dataset.n_classes)
    stratify = dataset.y if counts[counts > 0].min() >= 2 else None
    idx = np.arange(dataset.n_items)
    train_idx, test_idx = train_test_split(
        idx, test_size=test_fraction, random_state=seed, stratify=stratify
    )
    train_idx.sort()
    test_idx.sort()
    return replace(
        dataset,
        X=dataset.X[train_idx],
        y=dataset.y[train_idx],
        X_test=dataset.X[test_idx],
        y_test=dataset.y[test_idx],
    )
