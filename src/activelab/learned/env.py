"""``ALEnv``: pool-based active learning as a Gymnasium environment.

An episode is one whole active-learning run on a task drawn from a
:class:`~activelab.learned.tasks.TaskSampler` (or a fixed :class:`~activelab.learned.tasks.Task`).
Three action modes share the task, the proxy learner, the oracle and the features:

``pick``
    ``Discrete(K_max)``: pick one of the round's candidates; picks inside a round are sequential
    and the batch-aware features (distance to already-picked items, pending picks of the same
    predicted class, batch fill) are updated after each pick. Padding rows and picked candidates
    are masked (:meth:`ALEnv.action_masks`, and column ``valid`` of the observation). Reward 0
    until the round's batch is full; then the batch is labelled, the learner updated and the
    round reward paid. Observation ``Box(K_max · 30,)``: K_max rows of 30 (candidate features then the global
    features, see :mod:`activelab.learned.features`), flattened row-major; padding rows are 0.
``weights``
    ``Box(-1, 1, (12,))``: weights over 11 candidate features plus a diversity weight on the
    distance to already-picked items; the env builds the batch greedily. One step = one round.
    Observation ``Box(30,)``: global features and the mean candidate features.
``heuristic``
    ``Discrete(M)`` over registered strategies (default random, margin, entropy, coreset, badge)
    run on the whole pool. One step = one round. Same observation as ``weights``.

Reward of a round that ends with ``n_t`` labels:
``100 · (A_val(n_t) − A_ref(n_t)) · (n_t − n_{t−1}) / (B − n_0)`` where ``A_val`` is the
accuracy on the task's reward-validation split and ``A_ref`` the cached curve of the reference
strategy (margin) on the same task, initial set and learner seeds. The return is therefore
the difference of the learning-curve AUCs over the query rounds, in percentage points. The test
split is only reported in ``info["test_accuracy"]``.

An episode drives an :class:`~activelab.engine.Engine` keyed by the task's seed: the initial set,
each round's proxy fit and the heuristic mode's proposals draw from the same streams as
:class:`~activelab.loop.ActiveLearner`, and the reference curve is an ordinary
``ActiveLearner`` run of the reference strategy on the task, so both start from the same
initial set and round-0 model. The agent's batch is taught to the engine directly; the env's
own randomness (candidate draws) comes from ``np_random``, as Gymnasium asks.

Cost of one round: one proxy ``fit`` (tens of ms), one pass over the pool (O(N·C)), the round
features (see :mod:`activelab.learned.features`); the reference curve costs one extra run of
fits per new task (cached per task).
"""

from __future__ import annotations

import copy
import dataclasses
from collections import OrderedDict
from typing import Any, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ..engine import Engine, stream_rng
from ..loop import ActiveLearner, Budget
from ..oracles import Answers, SimulatedOracle
from ..strategies.registry import make as make_strategy
from .features import (
    N_FEATURES,
    WEIGHT_FEATURES,
    RoundFeatures,
    global_features,
    sample_candidates,
    summary_observation,
    weighted_greedy,
)
from .proxy import LogisticProxy, MLPProxy, make_proxy
from .tasks import Task, TaskSampler

__all__ = ["ACTION_MODES", "WEIGHT_FEATURES", "ALEnv", "reference_curve", "task_engine"]

ACTION_MODES = ("pick", "weights", "heuristic")
_REWARD_SCALE = 100.0
_OBS_LOW, _OBS_HIGH = -1.0, 5.0


def _accuracy(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    return float((model.predict_proba(X).argmax(axis=1) == y).mean())


def _val_accuracy(task: Task) -> Any:
    def evaluate(model: Any) -> dict[str, float]:
        return {"accuracy": _accuracy(model, task.X_val, task.y_val)}

    return evaluate


def task_engine(task: Task, strategy: str = "margin") -> Engine:
    """An :class:`~activelab.engine.Engine` for ``task``: its proxy learner, seed and validation accuracy."""
    return Engine(
        make_proxy(task.learner, task.n_classes), make_strategy(strategy), task.X_train, seed=task.seed,
        n_classes=task.n_classes, evaluate=_val_accuracy(task), initial_strategy=task.initial_strategy,
    )


def reference_curve(task: Task, strategy: str = "margin") -> list[float]:
    """Validation-accuracy curve of an ordinary ``strategy`` run on ``task`` (same seed, so the
    same initial set and learner seeds as the env's episodes on it).
    """
    learner = ActiveLearner(
        make_proxy(task.learner, task.n_classes), make_strategy(strategy), SimulatedOracle(task.y_train),
        task.X_train, budget=Budget(task.initial, task.query_size, task.budget), seed=task.seed,
        evaluate=_val_accuracy(task), n_classes=task.n_classes, initial_strategy=task.initial_strategy,
    )
    return [float(a) for a in learner.run().column("accuracy")]


class ALEnv(gym.Env):
    """Active learning as an episodic environment (see the module docstring).

    Args:
        mode: ``"pick"``, ``"weights"`` or ``"heuristic"``.
        sampler: Task sampler (default :class:`TaskSampler` with ``max_candidates``).
        task: A fixed task instead of sampling one per episode.
        max_candidates: ``K_max``, the observation's row count in ``pick`` mode.
        reference: Strategy whose validation curve the reward is measured against.
        heuristics: Strategy names of the ``heuristic`` mode.

    Example:
        >>> from activelab.learned.tasks import TaskSampler
        >>> env = ALEnv("pick", sampler=TaskSampler(sources=("generated",), rounds=(2, 2)), max_candidates=32)
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, env.action_masks().shape
        ((960,), (32,))
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        mode: str = "pick",
        *,
        sampler: TaskSampler | None = None,
        task: Task | None = None,
        max_candidates: int = 64,
        reference: str = "margin",
        heuristics: tuple[str, ...] = ("random", "margin", "entropy", "coreset", "badge"),
    ) -> None:
        if mode not in ACTION_MODES:
            raise ValueError(f"mode must be one of {ACTION_MODES}, got {mode!r}.")
        if max_candidates < 2:
            raise ValueError(f"max_candidates must be >= 2, got {max_candidates}.")
        self.mode = mode
        self.max_candidates = int(max_candidates)
        self.sampler = sampler if sampler is not None else TaskSampler(max_candidates=self.max_candidates)
        self.fixed_task = task
        self.reference = reference
        self.heuristics = tuple(heuristics)
        for name in self.heuristics:
            make_strategy(name)  # did-you-mean errors now, not mid-episode
        if mode == "pick":
            self.observation_space = spaces.Box(_OBS_LOW, _OBS_HIGH, (self.max_candidates * N_FEATURES,), np.float32)
            self.action_space = spaces.Discrete(self.max_candidates)
        else:
            self.observation_space = spaces.Box(_OBS_LOW, _OBS_HIGH, (N_FEATURES,), np.float32)
            if mode == "weights":
                self.action_space = spaces.Box(-1.0, 1.0, (len(WEIGHT_FEATURES) + 1,), np.float32)
            else:
                self.action_space = spaces.Discrete(len(self.heuristics))
        self._ref_cache: OrderedDict[tuple[Any, ...], list[float]] = OrderedDict()
        self.engine: Engine | None = None
        self._task: Task | None = None
        self._curve: list[float] = []
        self._expected_prev: float | None = None
        self._feats: RoundFeatures | None = None
        self._cand: np.ndarray = np.empty(0, dtype=np.int64)
        self._pending: list[int] = []

    # ----------------------------------------------------------------------------- episodes
    def _reference(self, task: Task) -> list[float]:
        key = (task.name, task.seed, task.learner, task.initial, task.query_size, task.budget, len(task.X_train),
               task.initial_strategy, self.reference)
        if key not in self._ref_cache:
            self._ref_cache[key] = reference_curve(task, self.reference)
            if len(self._ref_cache) > 32:
                self._ref_cache.popitem(last=False)
        return self._ref_cache[key]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode on a new task (or the fixed one); returns ``(obs, info)``."""
        super().reset(seed=seed)
        task = self.fixed_task if self.fixed_task is not None else self.sampler.sample(self.np_random)
        if task.query_size > self.max_candidates:
            raise ValueError(
                f"task query size {task.query_size} exceeds max_candidates {self.max_candidates}; raise max_candidates."
            )
        if not task.query_size <= task.n_candidates <= self.max_candidates:
            task = dataclasses.replace(task, n_candidates=int(np.clip(task.n_candidates, task.query_size, self.max_candidates)))
        self._ref = self._reference(task)
        self._task = task
        self.engine = task_engine(task, self.reference)
        self._teach(self.engine.propose(task.initial))
        self._curve = [self.engine.refit()["accuracy"]]
        self._expected_prev = None
        self._start_round()
        return self._observation(), self._info()

    def _teach(self, indices: np.ndarray) -> None:
        """Label ``indices`` with the task's hidden labels (the simulated oracle)."""
        task, engine = self._task, self.engine
        assert task is not None and engine is not None  # internal invariant
        idx = np.asarray(indices, dtype=np.int64)
        engine.teach(Answers(idx, task.y_train[idx], np.ones(len(idx), dtype=bool)))

    def _batch_size(self) -> int:
        task, engine = self._task, self.engine
        assert task is not None and engine is not None  # internal invariant
        return min(task.query_size, task.budget - engine.pool.n_labelled, engine.pool.n_unlabelled)

    def _start_round(self) -> None:
        task, engine = self._task, self.engine
        assert task is not None and engine is not None  # internal invariant
        self._pending = []
        self._batch = self._batch_size()
        views = engine.views(("probs", "embeddings"), with_labelled=True, rng=self.np_random)
        unl_rows = views.candidates
        probs_unl = views.require("probs")[unl_rows]
        emb = views.require("embeddings")
        lab_rows = np.flatnonzero(views.labelled)
        labels = engine.pool.labels[views.indices[lab_rows]]
        glob = global_features(probs_unl, labels, task.n_classes, engine.pool.n_items, self._expected_prev)
        self._expected_prev = float(glob[1])
        cand = sample_candidates(probs_unl, task.n_candidates, self.np_random)
        ref_rows = self.np_random.choice(len(views.indices), size=min(256, len(views.indices)), replace=False)
        self._cand = views.indices[unl_rows[cand]]
        self._views = views
        self._feats = RoundFeatures(
            probs_unl[cand], emb[unl_rows[cand]], emb[lab_rows], labels, emb[ref_rows], glob, self._batch,
        )

    def _observation(self) -> np.ndarray:
        feats = self._feats
        assert feats is not None  # internal invariant
        rows = feats.observe()
        if self.mode == "pick":
            grid = np.zeros((self.max_candidates, N_FEATURES), dtype=np.float32)
            grid[: len(rows)] = rows
            obs = grid.ravel()
        else:
            obs = summary_observation(feats)
        return np.clip(obs, _OBS_LOW, _OBS_HIGH)

    def _info(self, **extra: Any) -> dict[str, Any]:
        task, engine = self._task, self.engine
        assert task is not None and engine is not None  # internal invariant
        return {
            "task": task.name,
            "n_labelled": engine.pool.n_labelled,
            "val_accuracy": self._curve[-1],
            "test_accuracy": _accuracy(engine.model, task.X_test, task.y_test),  # reporting only
            **extra,
        }

    def action_masks(self) -> np.ndarray:
        """``(K_max,)`` bool: candidates that may be picked (pick mode); all True otherwise."""
        if self.mode != "pick":
            n = self.action_space.n if isinstance(self.action_space, spaces.Discrete) else 1
            return np.ones(int(n), dtype=bool)
        mask = np.zeros(self.max_candidates, dtype=bool)
        if self._feats is not None:
            mask[: self._feats.n_candidates] = self._feats.mask
        return mask

    # --------------------------------------------------------------------------------- steps
    def _finish_round(self, chosen: np.ndarray) -> tuple[float, bool]:
        task, engine = self._task, self.engine
        assert task is not None and engine is not None  # internal invariant
        n_before = engine.pool.n_labelled
        self._teach(chosen)
        acc = engine.refit()["accuracy"]
        self._curve.append(acc)
        t = len(self._curve) - 1
        ref = self._ref[min(t, len(self._ref) - 1)]
        span = max(task.budget - task.initial, 1)
        reward = _REWARD_SCALE * (acc - ref) * (engine.pool.n_labelled - n_before) / span
        done = task.budget - engine.pool.n_labelled <= 0 or engine.pool.n_unlabelled == 0
        if not done:
            self._start_round()
        return float(reward), done

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply ``action`` (see the module docstring); returns ``(obs, reward, terminated, truncated, info)``.

        In ``pick`` mode a masked action (padding or already picked, e.g. from a random
        action-space sample) is replaced by the first valid candidate and reported as
        ``info["invalid_action"] = True``; trained policies never take it (masks or logits).
        """
        if self.engine is None or self._feats is None:
            raise RuntimeError("call reset() before step().")
        invalid = False
        if self.mode == "pick":
            a = int(action)
            mask = self.action_masks()
            if not (0 <= a < self.max_candidates and mask[a]):
                invalid = True
                a = int(np.flatnonzero(mask)[0])
            self._feats.pick(a)
            self._pending.append(int(self._cand[a]))
            if len(self._pending) < self._batch:
                return self._observation(), 0.0, False, False, self._info(invalid_action=invalid)
            chosen = np.array(self._pending)
        elif self.mode == "weights":
            chosen = self._cand[self.weighted_batch(np.asarray(action, dtype=np.float64))]
        else:
            chosen = self._heuristic_batch(int(action))
        reward, done = self._finish_round(chosen)
        return self._observation(), reward, done, False, self._info(invalid_action=invalid)

    def weighted_batch(self, weights: np.ndarray) -> np.ndarray:
        """Greedy batch of the round's candidates under linear ``weights`` (rows into the candidates).

        Score of a candidate = ``w · f`` over :data:`WEIGHT_FEATURES` plus ``w_div`` × its
        (updated) distance to the already-picked items. Cost O(b·K·D).
        """
        feats = self._feats
        assert feats is not None  # internal invariant
        w = np.clip(np.asarray(weights, dtype=np.float64).ravel(), -1, 1)
        if w.shape != (len(WEIGHT_FEATURES) + 1,):
            raise ValueError(f"weights must have shape ({len(WEIGHT_FEATURES) + 1},), got {w.shape}.")
        return weighted_greedy(feats, w, self._batch)

    def _heuristic_batch(self, action: int) -> np.ndarray:
        engine = self.engine
        assert engine is not None  # internal invariant
        if not 0 <= action < len(self.heuristics):
            raise ValueError(f"heuristic action must be in [0, {len(self.heuristics)}), got {action}.")
        return engine.propose(self._batch, strategy=make_strategy(self.heuristics[action]))

    # ----------------------------------------------------------------------------- expert
    def expert_scores(self, nll_weight: float = 0.01, max_iter: int | None = None) -> np.ndarray:
        """One-step look-ahead (pick mode): validation gain of adding each candidate to the batch.

        For every valid candidate the proxy is refitted (warm-started from the current weights)
        on the labelled items, the pending picks and that candidate with its true label, and
        scored by validation accuracy minus ``nll_weight`` × validation log-loss. Masked
        candidates get ``-inf``. Reads only the train labels of candidates and the validation
        split. ``max_iter`` caps the look-ahead fits' optimiser iterations (cheaper, approximate).
        Cost: K proxy fits.

        Returns:
            ``(K_max,)`` float64 scores (higher = better pick).
        """
        engine, task, feats = self.engine, self._task, self._feats
        if engine is None or task is None or feats is None:
            raise RuntimeError("call reset() before expert_scores().")
        out = np.full(self.max_candidates, -np.inf)
        lab = engine.pool.labelled_indices()
        base = np.concatenate([lab, np.array(self._pending, dtype=np.int64)])
        yv = task.y_val
        next_fit = stream_rng(task.seed, "model", engine.round_ + 1)  # the stream the real next fit draws from
        for row in np.flatnonzero(feats.mask):
            idx = np.append(base, self._cand[row])
            m = copy.deepcopy(cast("LogisticProxy | MLPProxy", engine.model))  # task_engine builds it on a proxy
            if max_iter is not None:
                m.max_iter = min(m.max_iter, max_iter)
            m.fit(task.X_train[idx], task.y_train[idx], rng=copy.deepcopy(next_fit))
            p = m.predict_proba(task.X_val)
            acc = float((p.argmax(axis=1) == yv).mean())
            nll = float(-np.log(np.maximum(p[np.arange(len(yv)), yv], 1e-12)).mean())
            out[row] = acc - nll_weight * nll
        return out

    @property
    def task(self) -> Task | None:
        """The current episode's task."""
        return self._task

    @property
    def curve(self) -> list[float]:
        """Validation accuracy after each round of the current episode."""
        return list(self._curve)
