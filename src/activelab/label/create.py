"""``init_project``: a new labelling project from data, with its first queue."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .project import (
    DEFAULT_PAIR_STRATEGY,
    FEATURES_FILE,
    PAIR_CLASSES,
    PROJECT_FILE,
    STORE_FILE,
    TASKS,
    Project,
    ProjectConfig,
    ProjectError,
)
from .trainer import refresh

__all__ = ["init_project"]


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def init_project(
    directory: str | os.PathLike[str],
    data: str | os.PathLike[str],
    *,
    classes: tuple[str, ...] | None = None,
    strategy: str | None = None,
    model: str = "mlp",
    features: str = "auto",
    task: str = "classify",
    seed: int = 0,
    text_column: str | None = None,
    label_column: str | None = None,
    **settings: Any,
) -> Project:
    """Create a labelling project in ``directory`` from ``data`` and fill its first queue.

    Every name is checked before anything is written: the strategy, the cold-start strategy and
    the model (and that the model gives the views the strategies need). The data are read, the
    feature rows computed once and saved, the store created with every item (and the labels the
    data came with), and the first queue proposed so the page has work at once.

    A pairs project (``task="pairs"``) asks "same group?" about pairs of items: ``strategy``
    names a pair strategy (default :data:`DEFAULT_PAIR_STRATEGY`), the model is not used, and
    ``classes`` are optional: when given they name the groups the data may come labelled with
    (image subfolders, a label column) and their number is the default ``n_clusters``; labels
    the data came with are kept for evaluation (ARI), never used as answers. It needs at least
    3 items.

    Raises:
        ProjectError: If ``directory`` already holds a project or the settings are invalid.
        UnknownNameError: For an unknown strategy or model (with a did-you-mean suggestion).
        CapabilityError: If the model cannot feed the strategy.
    """
    from .data import read_data
    from .features import compute_features
    from .store import Store

    path = Path(directory).expanduser()
    if (path / PROJECT_FILE).exists() or (path / STORE_FILE).exists():
        raise ProjectError(f"{path} already holds a labelling project; use another directory (nothing was changed).")
    if task not in TASKS:
        raise ProjectError(f"task must be one of {', '.join(TASKS)}, got {task!r}.")
    if task == "pairs":
        from ..clustering import make_pair_strategy

        strategy = strategy or DEFAULT_PAIR_STRATEGY
        make_pair_strategy(strategy)  # an unknown name fails here, with a did-you-mean
        if settings.get("n_clusters") is None and classes:
            settings["n_clusters"] = len(classes)
        cold_start = str(settings.pop("cold_start", "typiclust"))
    else:
        from ..models.base import check_capabilities
        from ..models.registry import make_model
        from ..strategies.registry import make

        strategy = strategy or "margin"
        strategy_obj = make(strategy)
        cold = make(settings.pop("cold_start", "typiclust"))
        probe_model = make_model(model, 2)
        check_capabilities(probe_model, strategy_obj.needs, strategy)
        cold_start = getattr(cold, "name", "typiclust")
    source = read_data(Path(data).expanduser().resolve(), classes=classes, text_column=text_column,
                       label_column=label_column, need_classes=task == "classify")
    if task == "pairs" and len(source.items) < 3:
        raise ProjectError(f"a pairs project needs at least 3 items to group, got {len(source.items)}.")
    config = ProjectConfig(
        data=str(source.root), data_kind=source.kind,
        classes=PAIR_CLASSES if task == "pairs" else tuple(source.classes), task=task, strategy=strategy,
        model=model, features=features, seed=seed, text_column=text_column, label_column=label_column,
        cold_start=cold_start, **settings,
    )
    rows = np.ascontiguousarray(compute_features(source, features, seed=seed), dtype=np.float32)
    if rows.ndim != 2 or len(rows) != len(source.items):
        raise ProjectError(f"features {features!r} gave an array of shape {rows.shape} for {len(source.items)} items.")
    path.mkdir(parents=True, exist_ok=True)
    np.save(path / FEATURES_FILE, rows)
    Store.create(path / STORE_FILE, list(config.classes), source.items, seed=seed, task=task)
    _write_atomic(path / PROJECT_FILE, (json.dumps(config.to_json(), indent=2) + "\n").encode())
    project = Project.open(path)
    refresh(project)
    return project
