"""``SklearnClassifier``: any scikit-learn estimator with ``predict_proba``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import NotFittedError
from ..rng import derive_seed

__all__ = ["SklearnClassifier"]


class SklearnClassifier:
    """Adapter for scikit-learn classifiers; refits a clone each round (``retrain``).

    Probabilities are always ``(n, n_classes)``: columns of classes not yet labelled are 0.
    With a single labelled class the model predicts that class with probability 1.
    If the estimator has a ``random_state`` parameter it is seeded from the fit ``rng``.
    Features are flattened to 2-D.
    """

    def __init__(self, estimator: Any, n_classes: int) -> None:
        if not hasattr(estimator, "predict_proba"):
            raise TypeError(f"{type(estimator).__name__} has no predict_proba; use a probabilistic classifier.")
        self.estimator = estimator
        self.n_classes = n_classes
        self.estimator_: Any = None
        self.classes_: np.ndarray | None = None

    @staticmethod
    def _flat(X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        return X.reshape(len(X), -1)

    def fit(self, X: np.ndarray, y: np.ndarray, *, rng: np.random.Generator) -> SklearnClassifier:
        """Fit a fresh clone of the estimator."""
        from sklearn.base import clone

        y = np.asarray(y)
        if len(X) != len(y) or len(y) == 0:
            raise ValueError(f"need the same non-zero number of rows in X and y, got {len(X)} and {len(y)}.")
        if y.min() < 0 or y.max() >= self.n_classes:
            raise ValueError(f"labels must be in [0, {self.n_classes}), got min {y.min()} max {y.max()}.")
        self.classes_ = np.unique(y)
        if len(self.classes_) == 1:
            self.estimator_ = None
            return self
        est = clone(self.estimator)
        if "random_state" in est.get_params():
            est.set_params(random_state=derive_seed(rng) % (2**32))
        self.estimator_ = est.fit(self._flat(X), y)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities padded to ``(n, n_classes)``."""
        if self.classes_ is None:
            raise NotFittedError("This SklearnClassifier is not fitted yet; call fit() first.")
        out = np.zeros((len(X), int(self.n_classes)), dtype=np.float64)
        if self.estimator_ is None:
            out[:, self.classes_[0]] = 1.0
            return out
        out[:, self.estimator_.classes_] = self.estimator_.predict_proba(self._flat(X))
        return out
