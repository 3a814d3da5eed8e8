"""Training the pair policy of active clustering (``learned``) by DAgger with a privileged expert.

The machinery is that of the supervised ``pick`` policy (:mod:`activelab.learned.train`): roll
in with a behaviour policy, label the visited states with an expert's scores over a sample of
candidates, fit the scorer with the listwise cross-entropy towards
``softmax(expert / temperature)`` (:func:`~activelab.learned.imitation.behaviour_clone`), and
aggregate the data over iterations, rolling in with the current policy from iteration 1 on.

The expert is the ground truth of the training task: a pair is worth asking when the current
clustering gets it wrong (same cluster but different true classes, or the reverse). Its score is
1 for such a pair and 0 otherwise, so the scorer learns which answer and clustering patterns mark
a clustering error, from features that never include the items' own features.

Training tasks (:func:`sample_pair_task`) come only from sources that are **not** in the TMLR
pack (``../shared/data/acc_tmlr``): scikit-learn digits, Fashion-MNIST and MNIST-1D with random
class subsets, and Gaussian blobs with 4 to 15 clusters; 150 to 400 items; noise 0.2 or 0.4;
the paper's k-means or random start with the ±0.1 prior; batches of 0.1 % of the pairs to
``budget_fraction`` of them, as the paper's protocol.

Every random choice comes from :attr:`PairTrainConfig.seed`. Cost: ``iterations x episodes``
clustering runs of at most ``budget_fraction / 0.001`` rounds each, plus one fit per iteration.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..clustering import ActiveClusterer, NoisyPairOracle, make_pair_strategy, partition_prior
from ..clustering.strategies import ClusterState
from ..clustering.strategies.learned import POLICY_FEATURES, PairPolicy, PairScorer, policy_features, save_pair_policy
from ..clustering.strategies.registry import DEFAULT_SOLVER
from ..models.torch import torch_threads
from .imitation import behaviour_clone

__all__ = ["PAIR_SOURCES", "PairTask", "PairTrainConfig", "collect_pair_states", "sample_pair_task", "train_pair_policy"]

log = logging.getLogger(__name__)

#: Training sources; none of them is a dataset of the TMLR pack.
PAIR_SOURCES = ("digits", "fashion-mnist", "mnist1d", "blobs")


@dataclass(frozen=True)
class PairTask:
    """One training task: a true partition, a starting partition and the oracle's noise."""

    name: str
    truth: np.ndarray
    init: np.ndarray
    noise: float
    seed: int


@dataclass(frozen=True)
class PairTrainConfig:
    """Settings of :func:`train_pair_policy` (the defaults train the shipped ``pair_policy.pt``).

    Attributes:
        seed: Seed of every random choice.
        iterations: DAgger iterations (iteration 0 rolls in with ``default`` and ``maxexp``).
        episodes: Clustering runs per iteration.
        n_items: Range of items per task.
        budget_fraction: Fraction of the pairs asked per episode.
        every: Record a state every ``every`` rounds.
        sample: Candidates per recorded state (uniform, plus the roll-in's own picks).
        picks: Of which, at most this many are the roll-in policy's chosen pairs.
        temperature: Of the expert's soft targets.
        epochs: Passes over the aggregated data per iteration.
        hidden: Width of the scorer.
        max_per_item: Selection cap of the policy (pairs per item per batch).
        solver: Solver settings of the episodes, stored with the policy.
        sources: Task sources, a subset of :data:`PAIR_SOURCES`.
    """

    seed: int = 0
    iterations: int = 3
    episodes: int = 12
    n_items: tuple[int, int] = (150, 400)
    budget_fraction: float = 0.1
    every: int = 4
    sample: int = 512
    picks: int = 64
    temperature: float = 0.1
    epochs: int = 30
    hidden: int = 64
    max_per_item: int = 2
    solver: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SOLVER))
    sources: tuple[str, ...] = PAIR_SOURCES

    def __post_init__(self) -> None:
        for name in ("iterations", "episodes", "every", "sample", "epochs", "hidden", "max_per_item"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
        lo, hi = self.n_items
        if not 3 <= lo <= hi:
            raise ValueError(f"n_items must be a range (lo, hi) with 3 <= lo <= hi, got {self.n_items!r}.")
        if not 0 < self.budget_fraction <= 1:
            raise ValueError(f"budget_fraction must lie in (0, 1], got {self.budget_fraction!r}.")
        if not 0 <= self.picks <= self.sample:
            raise ValueError(f"picks must lie in [0, sample={self.sample}], got {self.picks!r}.")
        bad = [s for s in self.sources if s not in PAIR_SOURCES]
        if bad or not self.sources:
            raise ValueError(f"sources must be a non-empty subset of {PAIR_SOURCES}, got {self.sources!r}.")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}.")


@functools.lru_cache(maxsize=4)
def _source_items(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and classes of a registry source, loaded once per process (MNIST-1D is generated)."""
    from ..clustering.runner import load_items

    X, y, _ = load_items(name, 0, None)
    return X, y


def sample_pair_task(
    rng: np.random.Generator, n_range: tuple[int, int] = (150, 400), sources: tuple[str, ...] = PAIR_SOURCES
) -> PairTask:
    """A training task drawn from ``sources`` (:data:`PAIR_SOURCES`; never a TMLR pack dataset)."""
    from sklearn.cluster import KMeans

    from ..data.builtin import load_blobs

    source = str(rng.choice(sources))
    n = int(rng.integers(n_range[0], n_range[1] + 1))
    seed = int(rng.integers(0, 2**31 - 1))
    if source == "blobs":
        classes = int(rng.integers(4, 16))
        ds = load_blobs(n_items=n, n_features=int(rng.choice([2, 5, 10, 20])), n_classes=classes, seed=seed)
        X, y = ds.X.reshape(n, -1).astype(np.float32), np.asarray(ds.y, dtype=np.int64)
    else:
        X_all, y_all = _source_items(source)
        classes = int(rng.integers(3, 11))
        present = np.unique(y_all)
        keep_classes = rng.choice(present, size=min(classes, len(present)), replace=False)
        pool = np.flatnonzero(np.isin(y_all, keep_classes))
        idx = np.sort(rng.choice(pool, size=min(n, len(pool)), replace=False))
        X, y = X_all[idx], np.unique(y_all[idx], return_inverse=True)[1].astype(np.int64)
    n_true = len(np.unique(y))
    if rng.random() < 0.5:
        init = KMeans(n_true, random_state=seed % 1000, n_init=1).fit_predict(X).astype(np.int64)
        start = "kmeans"
    else:
        init = rng.integers(0, 10, len(y)).astype(np.int64)
        start = "random"
    noise = float(rng.choice([0.2, 0.4]))
    return PairTask(f"{source}/N{len(y)}/C{n_true}/{start}/noise{noise}", y, init, noise, seed)


class _Recorder:
    """Wraps a roll-in strategy; every ``every`` rounds records features and expert scores of a sample."""

    def __init__(self, inner: Any, truth: np.ndarray, config: PairTrainConfig, rng: np.random.Generator) -> None:
        self.inner = inner
        self.name = getattr(inner, "name", "rollin")
        self.truth = truth
        self.config = config
        self.rng = rng
        self.obs: list[np.ndarray] = []
        self.scores: list[np.ndarray] = []

    def select(self, state: ClusterState, k: int, rng: np.random.Generator) -> np.ndarray:
        chosen = np.asarray(self.inner.select(state, k, rng))
        if state.round_ % self.config.every == 0:
            self._record(state, chosen)
        return chosen

    def _record(self, state: ClusterState, chosen: np.ndarray) -> None:
        cfg = self.config
        cand = state.candidates(self.rng)
        own = chosen[self.rng.permutation(len(chosen))[: cfg.picks]]
        rest = cand[self.rng.choice(len(cand), size=min(cfg.sample - len(own), len(cand)), replace=False)]
        pairs = np.unique(np.concatenate([own, rest]), axis=0)
        wrong = (state.labels[pairs[:, 0]] == state.labels[pairs[:, 1]]) != (
            self.truth[pairs[:, 0]] == self.truth[pairs[:, 1]]
        )
        if not wrong.any():
            return  # nothing to imitate: the expert is indifferent
        feats = np.zeros((cfg.sample, len(POLICY_FEATURES)), dtype=np.float32)  # padding rows: valid = 0
        feats[: len(pairs)] = policy_features(state, pairs, self.rng)
        expert = np.full(cfg.sample, -np.inf)
        expert[: len(pairs)] = wrong.astype(np.float64)
        self.obs.append(feats)
        self.scores.append(expert)


def collect_pair_states(task: PairTask, rollin: Any, config: PairTrainConfig, rng: np.random.Generator) -> tuple[
        np.ndarray, np.ndarray, float]:
    """Run one episode of ``rollin`` on ``task``; the recorded (features, expert scores) and the final ARI."""
    n = len(task.truth)
    n_pairs = n * (n - 1) // 2
    rec = _Recorder(rollin, task.truth, config, rng)
    ac = ActiveClusterer(
        rec, NoisyPairOracle(task.truth, task.noise), partition_prior(task.init, 0.1),
        batch_size=max(1, math.ceil(0.001 * n_pairs)), budget=int(config.budget_fraction * n_pairs), seed=task.seed,
        truth=task.truth, initial_labels=task.init, n_restarts=5, warm_start=True, ami=False,
        prior_weight=float(config.solver.get("prior_weight", 1.0)), merge=config.solver.get("merge"),
    )
    history = ac.run()
    f = len(POLICY_FEATURES)
    obs = np.stack(rec.obs) if rec.obs else np.empty((0, config.sample, f), np.float32)
    scores = np.stack(rec.scores) if rec.scores else np.empty((0, config.sample))
    return obs, scores, float(history[-1].metrics["ari"])


def train_pair_policy(config: PairTrainConfig, out: str | Path, *, command: str = "") -> Path:
    """Train the pair policy by DAgger (module docstring) and write it to ``out``.

    Logs each iteration's episodes (task, final ARI) and loss; the file's ``meta`` holds the
    configuration, the command and the per-episode ARIs.
    """
    if not isinstance(config, PairTrainConfig):
        raise TypeError(f"config must be a PairTrainConfig, got {type(config).__name__}.")
    out = Path(out)
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(int(rng.integers(0, 2**31 - 1)))
    scorer = PairScorer(len(POLICY_FEATURES), config.hidden)
    all_obs: list[np.ndarray] = []
    all_scores: list[np.ndarray] = []
    episodes: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    with torch_threads(1):
        for it in range(config.iterations):
            tasks = [sample_pair_task(rng, config.n_items, config.sources) for _ in range(config.episodes)]
            for e, task in enumerate(tasks):
                if it == 0:
                    rollin = make_pair_strategy("default" if e % 2 == 0 else "maxexp")
                else:
                    rollin = PairPolicy.from_scorer(scorer, max_per_item=config.max_per_item, solver=config.solver)
                obs, scores, ari = collect_pair_states(task, rollin, config, np.random.default_rng(rng.integers(2**63)))
                all_obs.append(obs)
                all_scores.append(scores)
                episodes.append({"iteration": it, "task": task.name, "rollin": rollin.name, "final_ari": ari,
                                 "states": len(obs)})
                log.info("iteration %d episode %d %s (%s): final ARI %.3f, %d states", it, e, task.name, rollin.name,
                         ari, len(obs))
            scorer = PairScorer(len(POLICY_FEATURES), config.hidden)
            loss = behaviour_clone(scorer, np.concatenate(all_obs), np.concatenate(all_scores), epochs=config.epochs,
                                   temperature=config.temperature, rng=rng)
            log.info("iteration %d: %d states, loss %.4f, %.0f s", it, sum(len(o) for o in all_obs), loss,
                     time.perf_counter() - t0)
    meta = {"config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()},
            "command": command, "episodes": episodes, "seconds": time.perf_counter() - t0}
    return save_pair_policy(scorer, out, max_per_item=config.max_per_item, solver=config.solver, meta=meta)
