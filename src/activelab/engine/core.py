"""``Engine``: one round of active learning as explicit steps, ask/tell style.

Every driver runs on it: :class:`~activelab.loop.ActiveLearner` (simulation: propose, ask the
oracle, teach, refit), :class:`~activelab.learned.ALEnv` (reinforcement-learning episodes whose
agent chooses the batch) and the labelling app (people answer in their own time while the model
is refitted in the background).

The steps:

- :meth:`Engine.propose` ``(k)`` refits the model if answers arrived since its last fit,
  computes the views the strategy declares, lets it select, and returns ``k`` absolute pool
  indices. They stay *outstanding* (``pool.pending``) until answered or released, and are never
  proposed twice, so proposals can run ahead of the answers. Before any label exists the
  initial strategy chooses (no model yet).
- :meth:`Engine.teach` ``(answers)`` stores any subset of answers in any order; a skip means
  the item is never offered again. Items may be taught without having been proposed.
- :meth:`Engine.refit` fits the model on the labelled items and evaluates it: a new round.
- :meth:`Engine.state_dict` / :meth:`Engine.load_state_dict` (and the checkpoint file helpers)
  restore the exact state: a restored engine proposes exactly what the uninterrupted one does.

Randomness comes only from :func:`~activelab.engine.streams.stream_rng` keyed by the seed, the
stream and the round (plus a counter for a second proposal from the same model), so runs with
the same seed are paired and resume exactly.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_k, check_pool_features, fingerprint_arrays
from ..errors import ActiveLabError, CheckpointError
from ..models.base import Model, Views, check_capabilities, compute_views
from ..oracles import Answers
from ..pool import Pool
from ..strategies.base import Strategy, check_selection, strategy_name
from .checkpoint import CHECKPOINT_FILE, read_checkpoint, write_checkpoint
from .records import History, RoundRecord
from .streams import stream_rng

__all__ = ["ENGINE_FORMAT", "Engine", "OpenRound", "input_features", "resolve_initial_strategy"]

#: Version of the engine's checkpoint layout; a checkpoint of another version is refused.
ENGINE_FORMAT = 2


def input_features(X: Any, *, chunk_size: int = 8192) -> np.ndarray:
    """The pool's input features flattened to ``(n_items, d)`` float32 (what initial strategies see).

    Not standardised per feature: that would blow up near-constant features (e.g. border
    pixels) and make cold-start clusters worse; a global rescaling would not change neighbours
    or k-means.

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


OWN_INITIAL = "own"
"""``--initial-strategy own``: every strategy picks its first batch by its own cold start
(:func:`own_initial_strategy`)."""

_MODEL_FREE_VIEWS = ("embeddings", "inputs")  # before any model, both are the input features


def own_initial_strategy(strategy: Strategy) -> str | Strategy:
    """What picks ``strategy``'s first batch when nothing is labelled (``initial_strategy="own"``).

    The strategy's declared ``cold_start`` if it has one (TCM and SelectAL: their low-budget
    side), else the strategy itself when it needs no model's view (TypiClust, ProbCover,
    k-center, random...), else ``"random"`` (a uniform draw: margin, BADGE, the bandits and
    the learned policy need a model's outputs, and no model exists before the first labels).
    """
    declared = getattr(strategy, "cold_start", None)
    if declared is not None:
        return resolve_initial_strategy(declared)
    if all(v in _MODEL_FREE_VIEWS for v in getattr(strategy, "needs", ("probs",))) and not hasattr(strategy, "state_dict"):
        return strategy
    return "random"


def resolve_initial_strategy(spec: str | Strategy) -> str | Strategy:
    """``"random"`` stays a string (a uniform draw); other names become strategy objects.

    Raises:
        UnknownNameError: For an unknown strategy name.
        TypeError: If ``spec`` is neither a name nor an object with ``select``.
        ValueError: If the strategy needs a view that only a model can give (no model exists
            before the first labels).
    """
    if isinstance(spec, str):
        if spec == "random":
            return spec
        from ..strategies.registry import make

        spec = make(spec)
    if not callable(getattr(spec, "select", None)):
        raise TypeError(
            f"initial_strategy must be 'random', a registered strategy name or a strategy object with select(); "
            f"got {spec!r}."
        )
    extra = [v for v in getattr(spec, "needs", ()) if v not in ("embeddings", "inputs")]  # both are the input features
    if extra:
        raise ValueError(
            f"initial strategy {strategy_name(spec)!r} needs the view(s) {', '.join(map(repr, extra))}, but no model "
            "exists before the first labels; use random, kmeans, typiclust, probcover or coreset."
        )
    return spec


@dataclass
class OpenRound:
    """The round in progress: its model's metrics and the proposals made from it so far.

    Drivers may add entries to ``metrics`` and ``seconds`` (e.g. a stopping criterion's value,
    the time the oracle took) before :meth:`Engine.close_round` turns it into a
    :class:`~activelab.engine.records.RoundRecord`.
    """

    round_: int
    count: int
    metrics: dict[str, float]
    seconds: dict[str, float]
    queried: list[np.ndarray] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "round": self.round_, "count": self.count,
            "metrics": {k: float(v) for k, v in self.metrics.items()},
            "seconds": {k: float(v) for k, v in self.seconds.items()},
            "queried": [np.asarray(q, dtype=np.int64).tolist() for q in self.queried],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OpenRound:
        """Inverse of :meth:`to_dict`."""
        return cls(int(d["round"]), int(d["count"]), dict(d["metrics"]), dict(d["seconds"]),
                   [np.asarray(q, dtype=np.int64) for q in d["queried"]])


class Engine:
    """Pool-based active learning as explicit steps: ``propose``, ``teach``, ``refit``.

    Args:
        model: A :class:`~activelab.models.base.Model`; it must provide every view the strategy
            needs (checked here).
        strategy: A :class:`~activelab.strategies.Strategy`.
        X: Pool features ``(n_items, ...)``, at least 2-D, numeric and finite (checked here, in
            one chunked pass): a numpy array, a memmap or another array with ``shape`` that an
            int array indexes.
        seed: Run seed: the key of every random stream (see :mod:`activelab.engine.streams`).
        n_classes: Number of classes (default: ``model.n_classes``); labels must lie in
            ``[0, n_classes)``.
        evaluate: ``model -> {"metric": value}``, called after every fit.
        initial_strategy: Chooses the first items before any label exists: ``"random"``, a
            registered strategy name that needs at most the ``embeddings`` view (``"kmeans"``,
            ``"typiclust"``, ``"probcover"``, ``"coreset"``), or such an object. It sees the
            flattened input features as its ``embeddings`` (and ``inputs``) view.
        chunk_size: Rows per chunk of the streamed inference pass.
        train_filter: ``labelled_indices -> training_indices``: labelled items to keep out of
            training (a stopping criterion's validation hold-out). Default: train on all.

    Raises:
        TypeError: If ``X`` is a list or has no ``shape`` (convert it with ``np.asarray``), or the
            strategy lacks ``needs``/``select``.
        ValueError: If ``X`` is 1-D or holds NaN/inf (naming the first row and column), or
            ``seed``/``chunk_size`` is invalid.
        CapabilityError: If the model cannot provide a view the strategy needs.

    Cost: :meth:`propose` is one streamed inference pass over the candidates (the views the
    strategy needs, each once) plus the strategy's own cost; :meth:`teach` is O(answers);
    :meth:`refit` is one ``model.fit`` on the labelled items plus ``evaluate``. State: four
    arrays of ``n_items`` in the pool, nothing of size N×N.

    Example:
        >>> from sklearn.linear_model import LogisticRegression
        >>> from activelab.models import SklearnClassifier
        >>> from activelab.strategies import make
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(100, 2)); y = (X[:, 0] > 0).astype(int)
        >>> engine = Engine(SklearnClassifier(LogisticRegression(), 2), make("margin"), X, seed=0)
        >>> first = engine.propose(6)                # no labels yet: the initial strategy picks
        >>> engine.teach(Answers(first, y[first], np.ones(6, dtype=bool)))
        >>> ask = engine.propose(3)                  # fits the model, then margin picks 3
        >>> more = engine.propose(3)                 # runs ahead: the first 3 are still pending
        >>> bool(np.intersect1d(ask, more).size == 0), engine.pool.n_pending
        (True, 6)
        >>> engine.teach(Answers(more[:1], y[more[:1]], np.array([True])))   # any subset, any order
        >>> engine.pool.n_labelled, engine.stale
        (7, True)
    """

    def __init__(
        self,
        model: Model,
        strategy: Strategy,
        X: Any,
        *,
        seed: int = 0,
        n_classes: int | None = None,
        evaluate: Callable[[Model], Mapping[str, float]] | None = None,
        initial_strategy: str | Strategy = "random",
        chunk_size: int = 8192,
        train_filter: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}.")
        if not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}.")
        if not callable(getattr(strategy, "select", None)) or not hasattr(strategy, "needs"):
            raise TypeError(f"strategy must have `needs` and select(views, pool, k, rng), got {strategy!r}.")
        n_items = check_pool_features(X, "X", chunk_size=int(chunk_size))[0]
        self.model = model
        self.strategy = strategy
        self.X = X
        self.seed = int(seed)
        self.evaluate = evaluate
        self.chunk_size = int(chunk_size)
        self.train_filter = train_filter
        self.initial_strategy = resolve_initial_strategy(initial_strategy)
        check_capabilities(model, strategy.needs, strategy_name(strategy))
        self.pool = Pool(n_items, n_classes if n_classes is not None else getattr(model, "n_classes", None))
        self.history = History()
        self.round_ = -1
        self.open_round: OpenRound | None = None
        self._proposals = 0
        self._taught = 0
        self._fitted_at = -1
        self._model_ready = False
        self._data_fingerprint: dict[str, Any] | None = None

    # --------------------------------------------------------------------------- state
    @property
    def stale(self) -> bool:
        """True when labels were taught since the model's last fit (or it was never fitted)."""
        return self.round_ < 0 or self._taught != self._fitted_at

    @property
    def outstanding(self) -> np.ndarray:
        """Absolute indices proposed and not yet answered or released, ascending."""
        return np.flatnonzero(self.pool.pending)

    # --------------------------------------------------------------------------- steps
    def refit(self) -> dict[str, float]:
        """Fit the model on the labelled items and evaluate it: this starts a new round.

        Closes the open round (its record goes to :attr:`history`) and opens the next one.

        Returns:
            The new model's metrics (empty without ``evaluate``).

        Raises:
            ActiveLabError: If no item is labelled yet (propose an initial set and teach it).
        """
        if self.open_round is not None:
            self.close_round()
        labelled = self.pool.labelled_indices()
        if not len(labelled):
            raise ActiveLabError("there are no labels to fit on; propose(k) an initial set and teach its answers first.")
        r = self.round_ + 1
        seconds: dict[str, float] = {}
        t = time.perf_counter()
        self._fit(r, labelled)
        seconds["fit"] = time.perf_counter() - t
        t = time.perf_counter()
        metrics = dict(self.evaluate(self.model)) if self.evaluate is not None else {}
        seconds["evaluate"] = time.perf_counter() - t
        self.round_ = r
        self._proposals = 0
        self._fitted_at = self._taught
        self.open_round = OpenRound(r, len(labelled), metrics, seconds)
        return dict(metrics)

    def _fit(self, round_: int, labelled: np.ndarray) -> None:
        train = labelled if self.train_filter is None else np.asarray(self.train_filter(labelled), dtype=np.int64)
        self.model.fit(self.X[train], self.pool.labels[train], rng=stream_rng(self.seed, "model", round_))
        self._model_ready = True

    def _ensure_model(self) -> None:
        """After a restore without model weights, redo the current round's fit (same data, same stream)."""
        if not self._model_ready and self.round_ >= 0:
            lab = np.flatnonzero((self.pool.label_round >= 0) & (self.pool.label_round <= self.round_))
            self._fit(self.round_, lab)

    def propose(self, k: int, *, refit: bool = True, strategy: Strategy | None = None) -> np.ndarray:
        """Choose ``k`` items to ask about; they stay outstanding until answered or released.

        Before any label exists the initial strategy chooses (sorted indices). Otherwise the
        model is refitted first if answers arrived since its last fit (``refit=False`` keeps
        the current model), the views the strategy needs are computed over the offerable items
        (not labelled, skipped or outstanding) and the strategy selects. ``strategy`` selects
        this once instead of the engine's own (e.g. ALEnv's heuristic mode picks one per round);
        it draws from the same streams.

        Returns:
            ``(k,)`` int64 absolute pool indices.

        Raises:
            PoolExhaustedError: If fewer than ``k`` items can be offered.
            StrategyContractError: If the strategy returns something else than ``k`` unique
                offerable indices (the message names the rule).
        """
        k = check_k(k, self.pool.n_unlabelled, "offerable items (not labelled, skipped or outstanding)")
        if self.round_ < 0 and self.pool.n_labelled == 0:
            idx = self._propose_initial(k)
        else:
            if self.round_ < 0 or (refit and self.stale):
                self.refit()
            self._ensure_model()
            if strategy is not None:
                check_capabilities(self.model, strategy.needs, strategy_name(strategy))
            idx = self._propose_from_model(k, self.strategy if strategy is None else strategy)
        self.pool.mark_pending(idx)
        self._proposals += 1
        return idx

    def _propose_initial(self, k: int) -> np.ndarray:
        rng = stream_rng(self.seed, "initial", 0, self._proposals)
        if isinstance(self.initial_strategy, str):  # "random": a uniform draw
            return np.sort(rng.choice(self.pool.unlabelled_indices(), k, replace=False)).astype(np.int64)
        strategy = self.initial_strategy
        feats = input_features(self.X, chunk_size=self.chunk_size)
        unl = self.pool.unlabelled_mask
        rows = np.flatnonzero(unl | self.pool.labelled_mask) if getattr(strategy, "needs_labelled", False) else np.flatnonzero(unl)
        sub = feats if len(rows) == len(feats) else feats[rows]  # no copy of the whole pool's features
        views = Views(indices=rows, labelled=~unl[rows], embeddings=sub, inputs=sub, extra={"inputs": sub})
        chosen = strategy.select(views, self.pool, k, rng)
        return np.sort(check_selection(chosen, k, self.pool, strategy_name(strategy), role="initial strategy"))

    def _propose_from_model(self, k: int, strategy: Strategy) -> np.ndarray:
        if self.open_round is None:
            raise ActiveLabError("the round is closed; refit() before proposing from a new model.")
        r, j = self.round_, self._proposals
        t = time.perf_counter()
        views = self.views(
            strategy.needs, with_labelled=bool(getattr(strategy, "needs_labelled", False)),
            rng=stream_rng(self.seed, "views", r, j), n_draws=getattr(strategy, "n_draws", 20) or 20,
            joint=bool(getattr(strategy, "joint_draws", False)),
        )
        t_infer = time.perf_counter() - t
        t = time.perf_counter()
        chosen = strategy.select(views, self.pool, k, stream_rng(self.seed, "strategy", r, j))
        idx = check_selection(chosen, k, self.pool, strategy_name(strategy))
        t_select = time.perf_counter() - t
        seconds = self.open_round.seconds
        seconds["infer"] = seconds.get("infer", 0.0) + t_infer
        seconds["select"] = seconds.get("select", 0.0) + t_select
        self.open_round.queried.append(idx)
        return idx

    def views(
        self,
        needs: Sequence[str],
        *,
        rng: np.random.Generator,
        with_labelled: bool = False,
        n_draws: int = 20,
        joint: bool = False,
    ) -> Views:
        """The current model's views of the offerable items (plus the labelled ones if asked).

        One streamed inference pass (:func:`~activelab.models.base.compute_views`); ``rng``
        draws the posterior samples.
        """
        self._ensure_model()
        unl = self.pool.unlabelled_mask
        rows = np.flatnonzero(unl | self.pool.labelled_mask) if with_labelled else np.flatnonzero(unl)
        return compute_views(
            self.model, self.X, rows, ~unl[rows], tuple(needs), n_draws=n_draws, rng=rng,
            chunk_size=self.chunk_size, joint_draws=joint,
        )

    def teach(self, answers: Answers, *, source: str = "oracle") -> None:
        """Store answers: any subset of the outstanding items, in any order; skips allowed.

        Answered items are labelled in round ``round_ + 1`` (the round whose model will first
        see them); skipped items are never offered again. Items that were never proposed may
        be taught too (e.g. labels a person gave on their own). Nothing changes when an error
        is raised.

        Raises:
            TypeError: If ``answers`` is not an :class:`~activelab.oracles.Answers`.
            ValueError, IndexError: For duplicate, out-of-pool, already labelled or skipped
                items, or labels outside ``[0, n_classes)``.
        """
        if not isinstance(answers, Answers):
            raise TypeError(f"teach() takes an Answers object, got {type(answers).__name__}.")
        idx = np.asarray(answers.indices)
        if idx.size and not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"answer indices must be integer pool indices, got dtype {idx.dtype}.")
        idx = idx.astype(np.int64)
        ok = np.asarray(answers.answered, dtype=bool)
        if idx.size:
            if idx.min() < 0 or idx.max() >= self.pool.n_items:
                bad = idx[(idx < 0) | (idx >= self.pool.n_items)][0]
                raise IndexError(f"answer for item {bad}, which is outside the pool [0, {self.pool.n_items}).")
            if len(np.unique(idx)) != len(idx):
                raise ValueError("answers hold an item twice; give one answer per item.")
            done = (self.pool.label_round[idx] >= 0) | self.pool.skipped[idx]
            if done.any():
                raise ValueError(f"item {idx[done][0]} is already labelled or skipped; each item is answered once.")
        label_round = self.round_ + 1
        if ok.any():
            self.pool.add_labels(idx[ok], np.asarray(answers.labels)[ok], round_=label_round, source=source)
            self._taught += 1
        if (~ok).any():
            self.pool.skip(idx[~ok], round_=label_round, source=source)

    def release(self, indices: Any) -> None:
        """Offer outstanding items again without an answer (e.g. an annotator's lease expired)."""
        self.pool.release(indices)

    def close_round(self, stop_reason: str | None = None) -> RoundRecord:
        """Turn the open round into a :class:`~activelab.engine.records.RoundRecord` in :attr:`history`.

        Raises:
            ActiveLabError: If no round is open (call :meth:`refit` first).
        """
        if self.open_round is None:
            raise ActiveLabError("no round is open; refit() opens one.")
        o = self.open_round
        queried = np.concatenate(o.queried) if o.queried else np.empty(0, dtype=np.int64)
        record = RoundRecord(o.round_, o.count, queried, o.metrics, o.seconds, stop_reason)
        self.history.append(record)
        self.open_round = None
        return record

    # ------------------------------------------------------------------------- persistence
    def data_fingerprint(self) -> dict[str, Any]:
        """Shape and SHA-256 of the pool's features ``X`` (computed on first use, then kept)."""
        if self._data_fingerprint is None:
            self._data_fingerprint = fingerprint_arrays({"X": self.X}, chunk_rows=self.chunk_size)
        return self._data_fingerprint

    def fingerprint(self) -> dict[str, Any]:
        """What a checkpoint must match to be restored into this engine.

        The run's settings (seed, strategy, model, pool size, initial strategy) and the content
        of ``X`` (:meth:`data_fingerprint`), so a checkpoint is never restored onto other data
        of the same size.
        """
        return {
            "format": ENGINE_FORMAT,
            "data": self.data_fingerprint(),
            "n_items": self.pool.n_items,
            "seed": self.seed,
            "strategy": strategy_name(self.strategy),
            "model": type(self.model).__name__,
            "initial_strategy": (
                self.initial_strategy if isinstance(self.initial_strategy, str) else strategy_name(self.initial_strategy)
            ),
        }

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: counters, records, label store, model and strategy states."""
        state_fn = getattr(self.model, "state_dict", None)
        strategy_fn = getattr(self.strategy, "state_dict", None)
        return {
            "format": ENGINE_FORMAT,
            "round": self.round_,
            "proposals": self._proposals,
            "taught": self._taught,
            "fitted_at": self._fitted_at,
            "history": [r.to_dict() for r in self.history],
            "open": None if self.open_round is None else self.open_round.to_dict(),
            "pool": self.pool.state_dict(),
            "model": state_fn() if callable(state_fn) and self._model_ready else None,
            "strategy": strategy_fn() if callable(strategy_fn) else None,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` output (into an engine built with the same arguments).

        Raises:
            CheckpointError: If the state is of another format, incomplete, or for another pool.
        """
        if state.get("format") != ENGINE_FORMAT:
            raise CheckpointError(f"engine state of format {state.get('format')!r}, expected {ENGINE_FORMAT}.")
        try:
            pool = Pool(self.pool.n_items, self.pool.n_classes)
            pool.load_state_dict(dict(state["pool"]))
            history = History(RoundRecord.from_dict(d) for d in state["history"])
            open_round = None if state["open"] is None else OpenRound.from_dict(state["open"])
            counters = [int(state[k]) for k in ("round", "proposals", "taught", "fitted_at")]
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"engine state is incomplete or corrupt: {type(err).__name__}: {err}") from err
        model_state = state.get("model")
        if model_state is not None and callable(load_model := getattr(self.model, "load_state_dict", None)):
            load_model(model_state)
            self._model_ready = True
        else:
            self._model_ready = False
        if state.get("strategy") is not None and callable(load_strategy := getattr(self.strategy, "load_state_dict", None)):
            load_strategy(state["strategy"])
        self.pool, self.history, self.open_round = pool, history, open_round
        self.round_, self._proposals, self._taught, self._fitted_at = counters

    def save_checkpoint(
        self, directory: str | os.PathLike[str], *, meta: Mapping[str, Any] | None = None,
        objects: Mapping[str, Any] | None = None,
    ) -> Path:
        """Write :meth:`state_dict` atomically to ``directory/checkpoint.npz``.

        ``meta`` (JSON) extends the fingerprint that :meth:`load_checkpoint` checks; ``objects``
        (picklable) are the driver's own states, returned by :meth:`load_checkpoint`.
        """
        state = self.state_dict()
        pool = state.pop("pool")
        blobs = {"model": state.pop("model"), "strategy": state.pop("strategy"), **(objects or {})}
        return write_checkpoint(
            Path(directory) / CHECKPOINT_FILE, {**self.fingerprint(), **(meta or {}), **state},
            {f"pool_{k}": np.asarray(v) for k, v in pool.items()}, blobs,
        )

    def load_checkpoint(
        self, directory: str | os.PathLike[str], *, meta: Mapping[str, Any] | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Restore :meth:`save_checkpoint`; returns the driver's ``objects``.

        Raises:
            CheckpointError: If the file is missing, corrupt, or from another run (another seed,
                strategy, model, pool size or ``meta``). Nothing on disk is modified.
        """
        arrays, stored, objects = read_checkpoint(
            Path(directory) / CHECKPOINT_FILE, {**self.fingerprint(), **(meta or {})}, defaults
        )
        state = {k: stored.get(k) for k in ("format", "round", "proposals", "taught", "fitted_at", "history", "open")}
        state["pool"] = {k[len("pool_"):]: v for k, v in arrays.items() if k.startswith("pool_")}
        state["model"] = objects.pop("model", None)
        state["strategy"] = objects.pop("strategy", None)
        self.load_state_dict(state)
        return objects
