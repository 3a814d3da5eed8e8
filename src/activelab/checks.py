"""Public conformance checks: does a strategy or a model keep activelab's contract?

Like scikit-learn's ``check_estimator`` and Gymnasium's ``check_env``: run them on your own
strategy or model before you use it in an experiment.

>>> from activelab.checks import check_strategy
>>> from activelab.strategies import make
>>> check_strategy(make("margin"))   # returns None when every rule holds

A broken object raises :class:`~activelab.errors.StrategyContractError` (strategies) or
:class:`ModelContractError` (models), and the message names the rule it broke.

The strategy rules (:data:`STRATEGY_RULES`):

1. it has ``name`` (str), ``needs`` (known view names), ``needs_labelled`` (bool) and ``select``;
2. ``select(views, pool, k, rng)`` returns ``k`` unique integer absolute indices of unlabelled,
   offerable items (the engine's rules, :data:`~activelab.strategies.base.SELECTION_RULES`);
3. the same views, pool and ``rng`` give the same picks, whatever NumPy's and torch's global
   random states are (every random choice comes from ``rng``);
4. ``select`` does not change the pool;
5. asking for more items than there are candidates raises
   :class:`~activelab.errors.PoolExhaustedError`, and asking for all of them returns all of them;
6. a run checkpointed mid-way and restored (a fresh copy of the strategy, its ``state_dict``
   loaded) proposes exactly what the uninterrupted run proposes.

The checks run the strategy in a small :class:`~activelab.engine.Engine` run on generated
data with :class:`CheckModel`, a cheap deterministic model that provides every view.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .engine import Engine
from .errors import ActiveLabError, PoolExhaustedError, StrategyContractError
from .models.base import VIEWS
from .oracles import Answers
from .pool import Pool
from .strategies.base import check_selection, strategy_name

__all__ = [
    "MODEL_RULES",
    "STRATEGY_RULES",
    "CheckModel",
    "ModelContractError",
    "check_model",
    "check_strategy",
    "dry_run_strategy",
]

#: The rules :func:`check_strategy` checks, in order.
STRATEGY_RULES = (
    "a strategy has name, needs, needs_labelled and select",
    "select returns k unique unlabelled absolute indices",
    "the same rng gives the same picks (no global random state)",
    "select leaves the pool unchanged",
    "more than the candidates raises PoolExhaustedError; all of them returns all of them",
    "restored from a checkpoint mid-run, it proposes what the uninterrupted run proposes",
)

#: The rules :func:`check_model` checks, in order.
MODEL_RULES = (
    "a model has n_classes, fit and predict_proba",
    "predict_proba returns finite (n, n_classes) probabilities whose rows sum to 1",
    "the same data and rng give the same model",
    "optional views have their documented shapes",
    "state_dict / load_state_dict restore the same predictions",
)


class ModelContractError(ActiveLabError):
    """A model broke its contract (the message names the rule)."""


def _toy_data(n_items: int, n_features: int, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_classes`` Gaussian blobs, float32 features and int64 labels (every class present)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(n_classes, n_features))
    y = np.arange(n_items) % n_classes
    X = centres[y] + rng.normal(size=(n_items, n_features))
    return X.astype(np.float32), y.astype(np.int64)


class CheckModel:
    """A cheap, deterministic model with every view, for :func:`check_strategy`.

    ``fit`` draws a random projection to ``n_dims`` (``tanh`` of it is the embedding) from
    ``rng`` and keeps the class centroids in embedding space; probabilities are a softmax of
    negative squared distances to them. Posterior draws add Gaussian noise to the logits (one
    noise vector per draw for the whole pool when ``joint=True``); the predicted loss is the
    entropy. Cost: O(n·(D + C)·n_dims) per call.

    Example:
        >>> X, y = _toy_data(30, 4, 3, 0)
        >>> m = CheckModel(3).fit(X, y, rng=np.random.default_rng(0))
        >>> m.predict_proba(X).shape, m.predict_proba_samples(X, 5, rng=np.random.default_rng(0)).shape
        ((30, 3), (30, 5, 3))
    """

    def __init__(self, n_classes: int, n_dims: int = 8) -> None:
        self.n_classes = int(n_classes)
        self.n_dims = int(n_dims)
        self.weights_: np.ndarray | None = None
        self.centroids_: np.ndarray | None = None

    def fit(self, X: np.ndarray, y: np.ndarray, *, rng: np.random.Generator) -> CheckModel:
        """Draw the projection from ``rng``; centroids of the labelled classes (others stay far)."""
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        self.weights_ = rng.normal(size=(X.shape[1], self.n_dims)) / np.sqrt(X.shape[1])
        emb = np.tanh(X @ self.weights_)
        self.centroids_ = np.full((self.n_classes, self.n_dims), 3.0)
        for c in range(self.n_classes):
            if (y == c).any():
                self.centroids_[c] = emb[y == c].mean(axis=0)
        return self

    def _logits(self, X: np.ndarray) -> np.ndarray:
        if self.weights_ is None or self.centroids_ is None:
            raise ActiveLabError("CheckModel is not fitted; call fit first.")
        emb = self._embed(X)
        logits: np.ndarray = -4.0 * ((emb[:, None, :] - self.centroids_[None]) ** 2).sum(axis=2)
        return logits

    @staticmethod
    def _softmax(z: np.ndarray) -> np.ndarray:
        z = z - z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        p: np.ndarray = e / e.sum(axis=-1, keepdims=True)
        return p

    def embed(self, X: np.ndarray) -> np.ndarray:
        """``tanh`` of the random projection, ``(n, n_dims)``."""
        return self._embed(X)

    def _embed(self, X: np.ndarray) -> np.ndarray:
        if self.weights_ is None:
            raise ActiveLabError("CheckModel is not fitted; call fit first.")
        emb: np.ndarray = np.tanh(np.asarray(X, dtype=np.float64).reshape(len(X), -1) @ self.weights_)
        return emb

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Softmax of negative squared distances to the class centroids, ``(n, n_classes)``."""
        return self._softmax(self._logits(X))

    def predict_proba_samples(self, X: np.ndarray, n_draws: int, *, rng: np.random.Generator, joint: bool = False) -> np.ndarray:
        """Probabilities of noisy logits, ``(n, n_draws, n_classes)``."""
        z = self._logits(X)
        shape = (1, n_draws, self.n_classes) if joint else (len(z), n_draws, self.n_classes)
        return self._softmax(z[:, None, :] + rng.normal(size=shape))

    def predict_loss(self, X: np.ndarray) -> np.ndarray:
        """Predictive entropy as the loss estimate, ``(n,)``."""
        p = self.predict_proba(X)
        loss: np.ndarray = -(p * np.log(np.clip(p, 1e-12, None))).sum(axis=1)
        return loss

    def state_dict(self) -> dict[str, Any]:
        """The projection and the centroids."""
        return {"weights": self.weights_, "centroids": self.centroids_}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output."""
        self.weights_, self.centroids_ = state["weights"], state["centroids"]


def _broke(kind: type[ActiveLabError], owner: str, rule: str, detail: str) -> ActiveLabError:
    return kind(f"{owner} broke the rule \"{rule}\": {detail}.")


def _started(engine: Engine, y: np.ndarray, initial: int) -> Engine:
    """``engine`` after its initial set is proposed, taught (true labels) and fitted."""
    idx = engine.propose(initial)
    engine.teach(Answers(idx, y[idx], np.ones(len(idx), dtype=bool)))
    engine.refit()
    return engine


def _run(engine: Engine, y: np.ndarray, rounds: int, k: int, start: int = 0) -> list[np.ndarray]:
    """Rounds ``start .. rounds-1`` of propose → teach (true labels) → refit; the proposals made."""
    out = []
    for _ in range(start, rounds):
        idx = engine.propose(k)
        out.append(idx)
        engine.teach(Answers(idx, y[idx], np.ones(len(idx), dtype=bool)))
        engine.refit()
    return out


def _select_with_global_noise(strategy: Any, views: Any, pool: Pool, k: int, seed: int, global_seed: int) -> np.ndarray:
    """``strategy.select`` with NumPy's and torch's global generators set to ``global_seed`` (restored after)."""
    import torch

    np_state = np.random.get_state()  # noqa: NPY002  (saved to restore the global state we perturb)
    try:
        with torch.random.fork_rng(devices=[]):
            np.random.seed(global_seed)  # noqa: NPY002  (deliberately perturbing global state)
            torch.manual_seed(global_seed)
            return np.asarray(strategy.select(views, pool, k, np.random.default_rng(seed)))
    finally:
        np.random.set_state(np_state)  # noqa: NPY002  (restores the caller's global state)


def dry_run_strategy(
    strategy: Any, *, initial_strategy: Any = "random", n_classes: int = 3, k: int = 2, seed: int = 0
) -> np.ndarray:
    """One proposal of ``strategy`` (a deep copy) in a small engine run with :class:`CheckModel`.

    The initial set (12 of 80 generated items, chosen by ``initial_strategy``) is labelled and
    fitted, then ``strategy`` proposes ``k`` items. Errors that a strategy's options only raise
    inside ``select`` (a wrong type, a value out of range) surface here in milliseconds instead
    of after the first real model has trained; experiment planning runs it for every configured
    strategy. Nothing global changes: the run draws only from its own streams.

    Returns:
        The ``k`` proposed indices.

    Raises:
        Whatever the strategy raises (e.g. ``TypeError``, ``ValueError``), or
        :class:`~activelab.errors.StrategyContractError` if its proposal breaks the selection rules.

    Example:
        >>> from activelab.strategies import make
        >>> dry_run_strategy(make("margin")).shape
        (2,)
    """
    X, y = _toy_data(80, 6, n_classes, seed)
    init = initial_strategy if isinstance(initial_strategy, str) else copy.deepcopy(initial_strategy)
    engine = Engine(CheckModel(n_classes), copy.deepcopy(strategy), X, seed=seed, n_classes=n_classes, initial_strategy=init)
    return _started(engine, y, 12).propose(k)


def check_strategy(
    strategy: Any,
    *,
    model: Any = None,
    X: np.ndarray | None = None,
    y: np.ndarray | None = None,
    k: int = 8,
    initial: int = 12,
    rounds: int = 4,
    seed: int = 0,
) -> None:
    """Check ``strategy`` against :data:`STRATEGY_RULES`; return None when all hold.

    Args:
        strategy: The strategy to check; it is deep-copied before use (the object you pass is
            not changed), so pass it fresh, as you would to a run.
        model: A model providing the views the strategy needs (default :class:`CheckModel`).
        X, y: Pool features and labels (default: 160 items in 3 Gaussian blobs, 6 features).
        k: Items per proposal.
        initial: Size of the random initial labelled set.
        rounds: Proposals in the checkpoint round trip (restored after ``rounds // 2``).
        seed: Run seed.

    Raises:
        StrategyContractError: Naming the rule broken and what happened.

    Cost: about ``3 · rounds`` proposals and fits on the small pool (well under a second for
    the built-in strategies with :class:`CheckModel`).
    """
    name = strategy_name(strategy)
    owner = f"strategy {name!r}"

    def broke(rule: int, detail: str) -> ActiveLabError:
        return _broke(StrategyContractError, owner, STRATEGY_RULES[rule], detail)

    missing = [a for a in ("name", "needs", "needs_labelled") if not hasattr(strategy, a)]
    if missing or not callable(getattr(strategy, "select", None)):
        raise broke(0, f"it lacks {missing or ['select']}")
    if not isinstance(strategy.name, str) or not isinstance(strategy.needs_labelled, (bool, np.bool_)):
        raise broke(0, f"name must be a str and needs_labelled a bool, got {strategy.name!r}, {strategy.needs_labelled!r}")
    unknown = [v for v in strategy.needs if v not in VIEWS]
    if unknown:
        raise broke(0, f"it needs unknown views {unknown}; the views are {list(VIEWS)}")
    if X is None or y is None:
        X, y = _toy_data(160, 6, 3, seed)
    y = np.asarray(y, dtype=np.int64)
    n_classes = int(y.max()) + 1
    pristine = copy.deepcopy(strategy)

    def new_engine() -> Engine:
        m = CheckModel(n_classes) if model is None else copy.deepcopy(model)
        return Engine(m, copy.deepcopy(pristine), X, seed=seed, n_classes=n_classes)

    # rule 2 (engine's selection rules) and the reference run for rule 6
    engine = _started(new_engine(), y, initial)
    try:
        full = _run(engine, y, rounds, k)
    except StrategyContractError as err:
        raise StrategyContractError(f"{err} (check_strategy rule \"{STRATEGY_RULES[1]}\")") from err

    # rules 3-5 on one round's views
    probe = _started(new_engine(), y, initial)
    views = probe.views(
        strategy.needs, rng=np.random.default_rng(seed), with_labelled=bool(strategy.needs_labelled),
        n_draws=int(getattr(strategy, "n_draws", 20) or 20), joint=bool(getattr(strategy, "joint_draws", False)),
    )
    pool = probe.pool
    before = {key: np.array(v, copy=True) for key, v in pool.state_dict().items() if key != "event_time"}
    a = check_selection(_select_with_global_noise(copy.deepcopy(pristine), views, pool, k, seed, 1), k, pool, name)
    b = check_selection(_select_with_global_noise(copy.deepcopy(pristine), views, pool, k, seed, 2), k, pool, name)
    if not np.array_equal(a, b):
        raise broke(2, f"two calls with the same rng returned {a.tolist()} and {b.tolist()}")
    after = {key: v for key, v in pool.state_dict().items() if key != "event_time"}
    changed = [key for key in before if not np.array_equal(before[key], after[key])]
    if changed:
        raise broke(3, f"the pool's {changed} changed")
    n = views.n_candidates
    try:
        copy.deepcopy(pristine).select(views, pool, n + 1, np.random.default_rng(seed))
    except PoolExhaustedError:
        pass
    except Exception as err:  # any other error is the finding (re-raised below, so not a blind except)
        raise broke(4, f"asked for {n + 1} of {n} candidates it raised {type(err).__name__}: {err}") from err
    else:
        raise broke(4, f"asked for {n + 1} of {n} candidates it returned without an error")
    everything = check_selection(copy.deepcopy(pristine).select(views, pool, n, np.random.default_rng(seed)), n, pool, name)
    if not np.array_equal(np.sort(everything), pool.unlabelled_indices()):
        raise broke(4, f"asked for all {n} candidates it returned another set")

    # rule 6: checkpointed after every round and restored into fresh objects, the next proposal
    # must equal the uninterrupted run's; from the middle, the whole rest of the run must too.
    run = _started(new_engine(), y, initial)
    with tempfile.TemporaryDirectory() as tmp:
        for cut in range(1, rounds):
            _run(run, y, cut, k, start=cut - 1)
            where = f"{tmp}/round{cut}"
            try:
                run.save_checkpoint(where)
                resumed = new_engine()
                resumed.load_checkpoint(where)
            except (TypeError, AttributeError, ValueError, ActiveLabError) as err:
                raise broke(5, f"its state could not be checkpointed ({type(err).__name__}: {err})") from err
            tail = _run(resumed, y, rounds if cut == rounds // 2 else cut + 1, k, start=cut)
            for r, got in enumerate(tail, start=cut):
                if not np.array_equal(full[r], got):
                    raise broke(
                        5, f"restored after round {cut}, it proposed {got.tolist()} in round {r + 1}, where the "
                        f"uninterrupted run proposed {full[r].tolist()} (is all its state in state_dict()?)"
                    )


def check_model(
    model: Any,
    *,
    X: np.ndarray | None = None,
    y: np.ndarray | None = None,
    seed: int = 0,
) -> None:
    """Check ``model`` against :data:`MODEL_RULES`; return None when all hold.

    Args:
        model: The model to check (deep-copied; the object you pass is not changed).
        X, y: Training data (default: 90 items of 6 features in ``model.n_classes`` blobs);
            pass your own when the model needs images or other input shapes.
        seed: Seed of the ``rng`` given to ``fit``.

    Raises:
        ModelContractError: Naming the rule broken and what happened.
    """
    owner = f"model {type(model).__name__}"

    def broke(rule: int, detail: str) -> ActiveLabError:
        return _broke(ModelContractError, owner, MODEL_RULES[rule], detail)

    n_classes = getattr(model, "n_classes", None)
    if not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise broke(0, f"n_classes must be an int >= 2, got {n_classes!r}")
    for method in ("fit", "predict_proba"):
        if not callable(getattr(model, method, None)):
            raise broke(0, f"it has no {method}()")
    if X is None or y is None:
        X, y = _toy_data(90, 6, int(n_classes), seed)
    y = np.asarray(y, dtype=np.int64)

    def fitted() -> Any:
        m = copy.deepcopy(model)
        out = m.fit(X, y, rng=np.random.default_rng(seed))
        return m if out is None else out

    m1, m2 = fitted(), fitted()
    p1 = np.asarray(m1.predict_proba(X))
    if p1.shape != (len(X), n_classes):
        raise broke(1, f"expected shape {(len(X), int(n_classes))}, got {p1.shape}")
    if not np.isfinite(p1).all() or (p1 < 0).any() or not np.allclose(p1.sum(axis=1), 1.0, atol=1e-4):
        raise broke(1, "some rows are not finite, negative, or do not sum to 1")
    if not np.array_equal(p1, np.asarray(m2.predict_proba(X))):
        raise broke(2, "two fits with the same data and rng predict differently (use only the rng passed to fit)")
    shapes: dict[str, tuple[Callable[[], Any], Sequence[int | None]]] = {}
    if callable(getattr(m1, "predict_proba_samples", None)):
        shapes["predict_proba_samples"] = (
            lambda: m1.predict_proba_samples(X, 2, rng=np.random.default_rng(seed)), (len(X), 2, int(n_classes))
        )
    if callable(getattr(m1, "embed", None)):
        shapes["embed"] = (lambda: m1.embed(X), (len(X), None))
    if callable(getattr(m1, "predict_loss", None)):
        shapes["predict_loss"] = (lambda: m1.predict_loss(X), (len(X),))
    for method, (call, want) in shapes.items():
        if getattr(m1, "has_" + {"predict_proba_samples": "prob_samples", "embed": "embeddings",
                                 "predict_loss": "predicted_loss"}[method], True) is False:
            continue
        got = np.asarray(call())
        if got.ndim != len(want) or any(w is not None and g != w for g, w in zip(got.shape, want, strict=True)):
            raise broke(3, f"{method} returned shape {got.shape}, expected {tuple('d' if w is None else w for w in want)}")
        if not np.isfinite(got).all():
            raise broke(3, f"{method} returned NaN or infinite values")
    if callable(getattr(m1, "state_dict", None)) and callable(getattr(m1, "load_state_dict", None)):
        fresh = copy.deepcopy(model)
        fresh.load_state_dict(copy.deepcopy(m1.state_dict()))
        if not np.allclose(np.asarray(fresh.predict_proba(X)), p1, rtol=1e-6, atol=1e-7):
            raise broke(4, "a fresh model loaded from the fitted one's state_dict predicts differently")
