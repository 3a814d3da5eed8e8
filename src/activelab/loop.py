"""``ActiveLearner``: the simulation driver: propose → ask the oracle → teach → refit, to a budget.

Each round is the :class:`~activelab.engine.Engine`'s steps: ``refit`` (fit and evaluate the
model on the labelled items), then, while budget remains and no stopping criterion fires,
``propose`` a batch, ask the oracle and ``teach`` its answers. Records, callbacks, checkpoints
and the random streams belong to :mod:`activelab.engine`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import fingerprint_arrays
from .engine import Callback, Engine, History, RoundLoop, RoundRecord
from .errors import ActiveLabError
from .models.base import Model
from .oracles import Answers, Oracle, known_labels
from .pool import Pool
from .stopping import BudgetStop, StoppingCriterion
from .strategies.base import Strategy

__all__ = ["ActiveLearner", "Budget", "Callback", "History", "RoundRecord"]


@dataclass(frozen=True)
class Budget:
    """How many labels: an initial set of ``initial``, then ``query_size`` per round up to ``total``.

    ``total`` includes the initial set. The last query may be smaller so that exactly
    ``total`` labels are acquired. The initial set is chosen by the learner's
    ``initial_strategy`` (random by default).

    ``initial=0`` is the cold-start protocol: no labels at all to begin with, so the first
    batch of ``min(query_size, total)`` items is chosen by the initial strategy before any
    model exists (e.g. ``initial_strategy="typiclust"``), and round 0 fits on it.
    ``Budget(0, 10, 100)`` therefore fits models on 10, 20, ..., 100 labels.

    Example:
        >>> Budget(initial=20, query_size=10, total=320).n_rounds
        30
        >>> Budget(initial=0, query_size=10, total=100).n_initial, Budget(0, 10, 100).n_rounds
        (10, 9)
    """

    initial: int
    query_size: int
    total: int

    def __post_init__(self) -> None:
        for name in ("initial", "query_size", "total"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise TypeError(f"Budget.{name} must be an int, got {type(value).__name__}.")
        if self.initial < 0:
            raise ValueError(
                f"Budget.initial must be >= 0 (0 = the initial strategy picks the first batch), got {self.initial}."
            )
        if self.query_size < 1:
            raise ValueError(f"Budget.query_size must be a positive int, got {self.query_size}.")
        if self.total < self.initial:
            raise ValueError(
                f"Budget.total ({self.total}) is smaller than the initial set ({self.initial}); "
                "the total budget includes the initial labels, so raise it or lower the initial set."
            )
        if self.total < 1:
            raise ValueError(f"Budget.total must be >= 1 (the first model needs labels), got {self.total}.")

    @property
    def n_initial(self) -> int:
        """Size of the labelled set of round 0: ``initial``, or the first batch when ``initial == 0``."""
        return self.initial if self.initial > 0 else min(self.query_size, self.total)

    @property
    def n_rounds(self) -> int:
        """Number of query rounds after the initial set."""
        return -(-(self.total - self.n_initial) // self.query_size)




class ActiveLearner(RoundLoop):
    """Runs pool-based active learning with a simulated (or any) oracle.

    Args:
        model: A :class:`~activelab.models.base.Model`.
        strategy: A :class:`~activelab.strategies.Strategy`.
        oracle: An :class:`~activelab.oracles.Oracle`.
        X: Pool features ``(n_items, ...)``, at least 2-D, numeric and finite: a numpy array, a
            memmap or another array with ``shape`` indexable by an int array.
        budget: :class:`Budget`.
        seed: Run seed. The initial set and each round's model initialisation depend only on
            ``seed`` and the round, so two strategies with the same seed share them (paired runs).
        evaluate: ``model -> {"metric": value}`` called after every fit (e.g. test accuracy).
        initial_indices: Explicit initial labelled set (default: chosen by ``initial_strategy``).
        initial_strategy: Chooses the initial set when ``initial_indices`` is None:
            ``"random"`` (default), a registered strategy name that needs at most the
            ``embeddings`` view (``"kmeans"``, ``"typiclust"``, ``"probcover"``, ``"coreset"``),
            or such a strategy object. No model exists yet, so it sees the flattened input
            features as its ``embeddings`` view (and in ``views.extra["inputs"]``), and draws
            from a generator derived from ``seed`` alone: runs with the same seed and initial
            strategy share the initial set whatever the query strategy.
        callbacks: :class:`~activelab.engine.Callback` objects.
        checkpoint_dir: If set, the state is saved there after every round and :meth:`run`
            resumes from it. A checkpoint records the content of ``X`` and of the oracle's
            labels (when it holds them, e.g. :class:`~activelab.oracles.SimulatedOracle`) and
            is refused for other data.
        chunk_size: Rows per chunk of the streamed inference pass.
        n_classes: Number of classes (default: ``model.n_classes``).
        stopping: :class:`~activelab.stopping.StoppingCriterion` objects; the run stops before
            querying when any fires (the budget is always one). The reason is the last
            record's ``stop_reason``.

    Raises:
        TypeError: If ``X`` is a list or has no ``shape``, or an argument has the wrong type.
        ValueError: If ``X`` is 1-D or holds NaN/inf (the first row and column are named), the
            oracle's labels do not match ``X`` in number or lie outside the classes, or the
            budget exceeds the pool.

    Attributes:
        engine: The :class:`~activelab.engine.Engine` this driver steps; ``pool``, ``model``,
            ``strategy``, ``X``, ``seed`` and ``history`` are its.

    Example:
        >>> from sklearn.linear_model import LogisticRegression
        >>> from activelab.models import SklearnClassifier
        >>> from activelab.oracles import SimulatedOracle
        >>> from activelab.strategies import make
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 2)); y = (X[:, 0] > 0).astype(int)
        >>> learner = ActiveLearner(SklearnClassifier(LogisticRegression(), 2), make("margin"),
        ...                         SimulatedOracle(y), X, budget=Budget(4, 2, 10), seed=0)
        >>> [r.n_labelled for r in learner.run()]
        [4, 6, 8, 10]
    """

    def __init__(
        self,
        model: Model,
        strategy: Strategy,
        oracle: Oracle,
        X: Any,
        *,
        budget: Budget,
        seed: int = 0,
        evaluate: Callable[[Model], Mapping[str, float]] | None = None,
        initial_indices: Sequence[int] | np.ndarray | None = None,
        initial_strategy: str | Strategy = "random",
        callbacks: Sequence[Callback] = (),
        checkpoint_dir: str | os.PathLike[str] | None = None,
        chunk_size: int = 8192,
        n_classes: int | None = None,
        stopping: Sequence[StoppingCriterion] = (),
    ) -> None:
        if not isinstance(budget, Budget):
            raise TypeError(f"budget must be a Budget, got {type(budget).__name__}.")
        if not callable(getattr(oracle, "label", None)):
            raise TypeError(f"oracle must have label(indices) -> Answers, got {type(oracle).__name__}.")
        self.stopping = list(stopping)
        for c in self.stopping:
            if not callable(getattr(c, "should_stop", None)) or not isinstance(getattr(c, "name", None), str):
                raise TypeError(
                    f"stopping criteria need a `name` and a `should_stop(learner, record)` method; got {c!r} "
                    "(see activelab.stopping)."
                )
        self.engine = Engine(
            model, strategy, X, seed=seed, n_classes=n_classes, evaluate=evaluate,
            initial_strategy=initial_strategy, chunk_size=chunk_size, train_filter=self._training_indices,
        )
        if budget.total > self.engine.pool.n_items:
            raise ValueError(f"Budget.total ({budget.total}) exceeds the pool size ({self.engine.pool.n_items}).")
        self._check_oracle_labels(oracle)
        self._labels_sha256: str | None = None
        self.oracle = oracle
        self.budget = budget
        self._initial = None if initial_indices is None else np.asarray(initial_indices, dtype=np.int64)
        if self._initial is not None and len(self._initial) != budget.initial:
            raise ValueError(f"initial_indices has {len(self._initial)} items but Budget.initial is {budget.initial}.")
        self._init_loop(callbacks, checkpoint_dir)

    # ------------------------------------------------------------------ the engine's state
    @property
    def model(self) -> Model:
        """The model (the engine's)."""
        return self.engine.model

    @property
    def strategy(self) -> Strategy:
        """The query strategy (the engine's)."""
        return self.engine.strategy

    @property
    def X(self) -> Any:  # upper case: the pool's features, named like everywhere else
        """The pool's features."""
        return self.engine.X

    @property
    def seed(self) -> int:
        """The run seed."""
        return self.engine.seed

    @property
    def pool(self) -> Pool:
        """The label store (:class:`~activelab.pool.Pool`)."""
        return self.engine.pool

    @property
    def history(self) -> History:
        """One :class:`~activelab.engine.RoundRecord` per finished round."""
        return self.engine.history

    @property
    def round_(self) -> int:
        """The next round to run (0 before the first)."""
        return self.engine.round_ + 1

    @property
    def initial_strategy(self) -> str | Strategy:
        """``"random"`` or the initial strategy object."""
        return self.engine.initial_strategy

    def _check_oracle_labels(self, oracle: Oracle) -> None:
        """An oracle that holds every label in advance must hold one per item, in the classes."""
        labels = known_labels(oracle)
        if labels is None:
            return
        pool = self.engine.pool
        if len(labels) != pool.n_items:
            raise ValueError(
                f"the oracle holds {len(labels)} labels but X has {pool.n_items} items; give one label per pool "
                f"item ({type(oracle).__name__}(y) with y[i] the label of X[i])."
            )
        if pool.n_classes is not None and len(labels):
            bad = (labels < 0) | (labels >= pool.n_classes)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"the oracle's label {labels[row]} (item {row}) is outside the classes [0, {pool.n_classes}) of "
                    "the model; labels must be class ids 0..n_classes-1 (raise n_classes or map the labels)."
                )

    def _checkpoint_meta(self) -> dict[str, Any]:
        """What a checkpoint must match besides the engine's fingerprint: the budget and the oracle's labels."""
        labels = known_labels(self.oracle)
        if labels is not None and self._labels_sha256 is None:
            self._labels_sha256 = str(fingerprint_arrays({"y": labels})["sha256"])
        return {"budget": asdict(self.budget), "labels": self._labels_sha256}

    # ------------------------------------------------------------------------------- loop
    def _ask(self, indices: np.ndarray) -> None:
        """Ask the oracle about ``indices`` and teach the engine its answers."""
        answers = self.oracle.label(indices)
        if not isinstance(answers, Answers):
            raise TypeError(f"Oracle.label must return Answers, got {type(answers).__name__}.")
        if not np.array_equal(np.asarray(answers.indices), indices):
            raise ValueError("Oracle.label answered other indices than it was asked.")
        self.engine.teach(answers)

    def step(self) -> RoundRecord:
        """Run one round: fit, evaluate, and (if budget remains) select and label a batch."""
        if self.done:
            raise ActiveLabError(f"the run is finished ({self.history.stop_reason or 'the budget is spent'}).")
        engine = self.engine
        r = self.round_
        if r == 0 and engine.pool.n_labelled == 0:
            self._ask(self._initial if self._initial is not None else engine.propose(self.budget.n_initial))
        self._start_round(r)
        engine.refit()
        current = engine.open_round
        if current is None:  # pragma: no cover  (refit always opens a round)
            raise ActiveLabError("the engine did not open a round.")
        seconds = current.seconds
        pool = engine.pool
        k = min(self.budget.query_size, self.budget.total - pool.n_labelled, pool.n_unlabelled)
        empty = np.empty(0, dtype=np.int64)
        stop_reason = None
        if k > 0 and self.stopping:
            t = time.perf_counter()
            stop_reason = self._check_stopping(RoundRecord(r, current.count, empty, current.metrics, seconds), current.metrics)
            seconds["stop"] = time.perf_counter() - t
            if stop_reason is not None:
                k = 0
        elif k == 0:
            why = BudgetStop().should_stop(self, RoundRecord(r, current.count, empty, current.metrics, seconds))
            stop_reason = f"budget: {why}"
        if k > 0:
            queried = engine.propose(k)
            t = time.perf_counter()
            self._ask(queried)
            seconds["label"] = time.perf_counter() - t
        else:
            seconds.update(infer=0.0, select=0.0, label=0.0)
        record = engine.close_round(stop_reason)
        self._end_round(record)
        return record

    def _training_indices(self, labelled: np.ndarray) -> np.ndarray:
        """Labelled items minus those a stopping criterion holds out for validation."""
        held = [np.asarray(fn(self), dtype=np.int64) for c in self.stopping
                if callable(fn := getattr(c, "exclude_from_training", None))]
        held = [h for h in held if len(h)]
        if not held:
            return labelled
        return np.setdiff1d(labelled, np.concatenate(held), assume_unique=False)

    def _check_stopping(self, record: RoundRecord, metrics: dict[str, float]) -> str | None:
        """Ask every criterion (all of them, so each keeps its state current); record their values in
        ``metrics`` (the open round's, which ``record`` shows).
        """
        reasons = []
        for c in self.stopping:
            why = c.should_stop(self, record)
            value = getattr(c, "last_value", None)
            if value is not None:
                metrics[f"stop/{c.name}"] = float(value)
            if why:
                reasons.append(f"{c.name}: {why}")
        return "; ".join(reasons) if reasons else None

    # ------------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, directory: str | os.PathLike[str]) -> Path:
        """Write the whole state atomically to ``directory/checkpoint.npz``.

        The file is written under a temporary name and renamed, so a crash mid-write leaves
        the previous checkpoint intact.
        """
        crit = {i: fn() for i, c in enumerate(self.stopping) if callable(fn := getattr(c, "state_dict", None))}
        return self.engine.save_checkpoint(directory, meta=self._checkpoint_meta(), objects={"stopping": crit or None})

    def load_checkpoint(self, directory: str | os.PathLike[str]) -> None:
        """Restore the state saved by :meth:`save_checkpoint`.

        Raises:
            CheckpointError: If the file is missing, corrupt, or from a run with another
                seed, budget, strategy, model, pool features (their content, not only their
                size) or oracle labels. Nothing on disk is modified.
        """
        objects = self.engine.load_checkpoint(directory, meta=self._checkpoint_meta())
        for i, state in (objects.get("stopping") or {}).items():
            if i < len(self.stopping) and callable(load := getattr(self.stopping[i], "load_state_dict", None)):
                load(state)
