"""Built-in strategies beyond score-then-top-k: random, Core-Set (k-center), BADGE, CAL,
discriminative AL. (EGL and information density are score strategies over two views.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ..models.base import Views
from ..pool import Pool
from ..neighbors import Backend
from ..neighbors.kernels import warm_for_rounds
from ..selection import badge, cal_scores, discriminative, kcenter_greedy, random_projection, top_k
from ..selection.coldstart import kmeans_initial
from ..selection.tensors import check_precision
from .base import candidate_rows

__all__ = [
    "BadgeStrategy",
    "CALStrategy",
    "CoresetStrategy",
    "DiscriminativeStrategy",
    "RandomStrategy",
]


@dataclass
class RandomStrategy:
    """Uniformly random unlabelled items (the baseline every strategy must beat).

    Cost: O(N) time and memory; needs no model output.
    """

    name: str = "random"
    needs: tuple[str, ...] = ()
    needs_labelled: ClassVar[bool] = False
    n_draws: int = 0

    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """``k`` distinct candidates drawn uniformly without replacement."""
        rows = candidate_rows(views, k)
        picked: np.ndarray = views.indices[rng.choice(rows, size=k, replace=False)]
        return picked


@dataclass
class CoresetStrategy:
    """Core-Set (Sener & Savarese, 2018): greedy k-center on penultimate embeddings.

    Args:
        projection_dim: If set, run k-center on a Gaussian random projection of the
            embeddings to this many dimensions (faster, approximate).
        device: torch device for the passes.
        precision: ``"fp32"``, or ``"bf16"``: the embeddings rounded to bfloat16, each pass
            reading half the bytes (CPU with numba; see :func:`activelab.selection.kcenter_greedy`).

    Cost: O(N·L·D + k·N·D) time, O(N) extra memory (see :func:`activelab.selection.kcenter_greedy`).
    On CPU with numba installed, embeddings of 16 MiB or more load the compiled pick loops on
    the first selection (:func:`activelab.neighbors.kernels.warm_for_rounds`, about half a second once per process).
    """

    name: str = "coreset"
    projection_dim: int | None = None
    device: str | None = None
    precision: str = "fp32"
    needs: tuple[str, ...] = ("embeddings",)
    needs_labelled: ClassVar[bool] = True
    n_draws: int = 0

    def __post_init__(self) -> None:
        check_precision(self.precision, self.device)

    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """Greedy k-center picks, labelled rows acting as centres."""
        candidate_rows(views, k)
        emb = views.require("embeddings")
        if self.projection_dim is not None:
            emb = random_projection(emb, self.projection_dim, rng)
        if self.device is None or self.device == "cpu":  # a selection per round: compiled loops from 16 MiB
            warm_for_rounds(emb.nbytes)
        rows = kcenter_greedy(emb, views.labelled, k, rng, device=self.device, precision=self.precision)
        picked: np.ndarray = views.indices[rows]
        return picked


@dataclass
class BadgeStrategy:
    """BADGE (Ash et al., 2020): k-means++ seeding on factorised last-layer gradient embeddings.

    Args:
        device: torch device for the passes.
        precision: ``"fp32"``, or ``"bf16"``: the embeddings rounded to bfloat16, each pass
            reading half their bytes (CPU with numba; see :func:`activelab.selection.badge`).

    Cost: k passes over the candidates' embeddings and probabilities, O(N·C) extra memory;
    the N×(C·D) gradient embedding is never built (see :func:`activelab.selection.badge`).
    On CPU with numba installed, embeddings of 16 MiB or more load the compiled pick loops on
    the first selection (:func:`activelab.neighbors.kernels.warm_for_rounds`, about half a second once per process).
    """

    name: str = "badge"
    device: str | None = None
    precision: str = "fp32"
    needs: tuple[str, ...] = field(default=("probs", "embeddings"))
    needs_labelled: ClassVar[bool] = False
    n_draws: int = 0

    def __post_init__(self) -> None:
        check_precision(self.precision, self.device)

    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """k-means++ (D²) seeds among the candidates."""
        rows = candidate_rows(views, k)
        probs = views.require("probs")[rows]
        emb = views.require("embeddings")[rows]
        if self.device is None or self.device == "cpu":  # a selection per round: compiled loops from 16 MiB
            warm_for_rounds(emb.nbytes)
        chosen = badge(probs, emb, k, rng, device=self.device, precision=self.precision)
        picked: np.ndarray = views.indices[rows[chosen]]
        return picked


@dataclass
class CALStrategy:
    """CAL, contrastive active learning (Margatina et al., 2021): candidates the model predicts
    differently from their nearest labelled neighbours in embedding space, top-``k``.

    Args:
        n_neighbors: Labelled neighbours per candidate (the paper's 10). It matters with few
            labels: a candidate then meets labelled items of other classes, and the most
            confidently predicted candidates get the largest divergence, so a small labelled
            set may call for fewer neighbours (digits figures for 10, ``max(1, min(10, L // C))``
            and 1: docs/benchmarks.md, "CAL, EGL, information density and DAL on the digits
            protocol").
        backend: kNN backend.

    Cost: O(U·L·D) for the neighbour search (U candidates, L labelled rows), O(U·n·C) for the
    divergences; O(U·n) extra memory (see :func:`activelab.selection.cal_scores`).
    """

    name: str = "cal"
    n_neighbors: int = 10
    backend: Backend = "auto"
    needs: tuple[str, ...] = ("probs", "embeddings")
    needs_labelled: ClassVar[bool] = True
    n_draws: int = 0

    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """Top-``k`` candidates by CAL score (ties at random), as absolute indices."""
        rows = candidate_rows(views, k)
        scores = cal_scores(
            views.require("probs"), views.require("embeddings"), views.labelled, self.n_neighbors, backend=self.backend
        )
        picked: np.ndarray = views.indices[rows[top_k(scores, k, rng)]]
        return picked


@dataclass
class DiscriminativeStrategy:
    """Discriminative active learning (DAL, Gissin & Shalev-Shwartz, 2019): the candidates a
    labelled-vs-unlabelled classifier on the embeddings is surest are unlabelled, in sub-batches.

    Args:
        n_steps: Sub-batches, each after a refit with the earlier picks counted as labelled.
        max_train: Rows per fit (all labelled rows plus a random subset of the candidates).

    Cold start: with no labelled row there is nothing to discriminate, so the first sub-batch
    (``ceil(k / n_steps)`` rows) is the row nearest each k-means centroid of the candidates
    (as ``kmeans`` picks) and the rest of the batch is DAL's, with those rows counted as
    labelled. This is how ``dal`` runs as the initial strategy (``initial_strategy="dal"``,
    no labels yet); with any labelled row it is plain DAL.

    Cost: ``n_steps`` logistic-regression fits on at most ``max_train`` rows and prediction
    passes over the candidates, O(n_steps·N·D); one float32 copy of the embeddings
    (see :func:`activelab.selection.discriminative`); the cold start adds a k-means into
    ``ceil(k / n_steps)`` clusters.
    """

    name: str = "dal"
    n_steps: int = 10
    max_train: int = 20_000
    needs: tuple[str, ...] = ("embeddings",)
    needs_labelled: ClassVar[bool] = True
    n_draws: int = 0

    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """``k`` candidates least like the labelled set, as absolute indices."""
        candidate_rows(views, k)
        x = views.require("embeddings")
        if views.labelled.any():
            rows = discriminative(x, views.labelled, k, rng, n_steps=self.n_steps, max_train=self.max_train)
        else:  # cold start (class docstring): k-means seeds, then DAL against them
            n_seed = min(k, -(-k // self.n_steps))
            seeds = kmeans_initial(x, n_seed, rng)
            rows = seeds
            if k > n_seed:
                labelled = views.labelled.copy()
                labelled[seeds] = True
                rest = discriminative(
                    x, labelled, k - n_seed, rng, n_steps=max(1, self.n_steps - 1), max_train=self.max_train
                )
                rows = np.concatenate([seeds, rest])
        picked: np.ndarray = views.indices[rows]
        return picked
