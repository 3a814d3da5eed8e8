"""``ActiveClusterer``: rounds of solve → evaluate → select pairs → ask → store (→ update encoder).

A driver of the engine's machinery, like :class:`activelab.loop.ActiveLearner`: the same
:class:`~activelab.engine.RoundRecord` (counting stored pair answers, ``unit="n_queries"``) and
:class:`~activelab.engine.History`, the same :class:`~activelab.engine.Callback` hooks (they
receive the clusterer), atomic checkpoints after every round and exact resume (every random
choice of round ``r`` comes from :func:`~activelab.engine.stream_rng` keyed by the seed, the
stream and ``r``).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._arrays import unique_ints
from ..engine import CHECKPOINT_FILE, Callback, History, RoundLoop, RoundRecord, read_checkpoint, stream_rng, write_checkpoint
from ..errors import ActiveLabError, CheckpointError
from .candidates import CandidateConfig
from .oracle import PairAnswers
from .solvers import local_search, merge_by_answers, merge_clusters
from .store import LowRankPrior, SimilarityStore, check_pairs, n_pairs
from .strategies import ClusterState

__all__ = ["ActiveClusterer", "clustering_metrics"]

_FORMAT = 2

#: ``merge`` choices: how clusters are merged after each local search (``None``: not at all).
MERGES: dict[str | None, Any] = {None: None, "objective": merge_clusters, "answers": merge_by_answers}


def clustering_metrics(truth: np.ndarray, labels: np.ndarray, ami: bool = True) -> dict[str, float]:
    """ARI (and AMI) of ``labels`` against ``truth``, plus the number of clusters.

    Example:
        >>> clustering_metrics(np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0]))
        {'ari': 1.0, 'ami': 1.0, 'n_clusters': 2.0}
    """
    from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

    out = {"ari": float(adjusted_rand_score(truth, labels))}
    if ami:
        out["ami"] = float(adjusted_mutual_info_score(truth, labels))
    labels = np.asarray(labels)
    distinct = unique_ints(labels) if np.issubdtype(labels.dtype, np.integer) else np.unique(labels)
    out["n_clusters"] = float(len(distinct))
    return out


class ActiveClusterer(RoundLoop):
    """Active correlation clustering with pair queries.

    Args:
        strategy: A pair strategy (``select(state, k, rng) -> (k, 2)``), see
            :func:`~activelab.clustering.strategies.make_pair_strategy`.
        oracle: A pair oracle (``answer(pairs, rng) -> PairAnswers``).
        prior: Prior similarity of unqueried pairs (fixes the number of items).
        batch_size: Pairs asked per round.
        budget: Total answers to acquire (pairs asked ``tau`` times count ``tau`` times).
        seed: Run seed.
        tau: Answers allowed per pair.
        truth: Ground-truth partition for ``ari``/``ami`` (optional).
        initial_labels: Warm start of the first clustering (e.g. the k-means partition of the
            prior); default singletons.
        noise: Noise level assumed by the information-gain strategies (default: the oracle's
            ``noise`` attribute, else 0).
        graph_pairs: kNN pairs for candidates and triangles of large pools.
        candidates: :class:`~activelab.clustering.candidates.CandidateConfig`.
        n_restarts: Local-search restarts per round (restart 0 is warm-started).
        warm_start: Restart 0 starts from the previous round's clustering; ``False`` starts every
            restart from a random partition with the previous number of clusters (the paper's solver).
        max_sweeps: Local-search sweeps per restart.
        prior_weight: Multiplies the prior (the similarity of unqueried pairs, and its weight as
            one answer in each pair's running mean), in ``(0, 1]``. The paper's ±0.1 partition
            prior sums over a whole cluster, so it outweighs dozens of answers about one item;
            ``0.3`` lets the answers move items sooner (``default``'s recommendation).
        merge: After local search, merge clusters and run one more warm local search, since
            single-item moves cannot join two halves of a true cluster: ``"objective"`` merges
            clusters whose summed similarity is positive
            (:func:`~activelab.clustering.solvers.merge_clusters`, never lowers the objective),
            ``"answers"`` those whose answers say "same" at least twice more than "different"
            (:func:`~activelab.clustering.solvers.merge_by_answers`); ``None``: no merging.
        beta: Mean-field inverse temperature (``entropy``, ``eig``, ``batch_ig``). The field of
            an item sums its similarities to all others, so a large ``beta`` makes the soft
            assignments near one-hot: the model is then sure of its mistakes and information
            gain stops finding them. Default 1.0, the best of a sweep on the reproduction
            protocol (docs/benchmarks.md, "Active clustering (issue 5, helper's runs)", the β
            table under "Why they plateaued, and the fix").
        encoder: Optional :class:`~activelab.clustering.deep.DeepPrior`; after every round its
            ``update(store, rng)`` fine-tunes the encoder on the answers and the store gets the
            new prior.
        evaluate: Extra ``labels -> {"metric": value}``.
        ami: Compute AMI (slow for very many clusters).
        callbacks: :class:`~activelab.engine.Callback` objects (hooks receive this clusterer).
        checkpoint_dir: Save after every round; :meth:`run` resumes from it.

    Example:
        >>> from activelab.clustering import NoisyPairOracle, make_pair_strategy, partition_prior
        >>> truth = np.repeat([0, 1, 2], 10)
        >>> init = np.repeat([0, 1], 15)
        >>> ac = ActiveClusterer(make_pair_strategy("maxexp"), NoisyPairOracle(truth, 0.0),
        ...                      partition_prior(init), batch_size=20, budget=200, seed=0, truth=truth,
        ...                      initial_labels=init)
        >>> history = ac.run()
        >>> len(history), history[-1].n_queries
        (11, 200)
        >>> history[-1].metrics["ari"] > history[0].metrics["ari"]
        True
    """

    history: History

    def __init__(
        self,
        strategy: Any,
        oracle: Any,
        prior: LowRankPrior,
        *,
        batch_size: int,
        budget: int,
        seed: int = 0,
        tau: int = 3,
        truth: np.ndarray | None = None,
        initial_labels: np.ndarray | None = None,
        noise: float | None = None,
        graph_pairs: np.ndarray | None = None,
        candidates: CandidateConfig | None = None,
        n_restarts: int = 1,
        max_sweeps: int = 30,
        warm_start: bool = True,
        prior_weight: float = 1.0,
        merge: str | None = None,
        beta: float = 1.0,
        encoder: Any = None,
        evaluate: Callable[[np.ndarray], Mapping[str, float]] | None = None,
        ami: bool = True,
        callbacks: Sequence[Callback] = (),
        checkpoint_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        for name, value, lo in (("batch_size", batch_size, 1), ("budget", budget, 0), ("seed", seed, 0)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < lo:
                raise ValueError(f"{name} must be an int >= {lo}, got {value!r}.")
        if not callable(getattr(strategy, "select", None)):
            raise TypeError(f"strategy must have select(state, k, rng), got {type(strategy).__name__}.")
        if not callable(getattr(oracle, "answer", None)):
            raise TypeError(f"oracle must have answer(pairs, rng), got {type(oracle).__name__}.")
        if isinstance(prior_weight, bool) or not isinstance(prior_weight, (int, float)) or not 0 < prior_weight <= 1:
            raise ValueError(f"prior_weight must lie in (0, 1], got {prior_weight!r}.")
        if merge not in MERGES:
            raise ValueError(f"merge must be one of {', '.join(map(repr, MERGES))}, got {merge!r}.")
        self.prior_weight = float(prior_weight)
        self.merge = merge
        self.store = SimilarityStore(self._weighted(prior), tau)
        n = self.store.n_items
        if budget > n_pairs(n) * tau:
            raise ValueError(
                f"budget ({budget}) exceeds the {n_pairs(n) * tau} answers available "
                f"({n_pairs(n)} pairs x tau={tau}); lower it."
            )
        self.strategy = strategy
        self.oracle = oracle
        self.batch_size = int(batch_size)
        self.budget = int(budget)
        self.seed = int(seed)
        self.truth = None if truth is None else np.asarray(truth)
        if self.truth is not None and self.truth.shape != (n,):
            raise ValueError(f"truth must have shape ({n},), got {self.truth.shape}.")
        if initial_labels is None:
            self.labels = np.arange(n, dtype=np.int64)
        else:
            self.labels = np.asarray(initial_labels, dtype=np.int64)
            if self.labels.shape != (n,):
                raise ValueError(f"initial_labels must have shape ({n},), got {self.labels.shape}.")
        self.noise = float(noise if noise is not None else getattr(oracle, "noise", 0.0))
        self.graph_pairs = None if graph_pairs is None else check_pairs(graph_pairs, n, "graph_pairs")
        self.candidates = candidates or CandidateConfig()
        self.n_restarts = n_restarts
        self.warm_start = bool(warm_start)
        self.max_sweeps = max_sweeps
        self.beta = beta
        self.encoder = encoder
        self.evaluate = evaluate
        self.ami = ami
        self.history = History()
        self.round_ = 0
        self.objective = float("nan")
        self._init_loop(callbacks, checkpoint_dir)

    def _weighted(self, prior: LowRankPrior) -> LowRankPrior:
        """``prior`` times :attr:`prior_weight`."""
        if self.prior_weight == 1.0:
            return prior
        return dataclasses.replace(prior, a=prior.a * self.prior_weight, b=prior.b * self.prior_weight)

    @property
    def n_items(self) -> int:
        """Number of items."""
        return self.store.n_items

    def _strategy_name(self) -> str:
        return str(getattr(self.strategy, "name", type(self.strategy).__name__))

    def _check_pairs(self, chosen: Any, k: int) -> np.ndarray:
        name = self._strategy_name()
        pairs = np.asarray(chosen)
        if pairs.shape != (k, 2) or (k and not np.issubdtype(pairs.dtype, np.integer)):
            raise ActiveLabError(f"pair strategy {name!r} returned {pairs.shape} {pairs.dtype}, expected ({k}, 2) ints.")
        try:
            pairs = check_pairs(pairs, self.n_items)
        except ValueError as err:
            raise ActiveLabError(f"pair strategy {name!r} returned invalid pairs: {err}") from err
        keys = pairs[:, 0] * self.n_items + pairs[:, 1]
        if len(unique_ints(keys)) != k:
            raise ActiveLabError(f"pair strategy {name!r} returned duplicate pairs.")
        if k and (self.store.counts_of(pairs) >= self.store.tau).any():
            raise ActiveLabError(f"pair strategy {name!r} returned a pair already answered tau={self.store.tau} times.")
        return pairs

    def step(self) -> RoundRecord:
        """One round: solve, evaluate, and (if budget remains) select, ask and store."""
        if self.done:
            raise ActiveLabError("the run is finished; the budget is spent.")
        r = self.round_
        self._start_round(r)
        seconds: dict[str, float] = {}
        t = time.perf_counter()
        res = local_search(self.store, self.labels, rng=stream_rng(self.seed, "pair_solve", r),
                           n_restarts=self.n_restarts, max_sweeps=self.max_sweeps, warm_start=self.warm_start)
        if self.merge is not None:
            merged = MERGES[self.merge](self.store, res.labels)
            if len(unique_ints(merged)) < len(unique_ints(res.labels)):
                res = local_search(self.store, merged, rng=stream_rng(self.seed, "pair_solve", r), n_restarts=1,
                                   max_sweeps=self.max_sweeps, warm_start=True)
        self.labels, self.objective = res.labels, res.objective
        seconds["solve"] = time.perf_counter() - t
        t = time.perf_counter()
        n_q = self.store.n_queries
        metrics: dict[str, float] = {"fraction_queried": n_q / n_pairs(self.n_items), "objective": res.objective}
        if self.truth is not None:
            metrics.update(clustering_metrics(self.truth, self.labels, self.ami))
        else:
            metrics["n_clusters"] = float(self.labels.max() + 1)
        if self.evaluate is not None:
            metrics.update(self.evaluate(self.labels))
        seconds["evaluate"] = time.perf_counter() - t
        k = min(self.batch_size, self.budget - n_q)
        queried = np.empty((0, 2), dtype=np.int64)
        seconds.update(select=0.0, label=0.0, update=0.0)
        if k > 0:
            t = time.perf_counter()
            state = ClusterState(self.store, self.labels, r, self.noise, self.candidates, self.graph_pairs, self.beta)
            queried = self._check_pairs(self.strategy.select(state, k, stream_rng(self.seed, "pair_select", r)), k)
            seconds["select"] = time.perf_counter() - t
            t = time.perf_counter()
            answers = self.oracle.answer(queried, stream_rng(self.seed, "pair_oracle", r))
            if not isinstance(answers, PairAnswers):
                raise TypeError(f"oracle.answer must return PairAnswers, got {type(answers).__name__}.")
            if not np.array_equal(np.asarray(answers.pairs), queried):
                raise ValueError("the pair oracle answered other pairs than it was asked.")
            ok = np.asarray(answers.answered, dtype=bool)
            self.store.add(queried[ok], np.asarray(answers.values)[ok])
            seconds["label"] = time.perf_counter() - t
            if self.encoder is not None:
                t = time.perf_counter()
                self.encoder.update(self.store, stream_rng(self.seed, "encoder", r))
                self.store.set_prior(self._weighted(self.encoder.prior()))
                seconds["update"] = time.perf_counter() - t
            if not ok.any() and self.store.n_queries == n_q:
                self._stopped = True  # a person skipped the whole batch: stop rather than loop
        record = RoundRecord(r, n_q, queried, metrics, seconds, unit="n_queries")
        self.history.append(record)
        self.round_ = r + 1
        self._end_round(record)
        return record

    # ------------------------------------------------------------------ checkpoints
    def _fingerprint(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "kind": "clustering",
            "n_items": self.n_items,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "budget": self.budget,
            "tau": self.store.tau,
            "strategy": self._strategy_name(),
            # only when set, so that checkpoints written before these options still resume
            **({"prior_weight": self.prior_weight} if self.prior_weight != 1.0 else {}),
            **({"merge": self.merge} if self.merge is not None else {}),
        }

    def save_checkpoint(self, directory: str | os.PathLike[str]) -> Path:
        """Write the state atomically to ``directory/checkpoint.npz`` (temporary file + rename).

        The rounds' asked pairs go in one int64 array (``history_queried``, rows per round in
        the meta record), not in the JSON: a round's checkpoint then costs O(pairs asked so far)
        in binary, where converting every earlier round's pairs to JSON made a run's checkpoints
        quadratic in its rounds (40 % of a 100-round run at N = 1,000).
        """
        queried = [np.asarray(r.queried, dtype=np.int64).reshape(-1, 2) for r in self.history]
        meta = dict(
            self._fingerprint(), round=self.round_, history=[r.to_dict(queried=False) for r in self.history],
            history_queried_rows=[len(q) for q in queried],
        )
        arrays = {f"store_{k}": np.asarray(v) for k, v in self.store.state_dict().items()}
        arrays["labels"] = self.labels
        arrays["history_queried"] = np.concatenate(queried) if queried else np.empty((0, 2), np.int64)
        state_fn = getattr(self.encoder, "state_dict", None)
        objects = {"encoder": state_fn() if callable(state_fn) else None}
        return write_checkpoint(Path(directory) / CHECKPOINT_FILE, meta, arrays, objects)

    def load_checkpoint(self, directory: str | os.PathLike[str]) -> None:
        """Restore :meth:`save_checkpoint`.

        Raises:
            CheckpointError: If the file is missing, corrupt or from another run.
        """
        arrays, meta, objects = read_checkpoint(Path(directory) / CHECKPOINT_FILE, self._fingerprint())
        self.store.load_state_dict({k[len("store_"):]: v for k, v in arrays.items() if k.startswith("store_")})
        self.labels = arrays["labels"].astype(np.int64)
        if "encoder" in objects and self.encoder is not None:
            self.encoder.load_state_dict(objects["encoder"])
            self.store.set_prior(self._weighted(self.encoder.prior()))
        records = meta["history"]
        if "history_queried" in arrays:  # else each record holds its pairs (files before session 13)
            rows = [int(r) for r in meta["history_queried_rows"]]
            if len(rows) != len(records) or sum(rows) != len(arrays["history_queried"]):
                raise CheckpointError(
                    f"checkpoint {Path(directory) / CHECKPOINT_FILE} is corrupt (its rounds' pairs do not add up); "
                    "delete it to start the run afresh."
                )
            parts = np.split(arrays["history_queried"], np.cumsum(rows)[:-1]) if rows else []
            records = [dict(d, queried=q) for d, q in zip(records, parts, strict=True)]
        self.history = History(RoundRecord.from_dict(d) for d in records)
        self.round_ = int(meta["round"])
