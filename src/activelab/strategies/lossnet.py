"""Learning Loss strategy (Yoo & Kweon 2019): ask for the items with the highest predicted loss."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..models.base import Views
from ..pool import Pool
from ..selection import top_k
from .base import candidate_rows

__all__ = ["LearningLossStrategy"]


@dataclass
class LearningLossStrategy:
    """Top-``k`` candidates by the model's predicted loss (view ``predicted_loss``).

    Needs a model with ``predict_loss``, e.g.
    :class:`~activelab.models.lossnet.LossPredictionClassifier` (registered model ``mlp_lossnet``).

    Args:
        subset: If set, the top-``k`` is taken inside a uniformly random subset of this many
            candidates (the paper uses 10,000 to avoid redundant picks from one dense
            region); ``None`` ranks every candidate.

    Cost: O(N) time and memory over the N candidates (``top_k`` on a partition).

    Raises (from :meth:`select`):
        PoolExhaustedError: If ``k`` exceeds the candidates.
        ValueError: If ``subset < k`` or a predicted loss is not finite.
    """

    subset: int | None = None
    name: str = "learning_loss"
    needs: tuple[str, ...] = ("predicted_loss",)
    needs_labelled: ClassVar[bool] = False
    n_draws: int = 0

    def __post_init__(self) -> None:
        if self.subset is not None and (not isinstance(self.subset, (int, np.integer)) or self.subset < 1):
            raise ValueError(f"subset must be a positive int or None, got {self.subset!r}.")

    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """``k`` unlabelled absolute indices with the highest predicted loss."""
        rows = candidate_rows(views, k)
        if self.subset is not None and self.subset < len(rows):
            if self.subset < k:
                raise ValueError(f"subset ({self.subset}) must be >= k ({k}); raise subset or lower the query size.")
            rows = np.sort(rng.choice(rows, size=self.subset, replace=False))
        scores = views.require("predicted_loss")[rows]
        picked: np.ndarray = views.indices[rows[top_k(scores, k, rng)]]
        return picked
