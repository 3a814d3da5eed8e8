"""The background trainer of a labelling project: refit, propose, swap in a new queue.

One process per served project (started by the server, never inside a request). It polls the
store, and refreshes when ``retrain_answers`` new answers arrived, when ``retrain_seconds``
passed since the first answer its model has not seen, or when the queue runs short. A refresh
rebuilds an :class:`~activelab.engine.Engine` from the store's answers (the store is the only
source of truth, so a crash or an undo loses nothing), marks the items leased to annotators as
outstanding so they are not proposed again, refits, and proposes the next ``batch`` items:

- while fewer labels than classes exist, with the cold-start strategy on the feature rows
  (TypiClust by default: the most typical items of the largest uncovered clusters);
- then with the project's strategy.

The new queue and a model version (labels, cross-validated accuracy, seconds) are written in one
transaction; the server keeps serving the old queue until then. Cost of a refresh: one fit, the
strategy's proposal over the unlabelled rows, and a k-fold cross-validation (k ≤ 5) on the labels.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from ..engine import Engine
from ..models.registry import make_model
from ..oracles import Answers
from ..strategies.registry import make
from .project import Project

__all__ = ["cross_validated_accuracy", "refresh", "run_worker"]

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
    the items leased to annotators are outstanding, so the new queue does not hold them.
    """
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


def _cold_start_on_features(name: str) -> Any:
    """The cold-start strategy, reading the feature rows themselves (not a barely trained model's)."""
    try:
        return make(name, space="input")
    except TypeError:  # a cold-start strategy without a `space` option reads its own views
        return make(name)


def _die_with_parent() -> None:
    """Exit when the server that started this process is gone (Linux parent-death signal + a watchdog)."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
        except OSError:
            pass  # no libc by that name: the watchdog below still ends the process
    if os.getppid() != parent:
        os._exit(0)

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(0)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True, name="parent-watchdog").start()


def _yield_to_the_server() -> None:
    """Train on one thread at a lower priority, so requests keep their core while the model refits."""
    import torch

    torch.set_num_threads(1)
    try:
        os.nice(10)
    except OSError:
        pass  # not permitted here: the trainer then shares the cores evenly


def run_worker(directory: str | os.PathLike[str], *, poll_seconds: float = 0.25, max_refreshes: int | None = None) -> None:
    """Serve one project's training until the parent process ends (or ``max_refreshes``, for tests).

    Errors inside a refresh are logged with their traceback to ``DIR/worker.log`` and retried at
    the next trigger; the process itself keeps going.
    """
    path = Path(directory)
    logging.basicConfig(
        filename=str(path / "worker.log"), level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
    )
    project = Project.open(path)
    cfg, store = project.config, project.store
    seen = int(store.last_seq())
    latest = store.latest_model()
    if latest is not None:
        seen = int(latest.get("info", {}).get("last_seq", seen))
    first_unseen: float | None = None
    last_refresh = time.monotonic()
    refreshes = 0
    while max_refreshes is None or refreshes < max_refreshes:
        try:
            last = int(store.last_seq())
            new = store.answers_since(seen)
            if new and first_unseen is None:
                first_unseen = time.monotonic()
            free = store.free_queue_size()
            offerable = store.n_items - store.answer_count() - len(store.leased_items())
            short = free < max(1, cfg.batch // 2) and offerable > free and time.monotonic() - last_refresh > 5.0
            due = (
                new >= cfg.retrain_answers
                or (new and first_unseen is not None and time.monotonic() - first_unseen >= cfg.retrain_seconds)
                or short
            )
            if due:
                refresh(project)
                seen, first_unseen, last_refresh = last, None, time.monotonic()
                refreshes += 1
        except Exception:  # noqa: BLE001  (the trainer must outlive one bad refresh; it is logged in full)
            log.error("refresh failed:\n%s", traceback.format_exc())
            time.sleep(2.0)
        time.sleep(poll_seconds)


def main(argv: list[str] | None = None) -> None:
    """``python -m activelab.label.worker DIR``: the process the server starts."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m activelab.label.worker PROJECT_DIR")
    _die_with_parent()
    _yield_to_the_server()
    run_worker(args[0])


if __name__ == "__main__":
    main()
