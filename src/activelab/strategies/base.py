"""The Strategy protocol and the generic score-then-select strategy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from .. import selection
from .._validation import check_k
from ..errors import StrategyContractError
from ..models.base import Views
from ..pool import Pool

__all__ = [
    "SAMPLINGS",
    "SELECTION_RULES",
    "ScoreStrategy",
    "Strategy",
    "SupportsScores",
    "check_selection",
    "sampling_selector",
    "strategy_name",
]

#: The rules a strategy's ``select`` result must follow; :func:`check_selection` names the one broken.
SELECTION_RULES = (
    "select returns a 1-D array of exactly k indices",
    "indices are integers (absolute pool indices)",
    "indices are unique",
    "indices lie in the pool",
    "indices are unlabelled items that may be asked (not labelled, skipped or already proposed)",
)


@runtime_checkable
class Strategy(Protocol):
    """Chooses which unlabelled items to ask the oracle about.

    Attributes:
        name: Registry name.
        needs: Views the loop must compute (subset of ``("probs", "prob_samples", "embeddings")``).
        needs_labelled: If True the views also cover the labelled items (e.g. k-center centres).
        n_draws: Posterior samples per item when ``"prob_samples"`` is needed.
        joint_draws: Optional (default False). True when the strategy compares posterior
            draws across rows (BatchBALD, EPIG): the loop then asks the model for draws that
            are one sampled network each (``joint=True``, see
            :class:`~activelab.models.base.SupportsProbaSamples`).

    ``select`` returns ``k`` unique absolute pool indices of unlabelled items. The loop never
    special-cases a strategy: all it does is compute ``needs`` and call ``select``.

    Cold start (no label yet, ``Budget(initial=0)``): no model exists, so the engine's
    *initial strategy* picks the first batch (``random`` by default). A strategy whose
    ``needs`` stay within ``embeddings``/``inputs`` can be that initial strategy itself
    (``coreset``, ``dal``, ``kmeans``, ``probcover``, ``typiclust``); every other one falls
    back to it for the first batch and takes over from round 1.
    """

    # Read-only properties, so that dataclass fields, class variables and properties all satisfy them.
    @property
    def name(self) -> str:
        """Registry name."""
        ...

    @property
    def needs(self) -> tuple[str, ...]:
        """Views the loop must compute."""
        ...

    @property
    def needs_labelled(self) -> bool:
        """True if the views also cover the labelled items."""
        ...

    @property
    def n_draws(self) -> int:
        """Posterior samples per item when ``"prob_samples"`` is needed."""
        ...

    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """Return ``k`` unique unlabelled absolute indices."""
        ...


@runtime_checkable
class SupportsScores(Strategy, Protocol):
    """A strategy that also scores the candidates (e.g. :class:`ScoreStrategy`); hybrids combine such scores."""

    def scores(self, views: Views) -> np.ndarray:
        """One score per candidate row (in ``views.candidates`` order); higher = ask first."""
        ...


#: Batch samplers by name; ``top_k`` is the deterministic default.
SAMPLINGS: dict[str, Callable[..., np.ndarray]] = {
    "top_k": selection.top_k,
    "power": selection.power,
    "softmax": selection.softmax,
    "rank": selection.rank,
}


def sampling_selector(sampling: str, beta: float | None = None) -> Callable[..., np.ndarray] | None:
    """The selector ``(scores, k, rng) -> rows`` for a sampling name; None means ``top_k``.

    Raises:
        ValueError: For an unknown name, a ``beta`` with ``top_k`` (which has none), or a ``beta``
            that is not a positive finite number.
        TypeError: If ``beta`` is not a number.

    Example:
        >>> sampling_selector("rank", 2.0).keywords
        {'beta': 2.0}
    """
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {', '.join(SAMPLINGS)}, got {sampling!r}.")
    if sampling == "top_k":
        if beta is not None:
            raise ValueError("beta only applies to stochastic sampling (power, softmax, rank), not top_k.")
        return None
    fn = SAMPLINGS[sampling]
    return fn if beta is None else partial(fn, beta=selection.check_beta(beta))


def strategy_name(strategy: object) -> str:
    """The strategy's ``name`` attribute, or its class name."""
    return str(getattr(strategy, "name", type(strategy).__name__))


def check_selection(chosen: object, k: int, pool: Pool, name: str = "strategy", role: str = "strategy") -> np.ndarray:
    """Check a ``select`` result against :data:`SELECTION_RULES`; return it as int64 indices.

    ``name`` and ``role`` (e.g. ``"initial strategy"``) say who broke the rule in the message.

    Cost: O(k log k) for the uniqueness check, O(k) for the rest.

    Raises:
        StrategyContractError: Naming the rule broken, what was asked and what came back.

    Example:
        >>> pool = Pool(5)
        >>> pool.add_labels([1], [0], round_=0)
        >>> check_selection(np.array([1, 3]), 2, pool, "mine")
        Traceback (most recent call last):
        ...
        activelab.errors.StrategyContractError: strategy 'mine' broke the rule "indices are unlabelled items that may be asked (not labelled, skipped or already proposed)": it returned item 1, which is labelled.
    """

    def broke(rule: int, detail: str) -> StrategyContractError:
        return StrategyContractError(f"{role} {name!r} broke the rule \"{SELECTION_RULES[rule]}\": {detail}.")

    idx = np.asarray(chosen)
    if idx.ndim != 1 or len(idx) != k:
        raise broke(0, f"asked for {k}, it returned an array of shape {idx.shape}")
    if k == 0:
        return idx.astype(np.int64)
    if not np.issubdtype(idx.dtype, np.integer):
        raise broke(1, f"it returned dtype {idx.dtype}")
    uniq, counts = np.unique(idx, return_counts=True)
    if len(uniq) != k:
        raise broke(2, f"item {int(uniq[np.argmax(counts > 1)])} appears {int(counts.max())} times")
    if idx.min() < 0 or idx.max() >= pool.n_items:
        bad = int(idx[(idx < 0) | (idx >= pool.n_items)][0])
        raise broke(3, f"it returned {bad}, outside [0, {pool.n_items})")
    ok = pool.unlabelled_mask[idx]
    if not ok.all():
        bad = int(idx[~ok][0])
        state = ("labelled" if pool.label_round[bad] >= 0 else "skipped" if pool.skipped[bad] else "already proposed")
        raise broke(4, f"it returned item {bad}, which is {state}")
    return idx.astype(np.int64)


def candidate_rows(views: Views, k: int) -> np.ndarray:
    """Row positions of unlabelled candidates, after checking that ``k`` of them exist."""
    rows = views.candidates
    check_k(k, len(rows))
    return rows


@dataclass
class ScoreStrategy:
    """Score every candidate with an acquisition function, then pick a batch with a selector.

    Args:
        name: Registry name.
        score: ``view_array -> scores`` (higher = ask first), e.g. :func:`activelab.acquisition.margin`;
            with several views, ``(array_1, array_2, ...) -> scores``.
        view: Which view the score reads (``"probs"`` or ``"prob_samples"``), or a tuple of
            views passed in that order (e.g. ``("probs", "embeddings")`` for
            :func:`activelab.acquisition.expected_gradient_length`).
        selector: ``(scores, k, rng) -> rows``, default :func:`activelab.selection.top_k`.
        n_draws: Posterior samples when ``view == "prob_samples"``.

    Cost: one pass over the candidates' view(s) plus the selector (O(N) for ``top_k``).
    """

    name: str
    score: Callable[..., np.ndarray]
    view: str | tuple[str, ...] = "probs"
    selector: Callable[..., np.ndarray] | None = None
    n_draws: int = 20
    needs_labelled: ClassVar[bool] = False

    @property
    def needs(self) -> tuple[str, ...]:
        """The view(s) this strategy scores."""
        return (self.view,) if isinstance(self.view, str) else tuple(self.view)

    def _score_rows(self, views: Views, rows: np.ndarray) -> np.ndarray:
        arrays = [views.require(v) for v in self.needs]
        return self.score(*(a[rows] if len(rows) != len(a) else a for a in arrays))

    def scores(self, views: Views) -> np.ndarray:
        """Scores of the candidate rows (in ``views.candidates`` order)."""
        return self._score_rows(views, views.candidates)

    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """Top-``k`` (or stochastic) candidates by score, as absolute indices."""
        from ..selection import top_k

        rows = candidate_rows(views, k)
        chosen = (self.selector or top_k)(self._score_rows(views, rows), k, rng)
        picked: np.ndarray = views.indices[rows[chosen]]
        return picked

    def __repr__(self) -> str:
        return f"ScoreStrategy({self.name!r})"

