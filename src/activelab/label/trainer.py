"""One refresh of a labelling project: refit on the answers, propose, swap in a new queue.

The trainer process (:mod:`activelab.label.worker`) calls :func:`refresh` when answers arrive;
``activelab label init`` calls it once for the first queue. A refresh
rebuilds an :class:`~activelab.engine.Engine` from the store's answers (the store is the only
source of truth, so a crash or an undo loses nothing), marks the items leased to annotators as
outstanding so they are not proposed again, refits, and proposes the next ``batch`` items:

- while fewer labels than classes exist, with the cold-start strategy on the feature rows
  (TypiClust by default: the most typical items of the largest uncovered clusters);
- then with the project's strategy.

The new queue and a model version (labels, cross-validated accuracy, seconds) are written in one
transaction; the server keeps serving the old queue until then. Cost of a refresh: one fit, the
strategy's proposal over the unlabelled rows, and a k-fold cross-validation (k ≤ 5) on the labels.

A pairs project (:func:`refresh_pairs`) trains no model: it clusters the items from the answered
pairs (a k-means prior of the feature rows plus the answers, local search) and lets its pair
strategy choose the next pairs from that clustering; the version records the number of clusters,
the objective and, when the data came labelled, the ARI against those groups.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .._arrays import unique_ints
from ..engine import Engine
from ..models.registry import make_model
from ..oracles import Answers
from ..strategies.registry import make
from .project import DEFAULT_N_CLUSTERS, Project

__all__ = ["cluster_pairs", "cross_validated_accuracy", "pair_prior", "refresh", "refresh_pairs"]

log = logging.getLogger(__name__)



def _model(project: Project) -> Any:
    return make_model(project.config.model, len(project.config.classes), epochs=project.config.epochs)


def cross_validated_accuracy(project: Project, indices: np.ndarray, labels: np.ndarray, folds: int = 5) -> float | None:
    """Stratified k-fold accuracy of the project's model on the labelled rows (None if too few labels).

    ``k = min(folds, smallest class count)``; None when k < 2 or a class has no label yet.
    Cost: k fits on ``(k-1)/k`` of the labels and predictions on the rest.
    """
    from sklearn.model_selection import StratifiedKFold

    counts = np.bincount(labels, minlength=len(project.config.classes))
    k = int(min(folds, counts.min())) if len(labels) else 0
    if k < 2:
        return None
    X = np.asarray(project.features[indices])
    correct = 0
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=project.config.seed)
    for fold, (train, test) in enumerate(splitter.split(X, labels)):
        model = _model(project)
        model.fit(X[train], labels[train], rng=np.random.default_rng([project.config.seed, 1000, fold]))
        correct += int((np.asarray(model.predict_proba(X[test])).argmax(axis=1) == labels[test]).sum())
    return correct / len(labels)


def refresh(project: Project, *, now: float | None = None) -> int:
    """Refit on the store's answers, propose the next queue and record a model version; returns it.

    Skips and "unsure" answers make an item ask-never-again for the model (the engine skips it);
    the items leased to annotators are outstanding, so the new queue does not hold them. A pairs
    project refreshes with :func:`refresh_pairs` instead.
    """
    if project.config.task == "pairs":
        return refresh_pairs(project, now=now)
    t0 = time.perf_counter()
    cfg, store = project.config, project.store
    n_classes = len(cfg.classes)
    idx, labels, kinds = store.effective_answers()
    kinds = np.asarray(kinds)
    is_label = kinds == "label"
    lab_idx, lab_y = idx[is_label].astype(np.int64), labels[is_label].astype(np.int64)
    engine = Engine(
        _model(project), make(cfg.strategy), project.features, seed=cfg.seed, n_classes=n_classes,
        initial_strategy=make(cfg.cold_start),
    )
    answered = np.ones(len(idx), dtype=bool)
    answered[~is_label] = False
    if len(idx):
        engine.teach(Answers(idx.astype(np.int64), np.where(is_label, labels, 0).astype(np.int64), answered))
    leased = store.index_of([item["id"] for item in store.leased_items(now=now)])
    free_leased = [i for i in np.asarray(leased, dtype=np.int64) if engine.pool.unlabelled_mask[i]]
    if free_leased:
        engine.pool.mark_pending(np.asarray(free_leased, dtype=np.int64))
    k = min(cfg.batch, engine.pool.n_unlabelled)
    seen_classes = len(np.unique(lab_y))
    phase = "strategy" if seen_classes >= n_classes else "cold start"
    chosen = np.empty(0, dtype=np.int64)
    if k > 0:
        if len(lab_idx) == 0:
            chosen = engine.propose(k)  # no labels at all: the initial (cold-start) strategy on the features
        elif phase == "cold start":
            chosen = engine.propose(k, strategy=_cold_start_on_features(cfg.cold_start))
        else:
            chosen = engine.propose(k)
    t_propose = time.perf_counter() - t0
    cv = cross_validated_accuracy(project, lab_idx, lab_y)
    scores = np.linspace(1.0, 0.0, num=len(chosen), endpoint=False) if len(chosen) else np.empty(0)
    metrics = {"cv_accuracy": cv} if cv is not None else {}
    info = {
        "phase": phase, "strategy": cfg.strategy if phase == "strategy" else cfg.cold_start,
        "n_skipped": int((~is_label).sum()), "seconds_propose": t_propose, "seconds": time.perf_counter() - t0,
        "last_seq": int(store.last_seq()),
    }
    version = int(store.add_model(int(len(lab_idx)), int(len(idx)), metrics, info, now=now))
    store.replace_queue(chosen, scores, version, now=now)
    log.info("model %d: %d labels, phase %s, queue %d, cv accuracy %s, %.2f s", version, len(lab_idx), phase,
             len(chosen), "n/a" if cv is None else f"{cv:.3f}", info["seconds"])
    return version


# --------------------------------------------------------------------------- pairs projects


# What a pairs project derives from its feature rows alone (the k-means prior, the kNN graph):
# the rows never change, so a trainer computes each once, not at every refresh.
_FROM_FEATURES: dict[tuple[str, str, int | None, int], Any] = {}


def _from_features(project: Project, what: str, compute: Callable[[], Any]) -> Any:
    key = (str(project.directory.resolve()), what, project.config.n_clusters, project.config.seed)
    if key not in _FROM_FEATURES:
        _FROM_FEATURES[key] = compute()
    return _FROM_FEATURES[key]


def pair_prior(project: Project) -> tuple[Any, np.ndarray]:
    """The prior of unasked pairs and its partition: ±0.1 from a k-means partition of the feature rows.

    ``k = n_clusters`` (default :data:`~activelab.label.project.DEFAULT_N_CLUSTERS`, at most the
    number of items), drawn from the ``prior`` stream of the project's seed, as the clustering
    runner's ``make_prior("kmeans", ...)``: the same partition at every refresh, so it is computed
    once per process (neither the prior nor the partition is modified by its users).
    """
    from ..clustering.runner import make_prior
    from ..engine import stream_rng

    def compute() -> tuple[Any, np.ndarray]:
        cfg = project.config
        X = np.array(project.features, dtype=np.float32)  # a writable copy of the memory-mapped rows
        prior, start = make_prior("kmeans", X, cfg.n_clusters or DEFAULT_N_CLUSTERS, stream_rng(cfg.seed, "prior"))
        if start is None:  # never for "kmeans"
            raise RuntimeError("the kmeans prior gave no partition.")
        return prior, start

    result: tuple[Any, np.ndarray] = _from_features(project, "prior", compute)
    return result


def cluster_pairs(project: Project, round_: int) -> dict[str, Any]:
    """Cluster the base items from every answered pair: ``{labels, objective, store, start, answers}``.

    A :class:`~activelab.clustering.SimilarityStore` over the base items holds the k-means prior
    (:func:`pair_prior`) and each pair's current answer (+1 same, −1 different; skips and "unsure"
    are left out), one answer per pair (``tau = 1``); local search, warm-started from the prior's
    partition, with the ``pair_solve`` stream of ``round_``. Cost: one k-means and one local search,
    ``O(sweeps (N r K + q))`` for q answered pairs.
    """
    from ..clustering import SimilarityStore, local_search
    from ..engine import stream_rng

    store = project.store
    pairs, labels, kinds = store.pair_answers()
    prior, start = pair_prior(project)
    sim = SimilarityStore(prior, tau=1)
    use = np.asarray(kinds) == "label"
    if use.any():
        sim.add(pairs[use], np.where(labels[use] == 1, 1.0, -1.0))
    res = local_search(sim, start, rng=stream_rng(project.config.seed, "pair_solve", round_))
    return {"labels": res.labels, "objective": float(res.objective), "store": sim, "start": start,
            "answers": (pairs, labels, kinds)}


def _pair_keys(pairs: np.ndarray, n: int) -> np.ndarray:
    p = np.sort(np.asarray(pairs, dtype=np.int64).reshape(-1, 2), axis=1)
    keys: np.ndarray = p[:, 0] * np.int64(n) + p[:, 1]
    return keys


def _select_pairs(project: Project, solved: dict[str, Any], k: int, exclude: np.ndarray, round_: int) -> np.ndarray:
    """``k`` pairs from the project's pair strategy, none answered nor in ``exclude`` (keys), best first."""
    from ..clustering import ClusterState, make_pair_strategy
    from ..clustering.candidates import CandidateConfig, knn_pairs
    from ..clustering.store import n_pairs
    from ..engine import stream_rng
    from ..errors import PoolExhaustedError

    cfg = project.config
    sim = solved["store"]
    n = sim.n_items
    left = n_pairs(n) - sim.n_queried_pairs
    want = min(k + len(exclude), left)
    if want <= 0:
        return np.empty((0, 2), dtype=np.int64)
    config = CandidateConfig()
    graph = None if config.exhaustive(n) else _from_features(
        project, "knn", lambda: knn_pairs(np.array(project.features, dtype=np.float32)))
    state = ClusterState(sim, solved["labels"], round_, 0.0, config, graph)
    strategy = make_pair_strategy(cfg.strategy)
    rng = stream_rng(cfg.seed, "pair_select", round_)
    try:
        chosen = np.asarray(strategy.select(state, want, rng), dtype=np.int64).reshape(-1, 2)
    except PoolExhaustedError:  # a large pool with fewer candidates than asked: take what there is
        want = min(want, len(state.candidates(rng)))
        chosen = np.empty((0, 2), dtype=np.int64)
        if want:
            chosen = np.asarray(strategy.select(state, want, rng), dtype=np.int64).reshape(-1, 2)
    chosen = np.sort(chosen, axis=1)
    keep = ~np.isin(_pair_keys(chosen, n), exclude)
    return chosen[keep][:k]


def refresh_pairs(project: Project, *, now: float | None = None) -> int:
    """A pairs project's refresh: cluster from the answers, choose the next pairs, record a version.

    The pair strategy (``cfg.strategy``, ``maxexp`` by default) sees a
    :class:`~activelab.clustering.ClusterState` of the clustering of :func:`cluster_pairs`; it
    draws from the ``pair_select`` stream of the new version. Pairs answered (a skipped or unsure
    pair too) or leased to an annotator are not proposed again. The chosen pairs become pair items
    (:meth:`~activelab.label.store.Store.add_pair_items`) and replace the queue. The version's
    metrics: ``n_clusters``, ``objective``, and ``ari`` against the groups the data came with when
    every item has one.
    """
    from ..clustering.learner import clustering_metrics

    t0 = time.perf_counter()
    cfg, store = project.config, project.store
    latest = store.latest_model()
    round_ = (int(latest["version"]) if latest else 0) + 1
    last_seq = int(store.last_seq())
    solved = cluster_pairs(project, round_)
    pairs, labels, kinds = solved["answers"]
    n = store.n_items
    is_label = np.asarray(kinds) == "label"
    leased = [item for item in store.leased_items(now=now) if item["idx"] >= n]
    leased_pairs = np.asarray([(d["a"], d["b"]) for d in store.items_by_index([i["idx"] for i in leased])],
                              dtype=np.int64).reshape(-1, 2)
    exclude = unique_ints(np.concatenate([_pair_keys(pairs[~is_label], n), _pair_keys(leased_pairs, n)]))
    t_solve = time.perf_counter() - t0
    chosen = _select_pairs(project, solved, cfg.batch, exclude, round_)
    t_select = time.perf_counter() - t0 - t_solve
    labels_now = solved["labels"]
    metrics: dict[str, Any] = {"n_clusters": int(labels_now.max()) + 1, "objective": solved["objective"]}
    truth = store.given_labels()
    if len(truth) and (truth >= 0).all():
        metrics.update(ari=clustering_metrics(truth, labels_now, ami=False)["ari"])
    info = {
        "phase": "pairs", "strategy": cfg.strategy, "n_same": int((labels[is_label] == 1).sum()),
        "n_different": int((labels[is_label] == 0).sum()), "n_skipped": int((~is_label).sum()),
        "seconds_solve": t_solve, "seconds_select": t_select, "seconds": time.perf_counter() - t0, "last_seq": last_seq,
    }
    ids = store.add_pair_items(chosen)
    version = int(store.add_model(int(is_label.sum()), int(len(kinds)), metrics, info, now=now))
    scores = np.linspace(1.0, 0.0, num=len(ids), endpoint=False) if ids else np.empty(0)
    store.replace_queue(store.index_of(ids), scores, version, now=now)
    log.info("model %d: %d pair answers, %d clusters, objective %.3f, ari %s, queue %d, %.2f s", version,
             int(is_label.sum()), metrics["n_clusters"], metrics["objective"],
             f"{metrics['ari']:.3f}" if "ari" in metrics else "n/a", len(ids), info["seconds"])
    return version


def _cold_start_on_features(name: str) -> Any:
    """The cold-start strategy, reading the feature rows themselves (not a barely trained model's)."""
    try:
        return make(name, space="input")
    except TypeError:  # a cold-start strategy without a `space` option reads its own views
        return make(name)
