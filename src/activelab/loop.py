"""The active-learning loop: fit → evaluate → infer views → select → label, round after round."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ActiveLabError, CheckpointError
from .models.base import Views, check_capabilities, compute_views
from .oracles import Answers
from .pool import Pool

__all__ = ["ActiveLearner", "Budget", "Callback", "History", "RoundRecord"]

_CHECKPOINT = "checkpoint.npz"
_FORMAT = 1


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


@dataclass(frozen=True)
class RoundRecord:
    """What happened in one round.

    Attributes:
        round_: Round number (0 = model fitted on the initial set).
        n_labelled: Labelled items the model of this round was fitted on (plus any hold-out a
            stopping criterion keeps out of training for validation; they count against the budget).
        queried: Absolute indices asked at the end of this round (empty in the last round).
        metrics: Evaluation results, e.g. ``{"accuracy": 0.93}``.
        seconds: Wall time per phase: ``fit``, ``evaluate``, ``infer``, ``select``, ``label``
            (and ``stop`` when stopping criteria are set).
        stop_reason: Why the run ended after this round (``"<criterion>: <reason>"``, e.g. the
            budget), or None while it goes on.
    """

    round_: int
    n_labelled: int
    queried: np.ndarray
    metrics: Mapping[str, float]
    seconds: Mapping[str, float]
    stop_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "round": self.round_,
            "n_labelled": self.n_labelled,
            "queried": [int(i) for i in self.queried],
            "metrics": {k: float(v) for k, v in self.metrics.items()},
            "seconds": {k: float(v) for k, v in self.seconds.items()},
            "stop_reason": self.stop_reason,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RoundRecord:
        """Inverse of :meth:`to_dict`."""
        return cls(
            int(d["round"]), int(d["n_labelled"]), np.asarray(d["queried"], dtype=np.int64),
            dict(d["metrics"]), dict(d["seconds"]), d.get("stop_reason"),
        )


class History(list):  # type: ignore[type-arg]
    """A list of :class:`RoundRecord`, with column access and tidy rows."""

    def column(self, key: str) -> np.ndarray:
        """A metric (or ``n_labelled``) across rounds, e.g. ``history.column("accuracy")``."""
        if key == "n_labelled":
            return np.array([r.n_labelled for r in self])
        return np.array([r.metrics.get(key, np.nan) for r in self], dtype=float)

    #: The per-round count column and the record attribute it comes from.
    count_column = "n_labelled"

    def to_rows(self) -> list[dict[str, Any]]:
        """One flat dict per round: ``round, <count_column>, <metrics>, seconds_<phase>``."""
        rows = []
        for r in self:
            row: dict[str, Any] = {"round": r.round_, self.count_column: getattr(r, self.count_column)}
            row.update(r.metrics)
            row.update({f"seconds_{k}": v for k, v in r.seconds.items()})
            rows.append(row)
        return rows

    @property
    def stop_reason(self) -> str | None:
        """Why the run ended (the last round's ``stop_reason``), or None if it has not."""
        return self[-1].stop_reason if self else None

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


def object_blob(obj: Any) -> np.ndarray:
    """``obj`` pickled by ``np.save`` into a uint8 array, to store inside an ``.npz`` checkpoint."""
    buf = io.BytesIO()
    np.save(buf, np.array([obj], dtype=object), allow_pickle=True)
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def write_npz_atomic(path: Path, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write ``arrays`` to ``path`` through a synced temporary file and :func:`os.replace`.

    A crash mid-write leaves the previous file intact, never a half-written one.
    """
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def read_checkpoint(
    path: Path, expected: Mapping[str, Any], blobs: Sequence[str], defaults: Mapping[str, Any] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, Any]]:
    """Read a checkpoint written by :func:`write_npz_atomic` and check it belongs to this run.

    Returns ``(arrays, meta, objects)``: the plain arrays, the JSON ``meta`` record and the
    unpickled :func:`object_blob` entries named in ``blobs`` that are present. ``meta`` must
    equal ``expected`` on every key of ``expected`` (after ``defaults`` fill keys older files
    lack). Nothing on disk is modified.

    Raises:
        CheckpointError: If the file is missing, corrupt or from another run.
    """
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}.")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files if k not in blobs}
            raw = {k: data[k].tobytes() for k in blobs if k in data.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError, EOFError) as err:
        raise CheckpointError(
            f"checkpoint {path} is corrupt or unreadable ({type(err).__name__}: {err}); "
            "delete it to start the run afresh."
        ) from err
    for key, value in (defaults or {}).items():
        meta.setdefault(key, value)
    diff = {k: (meta.get(k), v) for k, v in expected.items() if meta.get(k) != v}
    if diff:
        detail = "; ".join(f"{k}: checkpoint {a!r} vs run {b!r}" for k, (a, b) in diff.items())
        raise CheckpointError(f"checkpoint {path} belongs to another run ({detail}); use another directory.")
    objects = {k: np.load(io.BytesIO(v), allow_pickle=True)[0] for k, v in raw.items()}
    return arrays, meta, objects


def _round_rng(seed: int, stream: int, round_: int) -> np.random.Generator:
    """Independent generator for (run seed, component stream, round): exact on resume."""
    return np.random.default_rng([seed, stream, round_])


_STREAM_INITIAL, _STREAM_MODEL, _STREAM_VIEWS, _STREAM_STRATEGY = 0, 1, 2, 3


def input_features(X: Any, *, chunk_size: int = 8192) -> np.ndarray:
    """The pool's input features flattened to ``(n_items, d)`` float32 (what initial strategies see).

    Not standardised per feature: that would blow up near-constant features (e.g. border
    pixels) and, on digits, made TypiClust's first 10 picks cover 6-7 classes instead of 9.
    A global rescaling would not change neighbours or k-means.

    Cost: one pass over ``X`` in chunks; O(n_items·d) float32 memory for the result.
    """
    n = len(X)
    out: np.ndarray | None = None
    for start in range(0, n, chunk_size):
        rows = np.arange(start, min(n, start + chunk_size))
        block = np.asarray(X[rows], dtype=np.float32).reshape(len(rows), -1)
        if out is None:
            out = np.empty((n, block.shape[1]), dtype=np.float32)
        out[start : start + len(rows)] = block
    return out if out is not None else np.empty((0, 0), dtype=np.float32)


def _resolve_initial_strategy(spec: Any) -> Any:
    """``"random"`` stays a string (the original uniform draw); names become strategy objects."""
    if isinstance(spec, str):
        if spec == "random":
            return spec
        from .strategies.registry import make

        spec = make(spec)
    if not callable(getattr(spec, "select", None)):
        raise TypeError(
            f"initial_strategy must be 'random', a registered strategy name or a strategy object with select(); "
            f"got {spec!r}."
        )
    extra = [v for v in getattr(spec, "needs", ()) if v not in ("embeddings", "inputs")]  # both are the input features
    if extra:
        name = getattr(spec, "name", type(spec).__name__)
        raise ValueError(
            f"initial strategy {name!r} needs the view(s) {', '.join(map(repr, extra))}, but no model exists "
            "before the first labels; use random, kmeans, typiclust, probcover or coreset."
        )
    return spec


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
        initial_indices: Explicit initial labelled set (default: chosen by ``initial_strategy``).
        initial_strategy: Chooses the initial set when ``initial_indices`` is None:
            ``"random"`` (default), a registered strategy name that needs at most the
            ``embeddings`` view (``"kmeans"``, ``"typiclust"``, ``"probcover"``, ``"coreset"``),
            or such a strategy object. No model exists yet, so it sees the flattened input
            features as its ``embeddings`` view (and in ``views.extra["inputs"]``), and draws
            from a generator derived from ``seed`` alone: runs with the same seed and initial
            strategy share the initial set whatever the query strategy.
        callbacks: :class:`Callback` objects.
        checkpoint_dir: If set, the state is saved there after every round and :meth:`run`
            resumes from it.
        chunk_size: Rows per chunk of the streamed inference pass.
        stopping: :class:`~activelab.stopping.StoppingCriterion` objects; the run stops before
            querying when any fires (the budget is always one). The reason is the last
            record's ``stop_reason``.

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
        initial_strategy: Any = "random",
        callbacks: Sequence[Callback] = (),
        checkpoint_dir: str | os.PathLike[str] | None = None,
        chunk_size: int = 8192,
        n_classes: int | None = None,
        stopping: Sequence[Any] = (),
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
        self.stopping = list(stopping)
        for c in self.stopping:
            if not callable(getattr(c, "should_stop", None)) or not isinstance(getattr(c, "name", None), str):
                raise TypeError(
                    f"stopping criteria need a `name` and a `should_stop(learner, record)` method; got {c!r} "
                    "(see activelab.stopping)."
                )
        n_items = len(X)
        if budget.total > n_items:
            raise ValueError(f"Budget.total ({budget.total}) exceeds the pool size ({n_items}).")
        self.pool = Pool(n_items, n_classes if n_classes is not None else getattr(model, "n_classes", None))
        self.history = History()
        self.round_ = 0
        self._stopped = False
        self._initial = None if initial_indices is None else np.asarray(initial_indices, dtype=np.int64)
        self.initial_strategy = _resolve_initial_strategy(initial_strategy)
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
        n0 = self.budget.n_initial
        rng = _round_rng(self.seed, _STREAM_INITIAL, 0)
        if self._initial is not None:
            idx = self._initial
            if len(idx) != self.budget.initial:
                raise ValueError(
                    f"initial_indices has {len(idx)} items but Budget.initial is {self.budget.initial}."
                )
        elif isinstance(self.initial_strategy, str):  # "random": the original draw, unchanged
            idx = np.sort(rng.choice(self.pool.n_items, n0, replace=False))
        else:
            idx = np.sort(self._select_initial(n0, rng))
        self._label(idx, 0)

    def _select_initial(self, n0: int, rng: np.random.Generator) -> np.ndarray:
        """Run the initial strategy on the flattened input features (no model exists yet)."""
        strategy = self.initial_strategy
        name = getattr(strategy, "name", type(strategy).__name__)
        feats = input_features(self.X, chunk_size=self.chunk_size)
        n = self.pool.n_items
        views = Views(indices=np.arange(n), labelled=np.zeros(n, dtype=bool), embeddings=feats, inputs=feats, extra={"inputs": feats})
        idx = np.asarray(strategy.select(views, self.pool, n0, rng))
        if idx.shape != (n0,) or not np.issubdtype(idx.dtype, np.integer) or len(np.unique(idx)) != n0:
            raise ActiveLabError(f"initial strategy {name!r} returned {idx.shape} {idx.dtype} indices, expected {n0} unique ints.")
        if n0 and (idx.min() < 0 or idx.max() >= n):
            raise ActiveLabError(f"initial strategy {name!r} returned indices outside the pool [0, {n}).")
        return idx.astype(np.int64)

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
            raise ActiveLabError(f"the run is finished ({self.history.stop_reason or 'the budget is spent'}).")
        r = self.round_
        if r == 0 and self.pool.n_labelled == 0:
            self._initialise()
        for cb in self.callbacks:
            cb.on_round_start(self, r)
        seconds: dict[str, float] = {}
        lab = self.pool.labelled_indices()
        train = self._training_indices(lab)
        t = time.perf_counter()
        self.model.fit(self.X[train], self.pool.labels[train], rng=_round_rng(self.seed, _STREAM_MODEL, r))
        seconds["fit"] = time.perf_counter() - t
        t = time.perf_counter()
        metrics = dict(self.evaluate(self.model)) if self.evaluate is not None else {}
        seconds["evaluate"] = time.perf_counter() - t
        k = min(self.budget.query_size, self.budget.total - self.pool.n_labelled, self.pool.n_unlabelled)
        queried = np.empty(0, dtype=np.int64)
        stop_reason = None
        if k > 0 and self.stopping:
            t = time.perf_counter()
            stop_reason = self._check_stopping(RoundRecord(r, len(lab), queried, metrics, seconds))
            seconds["stop"] = time.perf_counter() - t
            if stop_reason is not None:
                k = 0
        elif k == 0:
            from .stopping import BudgetStop

            stop_reason = f"budget: {BudgetStop().should_stop(self, RoundRecord(r, len(lab), queried, metrics, seconds))}"
        if k > 0:
            t = time.perf_counter()
            unl = self.pool.unlabelled_mask
            rows_mask = unl | self.pool.labelled_mask if self.strategy.needs_labelled else unl
            rows = np.flatnonzero(rows_mask)
            views = compute_views(
                self.model, self.X, rows, ~unl[rows], self.strategy.needs,
                n_draws=getattr(self.strategy, "n_draws", 20) or 20,
                rng=_round_rng(self.seed, _STREAM_VIEWS, r), chunk_size=self.chunk_size,
                joint_draws=bool(getattr(self.strategy, "joint_draws", False)),
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
        record = RoundRecord(r, len(lab), queried, metrics, seconds, stop_reason)
        self.history.append(record)
        self.round_ = r + 1
        if self.checkpoint_dir is not None:
            self.save_checkpoint(self.checkpoint_dir)
        for cb in self.callbacks:
            if cb.on_round_end(self, record) is False:
                self._stopped = True
        return record

    def _training_indices(self, labelled: np.ndarray) -> np.ndarray:
        """Labelled items minus those a stopping criterion holds out for validation."""
        held = [np.asarray(fn(self), dtype=np.int64) for c in self.stopping
                if callable(fn := getattr(c, "exclude_from_training", None))]
        held = [h for h in held if len(h)]
        if not held:
            return labelled
        return np.setdiff1d(labelled, np.concatenate(held), assume_unique=False)

    def _check_stopping(self, record: RoundRecord) -> str | None:
        """Ask every criterion (all of them, so each keeps its state current); record their values."""
        reasons = []
        metrics = record.metrics
        for c in self.stopping:
            why = c.should_stop(self, record)
            value = getattr(c, "last_value", None)
            if value is not None:
                metrics[f"stop/{c.name}"] = float(value)  # type: ignore[index]
            if why:
                reasons.append(f"{c.name}: {why}")
        return "; ".join(reasons) if reasons else None

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
            "initial_strategy": (
                self.initial_strategy
                if isinstance(self.initial_strategy, str)
                else getattr(self.initial_strategy, "name", type(self.initial_strategy).__name__)
            ),
        }

    def _component_states(self) -> dict[str, Any]:
        """State of a stateful strategy (e.g. a bandit) and of the stopping criteria."""
        out: dict[str, Any] = {}
        if callable(getattr(self.strategy, "state_dict", None)):
            out["strategy"] = self.strategy.state_dict()
        crit = {i: c.state_dict() for i, c in enumerate(self.stopping) if callable(getattr(c, "state_dict", None))}
        if crit:
            out["stopping"] = crit
        return out

    def _load_component_states(self, states: Mapping[str, Any]) -> None:
        if "strategy" in states and callable(getattr(self.strategy, "load_state_dict", None)):
            self.strategy.load_state_dict(states["strategy"])
        for i, state in states.get("stopping", {}).items():
            if i < len(self.stopping) and callable(getattr(self.stopping[i], "load_state_dict", None)):
                self.stopping[i].load_state_dict(state)

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
            arrays["model"] = object_blob(state_fn())
        extra = self._component_states()
        if extra:
            arrays["components"] = object_blob(extra)
        return write_npz_atomic(directory / _CHECKPOINT, arrays)

    def load_checkpoint(self, directory: str | os.PathLike[str]) -> None:
        """Restore the state saved by :meth:`save_checkpoint`.

        Raises:
            CheckpointError: If the file is missing, corrupt, or from a run with another
                seed, budget, strategy, model or pool size. Nothing on disk is modified.
        """
        arrays, meta, objects = read_checkpoint(
            Path(directory) / _CHECKPOINT,
            self._fingerprint(),
            ("model", "components"),
            {"initial_strategy": "random"},  # checkpoints written before the option existed
        )
        pool = Pool(self.pool.n_items, self.pool.n_classes)
        pool.load_state_dict({k[len("pool_"):]: v for k, v in arrays.items() if k.startswith("pool_")})
        if "model" in objects and callable(getattr(self.model, "load_state_dict", None)):
            self.model.load_state_dict(objects["model"])
        if "components" in objects:
            self._load_component_states(objects["components"])
        self.pool = pool
        self.history = History(RoundRecord.from_dict(d) for d in meta["history"])
        self.round_ = int(meta["round"])
