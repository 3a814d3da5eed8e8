"""Hybrid strategies: Cluster-Margin, uncertainty-then-diversity two-step, weighted score mixtures.

``two_step`` and ``mixture`` combine *score strategies*: registered strategies with a
``scores(views) -> (n_candidates,)`` method (margin, entropy, bald, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, cast

import numpy as np

from .. import acquisition as acq
from ..models.base import Views
from ..pool import Pool
from ..selection import top_k
from ..selection.hybrid import cluster_margin, mixture_scores, two_step
from .base import SupportsScores, candidate_rows
from .registry import make

__all__ = ["ClusterMarginStrategy", "MixtureStrategy", "TwoStepStrategy"]


def _score_strategy(spec: str | SupportsScores, owner: str) -> SupportsScores:
    """A score strategy from a registered name or an object with ``scores(views)``."""
    sub = make(spec) if isinstance(spec, str) else spec
    if not callable(getattr(sub, "scores", None)):
        raise TypeError(
            f"{owner} combines score strategies, but {spec!r} has no scores(views) method; "
            "use a score strategy such as margin, entropy, least_confidence or bald."
        )
    return cast(SupportsScores, sub)  # it has scores(), checked above


def _full_scores(views: Views, cand_scores: np.ndarray) -> np.ndarray:
    """Scores over all rows of ``views`` (labelled rows get 0, which the selectors ignore)."""
    full = np.zeros(len(views.indices), dtype=np.float64)
    full[views.candidates] = cand_scores
    return full


@dataclass
class ClusterMarginStrategy:
    """Cluster-Margin (Citovsky et al. 2021): margin filter to ``factor·k`` rows, average-linkage
    HAC of their embeddings, round-robin from the smallest cluster.

    Cost: see :func:`activelab.selection.cluster_margin` (O(M²) memory, M ≤ ``max_subset``).
    """

    name: str = "cluster_margin"
    factor: float = 10
    n_clusters: int | None = None
    max_subset: int = 5000
    needs: tuple[str, ...] = ("probs", "embeddings")
    needs_labelled: ClassVar[bool] = False
    n_draws: int = 0

    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """Diverse low-margin candidates, as absolute indices."""
        rows = candidate_rows(views, k)
        scores = acq.margin(views.require("probs")[rows])
        emb = views.require("embeddings")
        chosen = cluster_margin(
            _full_scores(views, scores), emb, views.labelled, k, rng,
            factor=self.factor, n_clusters=self.n_clusters, max_subset=self.max_subset,
        )
        picked: np.ndarray = views.indices[chosen]
        return picked


@dataclass
class TwoStepStrategy:
    """Top ``factor·k`` candidates by a score, then greedy k-center among them (labelled rows as
    centres): ``make("two_step", score="margin", factor=10)``. ``score`` is a registered name or a
    score strategy object (anything with ``scores(views)``).

    Cost: the score's cost + k-center on L + M rows (see :func:`activelab.selection.two_step`).
    """

    name: str = "two_step"
    score: str | SupportsScores = "margin"
    factor: float = 10
    device: str | None = None
    needs_labelled: ClassVar[bool] = True

    def __post_init__(self) -> None:
        self._sub = _score_strategy(self.score, "two_step")

    @property
    def needs(self) -> tuple[str, ...]:
        """The score's views plus ``embeddings``."""
        return tuple(dict.fromkeys((*self._sub.needs, "embeddings")))

    @property
    def n_draws(self) -> int:
        """Posterior samples of the score strategy."""
        return int(getattr(self._sub, "n_draws", 0) or 0)

    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """k-center picks among the most uncertain candidates, as absolute indices."""
        candidate_rows(views, k)
        scores = self._sub.scores(views)
        chosen = two_step(
            _full_scores(views, scores), views.require("embeddings"), views.labelled, k, rng,
            factor=self.factor, device=self.device,
        )
        picked: np.ndarray = views.indices[chosen]
        return picked


@dataclass
class MixtureStrategy:
    """Top-k of a weighted sum of rank-normalised scores of registered score strategies:
    ``make("mixture", weights={"margin": 0.5, "entropy": 0.5})``.

    Cost: the component scores + O(S·N log N) ranking.
    """

    name: str = "mixture"
    weights: Mapping[str, float] = field(default_factory=lambda: {"margin": 0.5, "entropy": 0.5})
    needs_labelled: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not isinstance(self.weights, Mapping) or not self.weights:
            raise TypeError(f"weights must be a non-empty dict {{score name: weight}}, got {self.weights!r}.")
        self._subs = {name: _score_strategy(name, "mixture") for name in self.weights}
        mixture_scores([np.zeros(1)] * len(self.weights), list(self.weights.values()))  # validates weights

    @property
    def needs(self) -> tuple[str, ...]:
        """Union of the component strategies' views."""
        return tuple(dict.fromkeys(v for s in self._subs.values() for v in s.needs))

    @property
    def n_draws(self) -> int:
        """Largest number of posterior samples among the components."""
        return max(int(getattr(s, "n_draws", 0) or 0) for s in self._subs.values())

    def scores(self, views: Views) -> np.ndarray:
        """Mixed scores of the candidate rows (in ``views.candidates`` order)."""
        parts = [s.scores(views) for s in self._subs.values()]
        return mixture_scores(parts, list(self.weights.values()))

    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """Top-k mixed scores, as absolute indices."""
        rows = candidate_rows(views, k)
        picked: np.ndarray = views.indices[rows[top_k(self.scores(views), k, rng)]]
        return picked
