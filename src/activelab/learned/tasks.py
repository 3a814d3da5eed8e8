"""Tasks for training and evaluating acquisition policies: data splits, learner and AL protocol.

A :class:`Task` is one active-learning problem: a pool (train split), a reward-validation split
(the only labels rewards and the look-ahead expert may read), a test split (reporting only:
never used for rewards, features or stopping), a proxy learner family, and the protocol
(initial-set size, query size, budget, candidate count K). :class:`TaskSampler` draws tasks
from registry datasets and from generated ``make_classification`` problems with random class
counts, dimensions, separations, imbalance and label noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["EVALUATION_SETS", "PROTOCOLS", "TRAIN_SOURCES", "Task", "TaskSampler", "load_source"]

#: Sources the shipped policy is trained on. The held-out evaluation datasets (digits, mnist1d,
#: mnist, fashion-mnist, newsgroups) are deliberately absent.
TRAIN_SOURCES = ("generated", "blobs", "breast_cancer")

#: The held-out sets of ``benchmarks/learned_transfer.py`` (issue 16's declared evaluation): no
#: policy may be trained on them.
EVALUATION_SETS = ("phishing", "segment", "banana", "digits", "mnist1d", "election-tweets", "reuters-r8",
                   "reuters-r52", "newsgroups", "mnist", "fashion-mnist")


@dataclass(frozen=True)
class Task:
    """One active-learning problem.

    Attributes:
        name: Source name, e.g. ``"generated"`` or ``"blobs"``.
        X_train, y_train: The pool ``(n, D)`` and its hidden labels (revealed by the oracle).
        X_val, y_val: Reward-validation split (rewards, expert).
        X_test, y_test: Test split, for reporting only.
        n_classes: Number of classes ``C``.
        learner: Proxy family (``"logreg"`` or ``"mlp"``).
        initial: Size of the initial labelled set.
        query_size: Labels per round ``b``.
        budget: Total labels ``B``, including the initial set.
        n_candidates: Candidates shown to the policy per round ``K`` (``K >= b``).
        seed: Seed of the task's own randomness (initial set, learner init).
        initial_strategy: What picks the initial set: ``"random"`` (a uniform draw) or a
            model-free strategy name such as ``"typiclust"`` (the cold start of TCM and of a
            switch policy anchored to it).
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    learner: str
    initial: int
    query_size: int
    budget: int
    n_candidates: int
    seed: int
    initial_strategy: str = "random"

    @property
    def n_rounds(self) -> int:
        """Query rounds after the initial set."""
        return -(-(self.budget - self.initial) // self.query_size)


def _generated(rng: np.random.Generator, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification

    n_classes = int(rng.integers(2, 11))
    n_features = int(rng.integers(4, 41))
    n_informative = int(rng.integers(2, n_features + 1))
    clusters = int(rng.integers(1, 3))
    while n_classes * clusters > 2**n_informative:
        n_informative += 1
    n_features = max(n_features, n_informative)
    imbalance = rng.uniform(0.0, 1.5)  # geometric class-prior decay
    weights = np.exp(-imbalance * np.arange(n_classes) / max(1, n_classes - 1))
    weights = weights / weights.sum()
    X, y = make_classification(
        n_samples=n_items,
        n_features=n_features,
        n_informative=n_informative,
        n_redundant=int(rng.integers(0, n_features - n_informative + 1)),
        n_classes=n_classes,
        n_clusters_per_class=clusters,
        weights=list(weights),
        flip_y=float(rng.uniform(0.0, 0.1)),
        class_sep=float(rng.uniform(0.5, 2.0)),
        random_state=int(rng.integers(0, 2**31 - 1)),
    )
    return X, y


def load_source(name: str, rng: np.random.Generator, n_items: int = 1400) -> tuple[np.ndarray, np.ndarray]:
    """Features ``(n, D)`` float64 and labels ``(n,)`` of a task source.

    ``"generated"`` draws a fresh ``make_classification`` problem from ``rng``;
    ``"breast_cancer"``, ``"wine"`` and ``"iris"`` are scikit-learn's bundled sets; any other
    name is loaded from the activelab data registry (pool and test split concatenated, images
    flattened). At most ``n_items`` rows are kept (a random subset).

    Raises:
        UnknownNameError: For a name that is neither a source nor a registered dataset.
    """
    if name == "generated":
        X, y = _generated(rng, n_items)
    elif name in ("breast_cancer", "wine", "iris"):
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{name}")()
        X, y = bunch.data, bunch.target
    else:
        from ..data import load_dataset

        ds = load_dataset(name, seed=int(rng.integers(0, 2**31 - 1)))
        X, y = np.asarray(ds.X), np.asarray(ds.y)
        if ds.X_test is not None:
            X = np.concatenate([X, np.asarray(ds.X_test)])
            y = np.concatenate([y, np.asarray(ds.y_test)])
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    y = np.unique(np.asarray(y), return_inverse=True)[1].astype(np.int64)
    if len(X) > n_items:
        keep = np.sort(rng.choice(len(X), n_items, replace=False))
        X, y = X[keep], y[keep]
    return X, y


#: Task protocols of :class:`TaskSampler`.
PROTOCOLS = ("random", "deployment")


class TaskSampler:
    """Draws random :class:`Task` objects (domain randomisation for meta-training).

    Two protocols:

    * ``"random"``: ``query_sizes`` and ``rounds`` drawn per task, a random initial set of
      ``C`` to ``3C`` labels.
    * ``"deployment"``: the declared evaluation's protocol (``benchmarks/learned_transfer.py``):
      10 labels per round from an initial set of 10 (the cold regime after its first batch)
      or 20 (the warm regime) chosen by TypiClust, to 100 or 120 labels (at most half the
      pool); ``query_sizes`` and ``rounds`` are not used.

    Args:
        sources: Task sources (see :func:`load_source`), drawn uniformly.
        learners: Proxy learner families, drawn uniformly.
        query_sizes: Query sizes ``b`` to draw from.
        rounds: Inclusive range of the number of query rounds.
        max_candidates: Upper bound of ``K`` (the observation's row count).
        n_items: Rows per task before splitting (pool ≈ 60 %, validation 20 %, test 20 %).
        protocol: ``"random"`` or ``"deployment"`` (above).

    Example:
        >>> task = TaskSampler(sources=("generated",)).sample(np.random.default_rng(0))
        >>> task.budget <= len(task.X_train) and task.n_candidates >= task.query_size
        True
    """

    def __init__(
        self,
        sources: Sequence[str] = TRAIN_SOURCES,
        learners: Sequence[str] = ("logreg", "mlp"),
        query_sizes: Sequence[int] = (1, 2, 4, 5, 8, 10),
        rounds: tuple[int, int] = (6, 14),
        max_candidates: int = 64,
        n_items: int = 1000,
        protocol: str = "random",
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}.")
        if not sources:
            raise ValueError("sources is empty; give at least one task source, e.g. ('generated',).")
        if not learners:
            raise ValueError("learners is empty; give 'logreg' and/or 'mlp'.")
        if min(query_sizes) < 1 or max(query_sizes) > max_candidates:
            raise ValueError(f"query_sizes must lie in [1, max_candidates={max_candidates}], got {tuple(query_sizes)}.")
        if rounds[0] < 1 or rounds[1] < rounds[0]:
            raise ValueError(f"rounds must be (low, high) with 1 <= low <= high, got {rounds}.")
        self.sources = tuple(sources)
        self.learners = tuple(learners)
        self.query_sizes = tuple(int(b) for b in query_sizes)
        self.rounds = rounds
        self.max_candidates = int(max_candidates)
        self.n_items = int(n_items)
        self.protocol = protocol

    def sample(self, rng: np.random.Generator, source: str | None = None) -> Task:
        """Draw one task (every random choice from ``rng``)."""
        name = source or self.sources[int(rng.integers(len(self.sources)))]
        X, y = load_source(name, rng, self.n_items)
        n = len(X)
        order = rng.permutation(n)
        n_val = n_test = max(20, n // 5)
        val, test, train = order[:n_val], order[n_val : n_val + n_test], order[n_val + n_test :]
        mu, sd = X[train].mean(axis=0), X[train].std(axis=0)
        sd[sd == 0] = 1.0
        Xs = (X - mu) / sd
        n_classes = int(y.max()) + 1
        n_classes = max(n_classes, 2)
        initial_strategy = "random"
        if self.protocol == "deployment":
            b, initial, initial_strategy = 10, (10, 20)[int(rng.integers(2))], "typiclust"
            budget = min({10: 100, 20: 120}[initial], len(train) // 2)
        else:
            b = self.query_sizes[int(rng.integers(len(self.query_sizes)))]
            n_rounds = int(rng.integers(self.rounds[0], self.rounds[1] + 1))
            initial = int(rng.integers(max(2, n_classes), 3 * n_classes + 1))
            budget = min(initial + b * n_rounds, len(train) // 2)
        low_k = min(self.max_candidates, max(2 * b, 16))
        k = int(rng.integers(low_k, self.max_candidates + 1))
        return Task(
            name=name,
            X_train=Xs[train], y_train=y[train],
            X_val=Xs[val], y_val=y[val],
            X_test=Xs[test], y_test=y[test],
            n_classes=n_classes,
            learner=self.learners[int(rng.integers(len(self.learners)))],
            initial=initial, query_size=b, budget=budget, n_candidates=k,
            seed=int(rng.integers(0, 2**31 - 1)), initial_strategy=initial_strategy,
        )
