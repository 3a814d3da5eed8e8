"""Bayesian batch strategies (BatchBALD, EPIG) and stochastic batch variants of any score.

Stochastic batches (Kirsch et al., 2023): instead of the top-k scores, sample ``k`` candidates
without replacement with probability ∝ ``score**beta`` (``power``), ``exp(beta·score)``
(``softmax``) or ``rank**(-beta)`` (``rank``). Every score strategy of the registry takes
``sampling=`` and ``beta=`` (``make("margin", sampling="rank")``), and the registry resolves
the names ``power_<score>``, ``softmax_<score>`` and ``rank_<score>`` for every registered
score strategy, listed or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import selection
from ..models.base import Views
from ..pool import Pool
from .base import candidate_rows, sampling_selector

__all__ = ["BatchBaldStrategy", "EpigStrategy"]

@dataclass
class BatchBaldStrategy:
    """BatchBALD (Kirsch et al., 2019): greedy joint mutual information of the batch.

    Args:
        n_draws: Posterior draws ``M`` (MC-dropout passes or ensemble members).
        n_joint_samples: Label configurations enumerated exactly / sampled (see
            :func:`activelab.selection.batchbald`).
        lazy: Lazy greedy evaluation (exact while configurations are enumerated).
        device: torch device for the scoring.

    Needs draws that are consistent across rows: an ensemble (model ``ensemble``), or
    :class:`~activelab.models.TorchClassifier` (its default ``mc_dropout="auto"`` gives consistent
    masks to strategies with ``joint_draws``).

    Cost: see :func:`activelab.selection.batchbald`; O(N) + O(M·S) extra memory.
    """

    name: str = "batchbald"
    n_draws: int = 20
    n_joint_samples: int = 1000
    lazy: bool = True
    device: str | None = None
    needs: tuple[str, ...] = ("prob_samples",)
    joint_draws: ClassVar[bool] = True  # draws are compared across rows: one network per draw
    needs_labelled: ClassVar[bool] = False

    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """Greedy BatchBALD picks among the candidates, as absolute indices in pick order."""
        rows = candidate_rows(views, k)
        samples = views.require("prob_samples")
        samples = samples if len(rows) == len(samples) else samples[rows]
        chosen = selection.batchbald(
            samples, k, rng, n_joint_samples=self.n_joint_samples, lazy=self.lazy, device=self.device
        )
        picked: np.ndarray = views.indices[rows[chosen]]
        return picked


@dataclass
class EpigStrategy:
    """EPIG (Bickford Smith et al., 2023) against a target set drawn from the unlabelled pool.

    Args:
        n_draws: Posterior draws shared by candidates and targets.
        n_target: Candidates drawn (with the strategy's rng) as the target set each round.
        sampling: ``top_k`` (default) or a stochastic batch sampler (``power``, ``softmax``,
            ``rank``) for diverse batches.
        beta: The sampler's inverse temperature (stochastic sampling only).
        device: torch device for the scoring.

    Cost: O(N·T·M·C²) time, O(N + T·M·C) extra memory (see :func:`activelab.selection.epig`).
    """

    name: str = "epig"
    n_draws: int = 20
    n_target: int = 100
    sampling: str = "top_k"
    beta: float | None = None
    device: str | None = None
    needs: tuple[str, ...] = ("prob_samples",)
    joint_draws: ClassVar[bool] = True  # draws are compared across rows: one network per draw
    needs_labelled: ClassVar[bool] = False

    def __post_init__(self) -> None:
        self._selector = sampling_selector(self.sampling, self.beta)

    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """Top-``k`` (or sampled) candidates by EPIG, as absolute indices."""
        rows = candidate_rows(views, k)
        samples = views.require("prob_samples")
        samples = samples if len(rows) == len(samples) else samples[rows]
        target_rng, select_rng = rng.spawn(2)
        s = selection.epig(samples, n_target=self.n_target, rng=target_rng, device=self.device)
        chosen = (self._selector or selection.top_k)(s, k, select_rng)
        picked: np.ndarray = views.indices[rows[chosen]]
        return picked
