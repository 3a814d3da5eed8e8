"""Exports of a labelling project: the labels, the model versions and the fitted model; Label Studio tasks.

A pairs project exports its pair answers and the clustering of every answer instead (no model).
"""

from __future__ import annotations

import csv
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from .project import Project

__all__ = ["export_csv", "export_labelstudio", "export_pairs_csv", "fit_final_model", "load_model"]


def fit_final_model(project: Project) -> object:
    """The project's model fitted on every current label (the same model and seed as the trainer)."""
    from ..models.registry import make_model

    idx, labels, kinds = project.store.effective_answers()
    keep = np.asarray(kinds) == "label"
    model = make_model(project.config.model, len(project.config.classes), epochs=project.config.epochs)
    if keep.any():
        rows = np.asarray(idx[keep], dtype=np.int64)
        model.fit(np.asarray(project.features[rows]), np.asarray(labels[keep], dtype=np.int64),
                  rng=np.random.default_rng([project.config.seed, 1, 0]))
    return model


def _atomic_text(path: Path, write: Callable[[TextIO], object]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", newline="") as fh:
        write(fh)
    os.replace(tmp, path)


def export_csv(project: Project, out: str | os.PathLike[str]) -> list[Path]:
    """Write ``out`` (one row per answered item: id, label, class, kind, annotator, time), ``<stem>_models.csv``
    (one row per model version) and ``<stem>_model.pkl`` (the model fitted on every label; a pickle:
    load it only from a source you trust). Returns the paths written.

    A pairs project writes :func:`export_pairs_csv` instead (no model).
    """
    if project.config.task == "pairs":
        return export_pairs_csv(project, out)
    out = Path(out).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    classes = list(project.config.classes)
    latest: dict[str, dict[str, Any]] = {}
    for a in project.store.export():
        latest[str(a["id"])] = a  # events in order: the last one per item is its answer
    rows = sorted(latest.values(), key=lambda a: float(a["time"]))

    def labels(fh: TextIO) -> None:
        w = csv.writer(fh)
        w.writerow(["id", "label", "class", "kind", "annotator", "time"])
        for a in rows:
            label = int(a["label"])
            w.writerow([a["id"], label, classes[label] if label >= 0 else "", a["kind"], a["annotator"], a["time"]])

    _atomic_text(out, labels)
    models_path = out.with_name(out.stem + "_models.csv")

    def models(fh: TextIO) -> None:
        w = csv.writer(fh)
        w.writerow(["version", "time", "n_labelled", "n_answers", "cv_accuracy", "phase", "strategy"])
        for m in project.store.models():
            w.writerow([m["version"], m["time"], m["n_labelled"], m["n_answers"], m["metrics"].get("cv_accuracy", ""),
                        m["info"].get("phase", ""), m["info"].get("strategy", "")])

    _atomic_text(models_path, models)
    model_path = out.with_name(out.stem + "_model.pkl")
    model = fit_final_model(project)
    state_fn = getattr(model, "state_dict", None)
    blob = {
        "format": 1, "model": project.config.model, "classes": classes, "epochs": project.config.epochs,
        # a registry model is rebuilt from its name and loaded from its state (load_model)
        "state": state_fn() if callable(state_fn) else None, "object": None if callable(state_fn) else model,
    }
    tmp = model_path.with_name(f".{model_path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        pickle.dump(blob, fh)
    os.replace(tmp, model_path)
    return [out, models_path, model_path]


def load_model(path: str | os.PathLike[str]) -> object:
    """The fitted model that :func:`export_csv` wrote (a pickle: open only files you trust).

    Example: ``load_model("labels_model.pkl").predict_proba(features)``.
    """
    from ..models.registry import make_model

    with open(path, "rb") as fh:
        blob = pickle.load(fh)  # the user's own export
    if not isinstance(blob, dict) or blob.get("format") != 1:
        raise ValueError(f"{path} is not a model exported by `activelab label export`.")
    if blob["object"] is not None:
        return blob["object"]
    model = make_model(blob["model"], len(blob["classes"]), epochs=blob["epochs"])
    model.load_state_dict(blob["state"])  # type: ignore[attr-defined]  # state_dict models only reach here
    return model


def export_pairs_csv(project: Project, out: str | os.PathLike[str]) -> list[Path]:
    """A pairs project's export: ``out``, ``<stem>_clusters.csv`` and ``<stem>_models.csv``; returns the paths.

    - ``out``: one row per answered pair (its current answer): ``id, item_a, item_b, label,
      answer, kind, annotator, time`` (``answer``: ``same`` / ``different``, empty for a skip or
      "unsure"; label 1 = same, 0 = different, −1 skip, −2 unsure);
    - ``<stem>_clusters.csv``: ``id, cluster`` for every item: the clustering of every answer
      (:func:`~activelab.label.worker.cluster_pairs`: the k-means prior plus the answers, local search);
    - ``<stem>_models.csv``: one row per version: ``version, time, n_labelled, n_answers,
      n_clusters, objective, ari, strategy``.
    """
    from .trainer import cluster_pairs

    out = Path(out).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    store = project.store
    classes = list(project.config.classes)
    ends = {p["id"]: (p["a_id"], p["b_id"]) for p in store.pair_items()}
    latest: dict[str, dict[str, Any]] = {}
    for a in store.export():
        latest[str(a["id"])] = a  # events in order: the last one per pair is its answer
    rows = sorted(latest.values(), key=lambda a: float(a["time"]))

    def answers(fh: TextIO) -> None:
        w = csv.writer(fh)
        w.writerow(["id", "item_a", "item_b", "label", "answer", "kind", "annotator", "time"])
        for a in rows:
            label = int(a["label"])
            item_a, item_b = ends[str(a["id"])]
            w.writerow([a["id"], item_a, item_b, label, classes[label] if label >= 0 else "", a["kind"], a["annotator"],
                        a["time"]])

    _atomic_text(out, answers)
    models = store.models()
    solved = cluster_pairs(project, (models[-1]["version"] if models else 0) + 1)
    ids = store.id_of(np.arange(store.n_items))
    clusters_path = out.with_name(out.stem + "_clusters.csv")

    def clusters(fh: TextIO) -> None:
        w = csv.writer(fh)
        w.writerow(["id", "cluster"])
        for item_id, cluster in zip(ids, solved["labels"].tolist(), strict=True):
            w.writerow([item_id, cluster])

    _atomic_text(clusters_path, clusters)
    models_path = out.with_name(out.stem + "_models.csv")

    def versions(fh: TextIO) -> None:
        w = csv.writer(fh)
        w.writerow(["version", "time", "n_labelled", "n_answers", "n_clusters", "objective", "ari", "strategy"])
        for m in models:
            w.writerow([m["version"], m["time"], m["n_labelled"], m["n_answers"], m["metrics"].get("n_clusters", ""),
                        m["metrics"].get("objective", ""), m["metrics"].get("ari", ""), m["info"].get("strategy", "")])

    _atomic_text(models_path, versions)
    return [out, clusters_path, models_path]


def export_labelstudio(project: Project, out: str | os.PathLike[str]) -> list[Path]:
    """Write Label Studio tasks for every unanswered item, scored by the current queue (higher = ask first)."""
    import json

    if project.config.task == "pairs":
        raise ValueError("Label Studio tasks are written for classify projects; export a pairs project as csv "
                         "(its answers and the clustering).")

    from .data import ItemRecord
    from .labelstudio import to_labelstudio_tasks

    out = Path(out).expanduser()
    store = project.store
    idx, _, _ = store.effective_answers()
    answered = set(np.asarray(idx).tolist())
    items = [i for i in store.items_by_index(np.arange(store.n_items)) if int(i["idx"]) not in answered]
    queue = {k: v for k, v in store.queue_scores().items() if v is not None}
    records = [ItemRecord(id=i["id"], kind=i["kind"], text=i.get("text"), path=i.get("path")) for i in items]
    tasks = to_labelstudio_tasks(records, queue)  # images: Label Studio's local-files URLs under the data folder
    _atomic_text(out, lambda fh: json.dump(tasks, fh, indent=1))
    return [out]
