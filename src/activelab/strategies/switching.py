"""Strategies that switch between a low-budget and a high-budget strategy: TCM and SelectAL.

Typicality wins while labels are few and uncertainty wins later (Hacohen et al. 2022, the
"phase transition" behind TypiClust). Both strategies here hold two registered strategies, a
*low-budget* one (default ``typiclust``) and a *high-budget* one (default ``margin``), and
every round hand the whole batch to one of them, with the ``rng`` they were given, so their
picks are exactly that strategy's picks. They differ in how they choose:

* :class:`TCMStrategy` (Doucet et al. 2024, "Bridging diversity and uncertainty in active
  learning with self-supervised pre-training", arXiv 2403.03728): a fixed switch point, in
  labels per class.
* :class:`SelectALStrategy` (after Hacohen & Weinshall, NeurIPS 2023, arXiv 2306.03543): a
  simulation on the labelled set decides, each round, which regime the current budget is in.

**From zero labels** neither can choose: the high-budget side needs the model's ``probs``,
and no model exists before the first label. The engine's *initial strategy* (``activelab run
--initial-strategy``, ``ActiveLearner(initial_strategy=...)``; ``random`` by default) picks the
first batch, as for every strategy that needs a model. To follow TCM from a cold start, make
it TypiClust with the same options: ``--initial 0 --strategy tcm --initial-strategy typiclust``,
or ``--initial-strategy own``, which gives each strategy of a grid its own cold start (here the
low-budget side, :attr:`_Switch.cold_start`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..models.base import Views
from ..neighbors import knn
from ..pool import Pool
from .base import Strategy, candidate_rows, strategy_name
from .coldstart import representation
from .registry import make

__all__ = ["SelectALStrategy", "TCMStrategy", "n_classes_of", "selectal_simulation", "tcm_phase"]

_REGIMES = ("low", "high")


def _build(spec: str | Strategy, options: Mapping[str, Any] | None, owner: str, role: str) -> Strategy:
    """A sub-strategy from a registered name (built with ``options``) or a strategy object."""
    if options is not None and not isinstance(options, Mapping):
        raise TypeError(f"{owner}: {role}_options must be a dict of keyword arguments, got {options!r}.")
    if isinstance(spec, str):
        built = make(spec, **dict(options or {}))
    else:
        if options:
            raise ValueError(f"{owner}: {role}_options apply to a strategy name, not to the object {spec!r}; build it yourself.")
        built = spec
    if not callable(getattr(built, "select", None)) or not hasattr(built, "needs"):
        raise TypeError(f"{owner}: the {role}-budget strategy {spec!r} is not a strategy (it needs `select` and `needs`).")
    if hasattr(built, "state_dict"):
        raise TypeError(
            f"{owner}: the {role}-budget strategy {strategy_name(built)!r} keeps state across rounds "
            "(a bandit or the learned policy); switching between stateful strategies is not supported."
        )
    return built


class _Switch:
    """The two sub-strategies and the union of their views (needs_labelled: the low side and the simulation)."""

    low_strategy: Strategy
    high_strategy: Strategy
    _extra_needs: tuple[str, ...] = ()

    def _init_pair(self, low: Any, high: Any, low_options: Any, high_options: Any) -> None:
        owner = type(self).__name__
        self.low_strategy = _build(low, low_options, owner, "low")
        self.high_strategy = _build(high, high_options, owner, "high")

    @property
    def cold_start(self) -> Strategy:
        """The first batch from zero labels, with ``--initial-strategy own``: the low-budget side."""
        return self.low_strategy

    @property
    def needs(self) -> tuple[str, ...]:
        """Union of both strategies' views (and the simulation's representation, for SelectAL)."""
        return tuple(dict.fromkeys((*self.low_strategy.needs, *self.high_strategy.needs, *self._extra_needs)))

    @property
    def n_draws(self) -> int:
        """Posterior samples of whichever sub-strategy needs more."""
        return max(int(getattr(s, "n_draws", 0) or 0) for s in (self.low_strategy, self.high_strategy))

    @property
    def joint_draws(self) -> bool:
        """True if either sub-strategy compares posterior draws across rows."""
        return any(bool(getattr(s, "joint_draws", False)) for s in (self.low_strategy, self.high_strategy))

    def _delegate(self, regime: str, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        sub = self.low_strategy if regime == "low" else self.high_strategy
        picked: np.ndarray = np.asarray(sub.select(views, pool, k, rng))
        return picked


def n_classes_of(views: Views, pool: Pool) -> int:
    """The pool's number of classes, else the model's (``probs`` width), else the labels seen."""
    if pool.n_classes is not None:
        return int(pool.n_classes)
    if views.probs is not None:
        return int(views.probs.shape[1])
    seen = pool.labels[pool.labelled_mask]
    return max(1, len(np.unique(seen)))


def tcm_phase(n_labelled: int, n_classes: int, switch_per_class: float) -> str:
    """TCM's rule: ``"low"`` while ``n_labelled < switch_per_class x n_classes``, ``"high"`` from then on.

    Example:
        >>> tcm_phase(8, 3, 3), tcm_phase(9, 3, 3)
        ('low', 'high')
    """
    return "low" if n_labelled < switch_per_class * n_classes else "high"


@dataclass
class TCMStrategy(_Switch):
    """TCM (Doucet et al. 2024): TypiClust until a switch point, then margin.

    A round whose model was fitted on fewer than ``switch_per_class · n_classes`` labels is
    handed to the low-budget strategy, every later round to the high-budget one; the whole
    batch goes to one side (a batch is not split at the switch point). ``n_classes`` is the
    pool's number of classes (the model's when the pool does not know it).

    Args:
        switch_per_class: Labels per class at which TCM switches to margin. The default, 3,
            is our reading of the paper's setting (a fixed budget of a few labels per class
            with self-supervised features); it is not checked against its tables.
        low, high: Registered names or strategy objects (default ``typiclust`` and
            ``margin``). Stateful strategies (bandits, the learned policy) are refused.
        low_options, high_options: Keyword arguments for ``make(low)`` / ``make(high)``, e.g.
            ``low_options={"space": "input", "pca": 50, "normalize": True}`` for TypiClust on
            raw pixels (the paper clusters self-supervised embeddings; the model's penultimate
            layer after a few labels is a poor substitute).

    From zero labels the engine's initial strategy picks the first batch (module docstring);
    pass ``initial_strategy="typiclust"`` to start as the paper does.

    Cost: one of the two strategies' ``select`` per round, plus O(N) to count labels; no
    state (the phase is a function of the labelled set), O(1) extra memory.

    Example:
        >>> make("tcm", switch_per_class=2).switch_per_class
        2
    """

    name: str = "tcm"
    switch_per_class: float = 3
    low: str | Strategy = "typiclust"
    high: str | Strategy = "margin"
    low_options: Mapping[str, Any] | None = None
    high_options: Mapping[str, Any] | None = None
    needs_labelled: ClassVar[bool] = True

    def __post_init__(self) -> None:
        s = self.switch_per_class
        if isinstance(s, bool) or not isinstance(s, (int, float, np.integer, np.floating)) or not (math.isfinite(s) and s >= 0):
            raise ValueError(f"switch_per_class must be a number of labels per class >= 0, got {s!r}.")
        self._init_pair(self.low, self.high, self.low_options, self.high_options)

    def regime(self, views: Views, pool: Pool) -> str:
        """``"low"`` before the switch point, ``"high"`` from it on."""
        return tcm_phase(pool.n_labelled, n_classes_of(views, pool), self.switch_per_class)

    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """The low- or high-budget strategy's ``k`` picks, as absolute indices."""
        candidate_rows(views, k)
        return self._delegate(self.regime(views, pool), views, pool, k, rng)


# ---------------------------------------------------------------------------------- SelectAL
def _check_int(name: str, value: Any, minimum: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}.")


def _loo_margin(x: np.ndarray, y: np.ndarray, n_neighbors: int) -> np.ndarray:
    """Leave-one-out margin of each row under a distance-weighted kNN vote of the other rows, in [0, 1]."""
    k = min(n_neighbors, len(x) - 1)
    d2, idx = knn(x, k)
    w = 1.0 / (np.sqrt(d2.astype(np.float64)) + 1e-12)
    votes = np.zeros((len(x), max(int(y.max()) + 1, 2)))
    np.add.at(votes, (np.repeat(np.arange(len(x)), k), y[idx].ravel()), w.ravel())
    top2 = np.sort(votes / votes.sum(1, keepdims=True), axis=1)[:, -2:]
    margin: np.ndarray = top2[:, 1] - top2[:, 0]
    return margin


def _one_nn_labels(x_train: np.ndarray, y_train: np.ndarray, queries: np.ndarray) -> np.ndarray:
    _, idx = knn(x_train, 1, queries=queries)
    labels: np.ndarray = y_train[idx[:, 0]]
    return labels


def selectal_simulation(
    x: np.ndarray, y: np.ndarray, x_pool: np.ndarray, *, leave_out: int | None = None, n_neighbors: int = 10
) -> dict[str, float]:
    """SelectAL's simulation on a labelled set: whose picks among the labels carry more of the learner?

    Each family leaves out of the labelled set the ``Δ = leave_out`` rows (default
    ``max(1, n // 5)``) it values least, as if it had not asked for them:

    * low budget (typicality): the ``Δ`` least typical rows, by TypiClust's score against
      the pool (the inverse mean distance to the ``n_neighbors`` nearest rows of ``x_pool``);
    * high budget (uncertainty): the ``Δ`` surest rows (largest margin of a leave-one-out,
      distance-weighted vote of their ``n_neighbors`` nearest labelled rows).

    A 1-NN learner on each kept set labels the pool rows, and its agreement with the 1-NN
    learner on the whole labelled set is that family's score: the family whose kept rows
    preserve more of the learner's labelling of the pool is the one whose picks matter at
    this budget. With few labels the clusters' representatives carry the labelling and the
    outliers little (``low`` scores higher); once the clusters are covered, the typical rows
    are redundant and the rare rows near the boundary carry it (``high`` scores higher).

    Args:
        x: ``(n, d)`` representation of the labelled rows (n >= 2).
        y: ``(n,)`` their labels (class ids >= 0).
        x_pool: ``(P, d)`` rows of the pool (a sample of it) in the same representation.
        leave_out: Δ, at most ``n - 1``.
        n_neighbors: Neighbours behind typicality and the margins.

    Returns:
        ``{"low": agreement, "high": agreement, "kept": n - Δ}``, agreements in [0, 1].

    Raises:
        ValueError: If shapes disagree, fewer than 2 labelled rows, or an argument is out of range.

    Cost: one kNN of the labelled rows among the pool rows and among themselves, and three
    1-NN passes of the pool rows: O(P·n·D + n²·D) time (chunked), O((P + n)·n_neighbors)
    memory.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(40, 2)); y = (x[:, 0] > 0).astype(int)
        >>> sorted(selectal_simulation(x, y, rng.normal(size=(200, 2))))
        ['high', 'kept', 'low']
    """
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float32).reshape(len(x), -1))
    x_pool = np.ascontiguousarray(np.asarray(x_pool, dtype=np.float32).reshape(len(x_pool), -1))
    y = np.asarray(y, dtype=np.int64)
    if len(x) < 2 or y.shape != (len(x),) or (y.min() < 0):
        raise ValueError(f"need >= 2 labelled rows and one class id >= 0 per row; got x {x.shape}, y {y.shape}.")
    if len(x_pool) < 1 or x_pool.shape[1] != x.shape[1]:
        raise ValueError(f"x_pool must hold rows of width {x.shape[1]}, got shape {x_pool.shape}.")
    _check_int("n_neighbors", n_neighbors, 1)
    if leave_out is not None:
        _check_int("leave_out", leave_out, 1)
    kept = max(1, len(x) - (max(1, len(x) // 5) if leave_out is None else int(leave_out)))
    d2, _ = knn(x_pool, min(n_neighbors, len(x_pool)), queries=x)
    typical = 1.0 / (np.sqrt(d2.astype(np.float64)).mean(1) + 1e-12)
    margin = _loo_margin(x, y, n_neighbors)
    reference = _one_nn_labels(x, y, x_pool)
    out = {"kept": float(kept)}
    for family, order in (("low", np.argsort(-typical, kind="stable")), ("high", np.argsort(margin, kind="stable"))):
        keep = order[:kept]  # the rows this family values most
        out[family] = float((_one_nn_labels(x[keep], y[keep], x_pool) == reference).mean())
    return out


@dataclass
class SelectALStrategy(_Switch):
    """SelectAL-style switch (after Hacohen & Weinshall 2023): a simulation on the labelled set
    decides, each round, whether the low-budget (``typiclust``) or the high-budget (``margin``)
    strategy picks the batch.

    What it does, each round: take the representation (``space``: the ``embeddings`` view or
    the ``inputs``) of the labelled rows (at most ``max_rows``, a random subset) and of
    ``pool_sample`` random unlabelled rows, and run :func:`selectal_simulation`: each family
    leaves out the ``simulation_size`` labelled rows it values least (typicality: the least
    typical; margin: the surest), and the family whose kept rows preserve more of a 1-NN
    learner's labelling of the pool rows picks the batch, with exactly its own picks (the
    simulation draws from ``rng.spawn``, so the picked strategy sees ``rng`` unused). A tie
    goes to ``tie`` (default the high-budget side: margin is the safer default once labels
    exist). With fewer than 4 labelled rows, or no class holding two, the budget is low by
    declaration and the low-budget strategy picks without a simulation.

    Where it departs from the paper (our reading of it, not checked against its text): the
    paper retrains the task model on labelled sets reduced by each family and compares their
    accuracy (a finite-difference "derivative" of accuracy in the budget), runs the families'
    own selection algorithms, and has a third (mid-budget) family. Here the learner is a 1-NN
    on the representation, scored by agreement with the 1-NN on all labels over pool rows (no
    held-out labels are spent, no model is retrained: a strategy cannot reach the model), the
    families are reduced to their scores (TypiClust's typicality without its clustering; the
    margin of a leave-one-out kNN vote, not of the model, which has seen these labels), there
    are two families, and the decision is made afresh each round (it may switch back).

    Args:
        simulation_size: Δ, labelled rows each family leaves out (default a fifth of them).
        max_rows: Largest labelled set the simulation runs on (a random subset above it).
        pool_sample: Unlabelled rows the simulation labels (a random subset of the candidates).
        n_neighbors: Neighbours behind typicality and the margins.
        space: The simulation's representation, ``"embeddings"`` or ``"input"``.
        tie: ``"high"`` or ``"low"``: who picks when the simulation ties.
        low, high, low_options, high_options: As for :class:`TCMStrategy`.

    From zero labels the engine's initial strategy picks the first batch (module docstring).

    Attributes:
        last_decision: ``"low"`` or ``"high"``, the side that picked the last batch.
        last_simulation: The last :func:`selectal_simulation` result (None when the budget
            was low by declaration). Both are for inspection; picks never depend on them.

    Cost: per round the picked strategy's ``select`` plus the simulation, O((P + R)·R·D) time
    and O((P + R)·n_neighbors) memory for R = min(labelled rows, ``max_rows``) and
    P = min(candidates, ``pool_sample``). No state across rounds.

    Example:
        >>> make("selectal", simulation_size=5).simulation_size
        5
    """

    name: str = "selectal"
    simulation_size: int | None = None
    max_rows: int = 2000
    pool_sample: int = 2000
    n_neighbors: int = 10
    space: str = "embeddings"
    tie: str = "high"
    low: str | Strategy = "typiclust"
    high: str | Strategy = "margin"
    low_options: Mapping[str, Any] | None = None
    high_options: Mapping[str, Any] | None = None
    needs_labelled: ClassVar[bool] = True
    last_decision: str | None = field(default=None, init=False, compare=False)
    last_simulation: dict[str, float] | None = field(default=None, init=False, compare=False)

    def __post_init__(self) -> None:
        if self.simulation_size is not None:
            _check_int("simulation_size", self.simulation_size, 1)
        _check_int("max_rows", self.max_rows, 4)
        _check_int("pool_sample", self.pool_sample, 1)
        _check_int("n_neighbors", self.n_neighbors, 1)
        if self.space not in ("embeddings", "input"):
            raise ValueError(f"space must be 'embeddings' or 'input', got {self.space!r}.")
        if self.tie not in _REGIMES:
            raise ValueError(f"tie must be 'high' or 'low', got {self.tie!r}.")
        self._extra_needs = ("embeddings",) if self.space == "embeddings" else ("inputs",)
        self._init_pair(self.low, self.high, self.low_options, self.high_options)

    def regime(self, views: Views, pool: Pool, rng: np.random.Generator) -> str:
        """``"low"`` or ``"high"`` for this round (see the class docstring); sets ``last_simulation``."""
        rows = np.flatnonzero(views.labelled)
        y = pool.labels[views.indices[rows]]
        self.last_simulation = None
        if len(rows) < 4 or np.bincount(y).max() < 2:
            return "low"
        sim_rng = rng.spawn(1)[0]  # rng's own stream is left to the strategy that picks
        if len(rows) > self.max_rows:
            keep = np.sort(sim_rng.choice(len(rows), self.max_rows, replace=False))
            rows, y = rows[keep], y[keep]
        cand = views.candidates
        if len(cand) > self.pool_sample:
            cand = np.sort(sim_rng.choice(cand, self.pool_sample, replace=False))
        x = representation(views, self.space, self.name)
        leave_out = None if self.simulation_size is None else min(self.simulation_size, len(rows) - 1)
        result = selectal_simulation(x[rows], y, x[cand], leave_out=leave_out, n_neighbors=self.n_neighbors)
        self.last_simulation = result
        if result["low"] == result["high"]:
            return self.tie
        return "low" if result["low"] > result["high"] else "high"

    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """The low- or high-budget strategy's ``k`` picks, as absolute indices."""
        candidate_rows(views, k)
        self.last_decision = self.regime(views, pool, rng)
        return self._delegate(self.last_decision, views, pool, k, rng)
