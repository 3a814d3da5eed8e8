"""The active-learning loop: fit → evaluate → infer views → select → label, round after round."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ActiveLabError, CheckpointError
from .models.base import check_capabilities, compute_views
from .oracles import Answers
from .pool import Pool

__all__ = ["ActiveLearner", "Budget", "Callback", "History", "RoundRecord"]

_CHECKPOINT = "checkpoint.npz"
_FORMAT = 1


@dataclass(frozen=True)
class Budget:
    """How many labels: ``initial`` random ones, then ``query_size`` per round up to ``total``.

    ``total`` includes the initial set. The last query may be smaller so that exactly
    ``total`` labels are acquired.

    Example:
        >>> Budget(initial=20, query_size=10, total=320).n_rounds
        30
    """

    initial: int
    query_size: int
    total: int

    def __post_init__(self) -> None:
        for name in ("initial", "query_size", "total"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise TypeError(f"Budget.{name} must be an int, got {type(value).__name__}.")
        if self.initial < 1:
            raise ValueError(f"Budget.initial must be >= 1 (the first model needs labels), got {self.initial}.")
        if self.query_size < 1:
            raise ValueError(f"Budget.query_size must be a positive int, got {self.query_size}.")
        if self.total < self.initial:
            raise ValueError(
                f"Budget.total ({self.total}) is smaller than the initial set ({self.initial}); "
                "the total budget includes the initial labels, so raise it or lower the initial set."
            )

    @property
    def n_rounds(self) -> int:
        """Number of query rounds after the initial set."""
        return -(-(self.total - self.initial) // self.query_size)


@dataclass(frozen=True)
class RoundRecord:
    """What happened in one round.

    Attributes:
        round_: Round number (0 = model fitted on the initial set).
        n_labelled: Labelled items the model of this round was fitted on.
        queried: Absolute indices asked at the end of this round (empty in the last round).
        metrics: Evaluation results, e.g. ``{"accuracy": 0.93}``.
        seconds: Wall time per phase: ``fit``, ``evaluate``, ``infer``, ``select``, ``label``.
    """

    round_: int
    n_labelled: int
    queried: np.ndarray
    metrics: Mapping[str, float]
    seconds: Mapping[str, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "round": self.round_,
            "n_labelled": self.n_labelled,
            "queried": [int(i) for i in self.queried],
            "metrics": {k: float(v) for k, v in self.metrics.items()},
            "seconds": {k: float(v) for k, v in self.seconds.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RoundRecord:
        """Inverse of :meth:`to_dict`."""
        return cls(
            int(d["round"]), int(d["n_labelled"]), np.asarray(d["queried"], dtype=np.int64),
            dict(d["metrics"]), dict(d["seconds"]),
        )


class History(list):  # type: ignore[type-arg]
    """A list of :class:`RoundRecord`, with column access and tidy rows."""

    def column(self, key: str) -> np.ndarray:
        """A metric (or ``n_labelled``) across rounds, e.g. ``history.column("accuracy")``."""
        if key == "n_labelled":
            return np.array([r.n_labelled for r in self])
        return np.array([r.metrics.get(key, np.nan) for r in self], dtype=float)

    def to_rows(self) -> list[dict[str, Any]]:
        """One flat dict per round: ``round, n_labelled, <metrics>, seconds_<phase>``."""
        rows = []
        for r in self:
            row: dict[str, Any] = {"round": r.round_, "n_labelled": r.n_labelled}
            row.update(r.metrics)
            row.update({f"seconds_{k}": v for k, v in r.seconds.items()})
            rows.append(row)
        return rows

    def auc(self, key: str = "accuracy") -> float:
        """Normalised area under the learning curve: the mean of ``key`` over the rounds."""
        return float(np.mean(self.column(key)))


class Callback:
    """Hooks called by :class:`ActiveLearner`; all are no-ops, override what you need.

    ``on_round_end`` may return ``False`` to stop the run early.
    """

    def on_run_start(self, learner: ActiveLearner) -> None:
        """Before the first round of :meth:`ActiveLearner.run`."""

    def on_round_start(self, learner: ActiveLearner, round_: int) -> None:
        """Before fitting in ``round_``."""

    def on_round_end(self, learner: ActiveLearner, record: RoundRecord) -> bool | None:
        """After a round's labels are stored (and checkpointed)."""
        return None

    def on_run_end(self, learner: ActiveLearner) -> None:
        """After the last round."""


def _round_rng(seed: int, stream: int, round_: int) -> np.random.Generator:
    """Independent generator for (run seed, component stream, round): exact on resume."""
    return np.random.default_rng([seed, stream, round_])


_STREAM_INITIAL, _STREAM_MODEL, _STREAM_VIEWS, _STREAM_STRATEGY = 0, 1, 2, 3


class ActiveLearner:
    """Runs pool-based active learning.

    Args:
        model: A :class:`~activelab.models.base.Model`.
        strategy: A :class:`~activelab.strategies.Strategy`.
        oracle: An :class:`~activelab.oracles.Oracle`.
        X: Pool features ``(n_items, ...)``; any array indexable by an int array (a memmap works).
        budget: :class:`Budget`.
        seed: Run seed. The initial set and each round's model initialisation depend only on
            ``seed`` and the round, so two strategies with the same seed share them (paired runs).
        evaluate: ``model -> {"metric": value}`` called after every fit (e.g. test accuracy).
        initial_indices: Explicit initial labelled set (default: ``budget.initial`` random items).
        callbacks: :class:`Callback` objects.
        checkpoint_dir: If set, the state is saved there after every round and :meth:`run`
            resumes from it.
        chunk_size: Rows per chunk of the streamed inference pass.

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
        model: Any,
        strategy: Any,
        oracle: Any,
        X: Any,
        *,
        budget: Budget,
        seed: int = 0,
        evaluate: Callable[[Any], Mapping[str, float]] | None = None,
        initial_indices: Sequence[int] | np.ndarray | None = None,
        callbacks: Sequence[Callback] = (),
        checkpoint_dir: str | os.PathLike[str] | None = None,
        chunk_size: int = 8192,
        n_classes: int | None = None,
    ) -> None:
        if not isinstance(budget, Budget):
            raise TypeError(f"budget must be a Budget, got {type(budget).__name__}.")
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}.")
        self.model = model
        self.strategy = strategy
        self.oracle = oracle
        self.X = X
        self.budget = budget
        self.seed = int(seed)
        self.evaluate = evaluate
        self.callbacks = list(callbacks)
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.chunk_size = chunk_size
        n_items = len(X)
        if budget.total > n_items:
            raise ValueError(f"Budget.total ({budget.total}) exceeds the pool size ({n_items}).")
        self.pool = Pool(n_items, n_classes if n_classes is not None else getattr(model, "n_classes", None))
        self.history = History()
        self.round_ = 0
        self._stopped = False
        self._initial = None if initial_indices is None else np.asarray(initial_indices, dtype=np.int64)
        check_capabilities(model, strategy.needs, getattr(strategy, "name", type(strategy).__name__))

    # ------------------------------------------------------------------------------ state
    @property
    def done(self) -> bool:
        """True when the budget is spent (and its final model evaluated) or the pool is empty."""
        return bool(self.history) and not len(self.history[-1].queried)

    def _label(self, indices: np.ndarray, round_: int) -> Answers:
        answers = self.oracle.label(indices)
        if not isinstance(answers, Answers):
            raise TypeError(f"Oracle.label must return Answers, got {type(answers).__name__}.")
        if not np.array_equal(np.asarray(answers.indices), indices):
            raise ValueError("Oracle.label answered other indices than it was asked.")
        ok = np.asarray(answers.answered, dtype=bool)
        self.pool.add_labels(indices[ok], np.asarray(answers.labels)[ok].astype(np.int64), round_=round_)
        if (~ok).any():
            self.pool.skip(indices[~ok], round_=round_)
        return answers

    def _initialise(self) -> None:
        if self._initial is not None:
            idx = self._initial
            if len(idx) != self.budget.initial:
                raise ValueError(
                    f"initial_indices has {len(idx)} items but Budget.initial is {self.budget.initial}."
                )
        else:
            idx = np.sort(
                _round_rng(self.seed, _STREAM_INITIAL, 0).choice(self.pool.n_items, self.budget.initial, replace=False)
            )
        self._label(idx, 0)

    def _check_selection(self, chosen: Any, k: int) -> np.ndarray:
        name = getattr(self.strategy, "name", type(self.strategy).__name__)
        idx = np.asarray(chosen)
        if idx.shape != (k,) or (k and not np.issubdtype(idx.dtype, np.integer)):
            raise ActiveLabError(f"strategy {name!r} returned {idx.shape} {idx.dtype} indices, expected ({k},) ints.")
        if len(np.unique(idx)) != k:
            raise ActiveLabError(f"strategy {name!r} returned duplicate indices.")
        if k and (idx.min() < 0 or idx.max() >= self.pool.n_items or not self.pool.unlabelled_mask[idx].all()):
            raise ActiveLabError(f"strategy {name!r} returned indices that are not unlabelled pool items.")
        return idx.astype(np.int64)

    # ------------------------------------------------------------------------------- loop
    def step(self) -> RoundRecord:
        """Run one round: fit, evaluate, and (if budget remains) select and label a batch."""
        if self.done:
            raise ActiveLabError("the run is finished; the budget is spent.")
        r = self.round_
        if r == 0 and self.pool.n_labelled == 0:
            self._initialise()
        for cb in self.callbacks:
            cb.on_round_start(self, r)
        seconds: dict[str, float] = {}
        lab = self.pool.labelled_indices()
        t = time.perf_counter()
        self.model.fit(self.X[lab], self.pool.labels[lab], rng=_round_rng(self.seed, _STREAM_MODEL, r))
        seconds["fit"] = time.perf_counter() - t
        t = time.perf_counter()
        metrics = dict(self.evaluate(self.model)) if self.evaluate is not None else {}
        seconds["evaluate"] = time.perf_counter() - t
        k = min(self.budget.query_size, self.budget.total - self.pool.n_labelled, self.pool.n_unlabelled)
        queried = np.empty(0, dtype=np.int64)
        if k > 0:
            t = time.perf_counter()
            unl = self.pool.unlabelled_mask
            rows_mask = unl | self.pool.labelled_mask if self.strategy.needs_labelled else unl
            rows = np.flatnonzero(rows_mask)
            views = compute_views(
                self.model, self.X, rows, ~unl[rows], self.strategy.needs,
                n_draws=getattr(self.strategy, "n_draws", 20) or 20,
                rng=_round_rng(self.seed, _STREAM_VIEWS, r), chunk_size=self.chunk_size,
            )
            seconds["infer"] = time.perf_counter() - t
            t = time.perf_counter()
            chosen = self.strategy.select(views, self.pool, k, _round_rng(self.seed, _STREAM_STRATEGY, r))
            queried = self._check_selection(chosen, k)
            seconds["select"] = time.perf_counter() - t
            t = time.perf_counter()
            self._label(queried, r + 1)
            seconds["label"] = time.perf_counter() - t
        else:
            seconds.update(infer=0.0, select=0.0, label=0.0)
        record = RoundRecord(r, len(lab), queried, metrics, seconds)
        self.history.append(record)
        self.round_ = r + 1
        if self.checkpoint_dir is not None:
            self.save_checkpoint(self.checkpoint_dir)
        for cb in self.callbacks:
            if cb.on_round_end(self, record) is False:
                self._stopped = True
        return record

    def run(self) -> History:
        """Run rounds until the budget is spent; resumes from ``checkpoint_dir`` if one exists."""
        if self.checkpoint_dir is not None and (self.checkpoint_dir / _CHECKPOINT).exists() and not self.history:
            self.load_checkpoint(self.checkpoint_dir)
        self._stopped = False
        for cb in self.callbacks:
            cb.on_run_start(self)
        while not self.done and not self._stopped:
            self.step()
        for cb in self.callbacks:
            cb.on_run_end(self)
        return self.history

    # ------------------------------------------------------------------------ checkpoints
    def _fingerprint(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "n_items": self.pool.n_items,
            "seed": self.seed,
            "budget": asdict(self.budget),
            "strategy": getattr(self.strategy, "name", type(self.strategy).__name__),
            "model": type(self.model).__name__,
        }

    def save_checkpoint(self, directory: str | os.PathLike[str]) -> Path:
        """Write the whole state atomically to ``directory/checkpoint.npz``.

        The file is written under a temporary name and renamed, so a crash mid-write leaves
        the previous checkpoint intact.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = dict(self._fingerprint(), round=self.round_, history=[r.to_dict() for r in self.history])
        arrays = {f"pool_{k}": v for k, v in self.pool.state_dict().items()}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        state_fn = getattr(self.model, "state_dict", None)
        if callable(state_fn):
            buf = io.BytesIO()
            np.save(buf, np.array([state_fn()], dtype=object), allow_pickle=True)
            arrays["model"] = np.frombuffer(buf.getvalue(), dtype=np.uint8)
        path = directory / _CHECKPOINT
        tmp = directory / (_CHECKPOINT + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return path

    def load_checkpoint(self, directory: str | os.PathLike[str]) -> None:
        """Restore the state saved by :meth:`save_checkpoint`.

        Raises:
            CheckpointError: If the file is missing, corrupt, or from a run with another
                seed, budget, strategy, model or pool size. Nothing on disk is modified.
        """
        path = Path(directory) / _CHECKPOINT
        if not path.exists():
            raise CheckpointError(f"no checkpoint at {path}.")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files if k != "model"}
                model_bytes = data["model"].tobytes() if "model" in data.files else None
            meta = json.loads(arrays.pop("meta").tobytes().decode())
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError, EOFError) as err:
            raise CheckpointError(
                f"checkpoint {path} is corrupt or unreadable ({type(err).__name__}: {err}); "
                "delete it to start the run afresh."
            ) from err
        expected = self._fingerprint()
        diff = {k: (meta.get(k), v) for k, v in expected.items() if meta.get(k) != v}
        if diff:
            detail = "; ".join(f"{k}: checkpoint {a!r} vs run {b!r}" for k, (a, b) in diff.items())
            raise CheckpointError(f"checkpoint {path} belongs to another run ({detail}); use another directory.")
        pool = Pool(self.pool.n_items, self.pool.n_classes)
        pool.load_state_dict({k[len("pool_"):]: v for k, v in arrays.items() if k.startswith("pool_")})
        if model_bytes is not None and callable(getattr(self.model, "load_state_dict", None)):
            state = np.load(io.BytesIO(model_bytes), allow_pickle=True)[0]
            self.model.load_state_dict(state)
        self.pool = pool
        self.history = History(RoundRecord.from_dict(d) for d in meta["history"])
        self.round_ = int(meta["round"])
