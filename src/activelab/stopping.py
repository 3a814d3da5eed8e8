"""Stopping criteria: when is labelling more items no longer worth it?

Pass any number to ``ActiveLearner(..., stopping=[...])``. After each round's model is fitted and
evaluated, and before new items are queried, the learner asks every criterion; if one or more
return a reason, no more labels are bought, the round's :class:`~activelab.loop.RoundRecord`
gets ``stop_reason`` (``"<name>: <reason>"``) and the run ends. Spending the budget is the
implicit :class:`BudgetStop`. A criterion's measurement (kappa, uncertainty, validation
accuracy) is recorded in the round's metrics as ``stop/<name>``, and its state is saved in the
learner's checkpoints, so a resumed run stops exactly where an uninterrupted one would.

None of them ever looks at the test set: :class:`AccuracyPlateau` uses a validation set you
pass or a slice of the labelled set that is held out of training.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from . import acquisition as acq
from .engine.records import RoundRecord
from .engine.streams import stream_rng
from .models.base import Model
from .pool import Pool

__all__ = [
    "STOPPING",
    "LearnerView",
    "AccuracyPlateau",
    "BudgetStop",
    "MaxUncertainty",
    "StabilizingPredictions",
    "StoppingCriterion",
    "cohen_kappa",
    "make_stopping",
]


class LearnerView(Protocol):
    """What a stopping criterion reads from the driver (:class:`~activelab.loop.ActiveLearner`)."""

    @property
    def seed(self) -> int:
        """The run seed."""
        ...

    @property
    def pool(self) -> Pool:
        """The label store."""
        ...

    @property
    def model(self) -> Model:
        """The model of this round."""
        ...

    @property
    def X(self) -> Any:
        """The pool's features."""
        ...

    @property
    def budget(self) -> Any:
        """The run's budget (``total``: labels in all)."""
        ...


@runtime_checkable
class StoppingCriterion(Protocol):
    """Decides, after a round's fit and evaluation, whether to stop buying labels.

    Attributes:
        name: Short name; the record's ``stop_reason`` starts with it.

    Optional members the learner uses when present: ``last_value`` (a float recorded as metric
    ``stop/<name>``), ``state_dict()`` / ``load_state_dict(state)`` (checkpointed) and
    ``exclude_from_training(learner) -> indices`` (labelled items the model must not be fitted on).
    """

    name: str

    def should_stop(self, learner: LearnerView, record: RoundRecord) -> str | None:
        """A human-readable reason to stop now, or None to continue.

        ``record`` holds this round's metrics; its ``queried`` is still empty.
        """
        ...


def _run_rng(learner: Any, seed: int | None) -> np.random.Generator:
    return stream_rng(learner.seed if seed is None else int(seed), "stop")


def _predict_chunked(model: Any, X: Any, rows: np.ndarray, chunk_size: int) -> np.ndarray:
    out = []
    for start in range(0, len(rows), chunk_size):
        out.append(np.asarray(model.predict_proba(X[rows[start : start + chunk_size]])))
    return np.concatenate(out) if out else np.empty((0, 0))


class BudgetStop:
    """The budget is spent or no unlabelled item is left (always active; the learner applies it itself)."""

    name = "budget"
    last_value: float | None = None

    def should_stop(self, learner: LearnerView, record: RoundRecord) -> str | None:
        """Fires once ``budget.total`` labels are bought or the pool is exhausted."""
        pool, total = learner.pool, learner.budget.total
        if pool.n_labelled >= total:
            return f"{pool.n_labelled} of {total} labels spent"
        if pool.n_unlabelled == 0:
            return f"pool exhausted after {pool.n_labelled} labels"
        return None


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa between two label vectors ``(n,)``: ``(p_o - p_e) / (1 - p_e)``.

    Two identical constant vectors (``p_e = 1``) agree perfectly: 1.0.

    Cost: O(n + C) time and memory.

    Example:
        >>> cohen_kappa(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]))
        0.5
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"cohen_kappa needs two non-empty 1-D label vectors of equal length, got {a.shape} and {b.shape}.")
    n_classes = int(max(a.max(), b.max())) + 1
    p_o = float(np.mean(a == b))
    p_e = float(np.bincount(a, minlength=n_classes) @ np.bincount(b, minlength=n_classes)) / len(a) ** 2
    if p_e >= 1.0:
        return 1.0
    return (p_o - p_e) / (1.0 - p_e)


class StabilizingPredictions:
    """Stabilising predictions (Bloodgood & Vijay-Shanker, CoNLL 2009).

    A fixed *stop set* of ``stop_set_size`` pool items (labelled or not; no labels are needed)
    is drawn once with a generator seeded by ``seed`` (default: the run's seed). Each round
    computes Cohen's kappa between the current and the previous model's predicted classes on it;
    the criterion fires when the mean of the last ``window`` kappas is ``>= threshold``.

    Args:
        threshold: Agreement level (0.99 in the paper).
        window: Number of successive kappas averaged (3 in the paper).
        stop_set_size: Items in the stop set (all items if the pool is smaller).
        seed: Seed of the stop-set draw; ``None`` derives it from the run's seed.
        chunk_size: Rows per prediction call.

    Cost per round: one prediction pass over the stop set, O(S·C) time, O(S) memory kept.
    """

    def __init__(
        self, threshold: float = 0.99, window: int = 3, stop_set_size: int = 2000, *, seed: int | None = None,
        chunk_size: int = 8192, name: str = "stabilizing_predictions",
    ) -> None:
        if not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be a kappa in [-1, 1], got {threshold}.")
        if not isinstance(window, (int, np.integer)) or window < 1:
            raise ValueError(f"window must be an int >= 1, got {window!r}.")
        if not isinstance(stop_set_size, (int, np.integer)) or stop_set_size < 1:
            raise ValueError(f"stop_set_size must be an int >= 1, got {stop_set_size!r}.")
        self.threshold = float(threshold)
        self.window = int(window)
        self.stop_set_size = int(stop_set_size)
        self.seed = seed
        self.chunk_size = chunk_size
        self.name = name
        self.stop_set_: np.ndarray | None = None
        self.previous_: np.ndarray | None = None
        self.kappas_: list[float] = []
        self.last_value: float | None = None

    def should_stop(self, learner: LearnerView, record: RoundRecord) -> str | None:
        """Fires when the mean kappa of the last ``window`` model pairs reaches ``threshold``."""
        if self.stop_set_ is None:
            n = learner.pool.n_items
            self.stop_set_ = np.sort(_run_rng(learner, self.seed).choice(n, size=min(n, self.stop_set_size), replace=False))
        predicted = _predict_chunked(learner.model, learner.X, self.stop_set_, self.chunk_size).argmax(axis=1)
        self.last_value = None
        if self.previous_ is not None:
            self.last_value = cohen_kappa(self.previous_, predicted)
            self.kappas_.append(self.last_value)
        self.previous_ = predicted
        if len(self.kappas_) >= self.window:
            mean = float(np.mean(self.kappas_[-self.window :]))
            if mean >= self.threshold:
                return f"mean kappa {mean:.4f} >= {self.threshold} over the last {self.window} rounds"
        return None

    def state_dict(self) -> dict[str, Any]:
        """Stop set, last predictions and the kappas so far."""
        return {"stop_set": self.stop_set_, "previous": self.previous_, "kappas": list(self.kappas_),
                "last_value": self.last_value}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output."""
        self.stop_set_, self.previous_ = state["stop_set"], state["previous"]
        self.kappas_, self.last_value = list(state["kappas"]), state["last_value"]


class MaxUncertainty:
    """Stop when the model is confident on the whole unlabelled pool (Zhu et al. 2008, "max-confidence").

    Args:
        threshold: Fires when the aggregated uncertainty is ``< threshold``.
        uncertainty: ``"least_confidence"`` (1 - top probability), ``"entropy"`` (nats) or
            ``"margin"`` (1 - gap between the two most probable classes); see :mod:`activelab.acquisition`.
        aggregate: ``"max"`` (every item is confident) or ``"mean"``.
        chunk_size: Rows per prediction call.

    Cost per round: one streamed prediction pass over the N unlabelled items, O(N·C) time,
    O(chunk_size·C) memory.
    """

    def __init__(
        self, threshold: float, uncertainty: str = "least_confidence", aggregate: str = "max", *,
        chunk_size: int = 8192, name: str = "max_uncertainty",
    ) -> None:
        if uncertainty not in ("least_confidence", "entropy", "margin"):
            raise ValueError(f"uncertainty must be 'least_confidence', 'entropy' or 'margin', got {uncertainty!r}.")
        if aggregate not in ("max", "mean"):
            raise ValueError(f"aggregate must be 'max' or 'mean', got {aggregate!r}.")
        if not threshold > 0:
            raise ValueError(f"threshold must be > 0, got {threshold}.")
        self.threshold = float(threshold)
        self.uncertainty = uncertainty
        self.aggregate = aggregate
        self.chunk_size = chunk_size
        self.name = name
        self.last_value: float | None = None

    def should_stop(self, learner: LearnerView, record: RoundRecord) -> str | None:
        """Fires when the max (or mean) uncertainty over the unlabelled items is below ``threshold``."""
        score = getattr(acq, self.uncertainty)
        rows = learner.pool.unlabelled_indices()
        worst, total = -np.inf, 0.0
        for start in range(0, len(rows), self.chunk_size):
            u = score(np.asarray(learner.model.predict_proba(learner.X[rows[start : start + self.chunk_size]])))
            worst = max(worst, float(u.max()))
            total += float(u.sum(dtype=np.float64))
        if len(rows) == 0:
            self.last_value = None
            return None
        self.last_value = worst if self.aggregate == "max" else total / len(rows)
        if self.last_value < self.threshold:
            return f"{self.aggregate} {self.uncertainty} {self.last_value:.4g} < {self.threshold} on {len(rows)} unlabelled items"
        return None


class AccuracyPlateau:
    """Stop when validation accuracy has changed by less than ``eps`` for ``patience`` rounds in a row.

    Validation data: ``X_val``/``y_val`` if given (never pass the test set), otherwise a random
    ``holdout`` share of the *initial* labelled set, drawn once (seeded by ``seed``, default the
    run's seed) and never used for training (the learner excludes it from every fit; those
    labels still count against the budget).

    Args:
        eps: Change below which a round counts as flat (absolute accuracy, e.g. 0.005).
        patience: Number of consecutive flat changes needed.
        X_val, y_val: Validation items and labels.
        holdout: Share of the initial labelled set held out when no validation set is passed.
        seed: Seed of the hold-out draw; ``None`` derives it from the run's seed.

    Cost per round: one prediction pass over the validation items.
    """

    def __init__(
        self, eps: float = 0.005, patience: int = 3, X_val: Any = None, y_val: Any = None, *,
        holdout: float = 0.2, seed: int | None = None, name: str = "accuracy_plateau",
    ) -> None:
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}.")
        if not isinstance(patience, (int, np.integer)) or patience < 1:
            raise ValueError(f"patience must be an int >= 1, got {patience!r}.")
        if (X_val is None) != (y_val is None):
            raise ValueError("pass both X_val and y_val, or neither (then a hold-out of the labelled set is used).")
        if X_val is not None and len(X_val) != len(y_val):
            raise ValueError(f"X_val has {len(X_val)} rows but y_val has {len(y_val)} labels.")
        if X_val is not None and len(X_val) == 0:
            raise ValueError("the validation set is empty.")
        if not 0.0 < holdout < 1.0:
            raise ValueError(f"holdout must be in (0, 1), got {holdout}.")
        self.eps = float(eps)
        self.patience = int(patience)
        self.X_val = X_val
        self.y_val = None if y_val is None else np.asarray(y_val)
        self.holdout = float(holdout)
        self.seed = seed
        self.name = name
        self.held_out_: np.ndarray | None = None
        self.accuracies_: list[float] = []
        self.last_value: float | None = None

    def exclude_from_training(self, learner: LearnerView) -> np.ndarray:
        """The held-out labelled items (empty when a validation set was passed)."""
        if self.X_val is not None:
            return np.empty(0, dtype=np.int64)
        if self.held_out_ is None:
            labelled = learner.pool.labelled_indices()
            n_held = int(round(self.holdout * len(labelled)))
            if n_held < 1 or n_held >= len(labelled):
                raise ValueError(
                    f"holdout={self.holdout} of {len(labelled)} initial labels leaves no validation or no training "
                    "item; raise the initial set, change holdout, or pass X_val/y_val."
                )
            self.held_out_ = np.sort(_run_rng(learner, self.seed).choice(labelled, size=n_held, replace=False))
        return self.held_out_

    def should_stop(self, learner: LearnerView, record: RoundRecord) -> str | None:
        """Fires when the last ``patience`` accuracy changes are all ``< eps`` in absolute value."""
        if self.X_val is not None:
            X, y = self.X_val, self.y_val
            probs = _predict_chunked(learner.model, X, np.arange(len(X)), 8192)
        else:
            held = self.exclude_from_training(learner)
            probs = _predict_chunked(learner.model, learner.X, held, 8192)
            y = learner.pool.labels[held]
        self.last_value = float(np.mean(probs.argmax(axis=1) == y))
        self.accuracies_.append(self.last_value)
        if len(self.accuracies_) > self.patience:
            changes = np.abs(np.diff(self.accuracies_[-(self.patience + 1) :]))
            if (changes < self.eps).all():
                return f"validation accuracy changed by < {self.eps} for {self.patience} rounds (now {self.last_value:.4f})"
        return None

    def state_dict(self) -> dict[str, Any]:
        """Hold-out indices and accuracies so far."""
        return {"held_out": self.held_out_, "accuracies": list(self.accuracies_), "last_value": self.last_value}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output."""
        self.held_out_ = state["held_out"]
        self.accuracies_, self.last_value = list(state["accuracies"]), state["last_value"]


#: Criteria selectable by name (``activelab run --stop``); spending the budget always stops a run.
STOPPING: dict[str, Any] = {
    "stabilizing_predictions": StabilizingPredictions,
    "max_uncertainty": MaxUncertainty,
    "accuracy_plateau": AccuracyPlateau,
}


def make_stopping(name: str, **kwargs: Any) -> Any:
    """Build a registered stopping criterion, e.g. ``make_stopping("max_uncertainty", threshold=0.2)``.

    Raises:
        UnknownNameError: With a did-you-mean suggestion for misspelt names.
        TypeError, ValueError: For keyword arguments the criterion does not take or rejects.

    Example:
        >>> make_stopping("stabilizing_predictions", threshold=0.98).threshold
        0.98
    """
    from ._registry import lookup

    factory = lookup("stopping criterion", name, STOPPING)
    try:
        return factory(**kwargs)
    except TypeError as err:
        raise TypeError(f"stopping criterion {name!r}: {err}") from err
