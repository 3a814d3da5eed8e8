"""A labelling project: one directory holding its settings, the SQLite store and the cached features.

```
DIR/project.json    the settings (ProjectConfig), written once by ``activelab label init``
DIR/labels.sqlite   items, append-only answers, leases, the queue, model versions (label.store)
DIR/features.npy    (n_items, d) float32 feature rows, computed once (label.features)
DIR/worker.log      what the background trainer did (one line per refresh, errors in full)
```

The store is the only source of truth for answers: the trainer rebuilds its engine from the
answers it reads, so nothing a person answered depends on a process staying alive.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ActiveLabError
from .trainer import DEFAULT_N_CLUSTERS

__all__ = [
    "DEFAULT_N_CLUSTERS",
    "DEFAULT_PAIR_STRATEGY",
    "FEATURES_FILE",
    "PAIR_CLASSES",
    "PROJECT_FILE",
    "STORE_FILE",
    "TASKS",
    "Project",
    "ProjectConfig",
    "ProjectError",
    "init_project",
]

PROJECT_FILE = "project.json"
STORE_FILE = "labels.sqlite"
FEATURES_FILE = "features.npy"
#: What a project asks people: a class per item, or "same group?" about pairs.
TASKS = ("classify", "pairs")
#: The classes of a pairs project (label 1 = same group, 0 = different).
PAIR_CLASSES = ("different", "same")
#: The pair strategy of a pairs project unless ``--strategy`` names another.
DEFAULT_PAIR_STRATEGY = "maxexp"
#: Clusters of the k-means prior of a pairs project without ``n_clusters`` or ``--classes``.
_FORMAT = 1


class ProjectError(ActiveLabError, ValueError):
    """A labelling project cannot be created or opened as asked (the message says why and what to do)."""


@dataclass(frozen=True)
class ProjectConfig:
    """The settings of a labelling project (``DIR/project.json``).

    Attributes:
        data: Absolute path of the data (a folder of images, a CSV/JSONL text file, ``.npz``/``.csv``).
        data_kind: ``"arrays"``, ``"images"`` or ``"text"``.
        classes: The class names; answers are their indices (−1 = skip, −2 = unsure). A pairs
            project's are :data:`PAIR_CLASSES` (``different``, ``same``).
        task: ``"classify"``, or ``"pairs"``: "same group?" about pairs of items, chosen by a pair
            strategy from the current clustering (see :mod:`activelab.label.worker`).
        strategy: Registered strategy that chooses what to ask once every class has a label (a
            pairs project: a pair strategy of :func:`~activelab.clustering.make_pair_strategy`).
        cold_start: Strategy used while fewer labels than classes exist (on the feature rows).
        model: Registered model name, trained on the feature rows.
        features: How the feature rows were made (``auto``, ``pixels``, ``tfidf``, ``minilm``,
            ``module:function``).
        seed: Seed of the engine's random streams.
        batch: Items the trainer puts in the queue per refresh.
        retrain_answers: Refresh after this many new answers ...
        retrain_seconds: ... or this many seconds after the first answer the model has not seen.
        lease_seconds: How long an item given to an annotator stays theirs.
        epochs: Training epochs of torch models (``None``: the model's default).
        text_column: The text column of CSV/JSONL data, when given.
        label_column: The label column, when given.
        n_clusters: Pairs projects: the clusters of the k-means partition behind the prior of
            unasked pairs (``None``: :data:`DEFAULT_N_CLUSTERS`).
    """

    data: str
    data_kind: str
    classes: tuple[str, ...]
    task: str = "classify"
    strategy: str = "margin"
    cold_start: str = "typiclust"
    model: str = "mlp"
    features: str = "auto"
    seed: int = 0
    batch: int = 20
    retrain_answers: int = 10
    retrain_seconds: float = 20.0
    lease_seconds: float = 600.0
    epochs: int | None = None
    text_column: str | None = None
    label_column: str | None = None
    n_clusters: int | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ProjectError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}.")
        if self.task == "pairs" and tuple(self.classes) != PAIR_CLASSES:
            raise ProjectError(f"a pairs project's classes are {list(PAIR_CLASSES)}, got {list(self.classes)}.")
        if self.n_clusters is not None and (
            not isinstance(self.n_clusters, int) or isinstance(self.n_clusters, bool) or self.n_clusters < 1
        ):
            raise ProjectError(f"n_clusters must be an int >= 1, got {self.n_clusters!r}.")
        if len(self.classes) < 2:
            raise ProjectError(f"a project needs at least 2 classes, got {list(self.classes)}; pass --classes a,b,...")
        if len(set(self.classes)) != len(self.classes):
            raise ProjectError(f"class names must be distinct, got {list(self.classes)}.")
        for name, value, lo in (("batch", self.batch, 1), ("retrain_answers", self.retrain_answers, 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < lo:
                raise ProjectError(f"{name} must be an int >= {lo}, got {value!r}.")
        for name, seconds in (("retrain_seconds", self.retrain_seconds), ("lease_seconds", self.lease_seconds)):
            if not isinstance(seconds, (int, float)) or not seconds > 0:
                raise ProjectError(f"{name} must be a positive number of seconds, got {seconds!r}.")

    def to_json(self) -> dict[str, Any]:
        """The settings as JSON (``classes`` as a list), with the file format."""
        d = dataclasses.asdict(self)
        d["classes"] = list(self.classes)
        return {"format": _FORMAT, **d}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ProjectConfig:
        """Inverse of :meth:`to_json`."""
        if d.get("format") != _FORMAT:
            raise ProjectError(f"project.json of format {d.get('format')!r}; this activelab reads format {_FORMAT}.")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - fields - {"format"})
        if unknown:
            raise ProjectError(f"project.json has unknown settings {unknown}; was it written by a newer activelab?")
        values = {k: v for k, v in d.items() if k in fields}
        values["classes"] = tuple(values["classes"])
        return cls(**values)


class Project:
    """An open labelling project: its settings, store and feature rows.

    Use :meth:`open` (an existing directory) or :func:`init_project` (a new one).
    """

    def __init__(self, directory: Path, config: ProjectConfig, store: Any, features: np.ndarray) -> None:
        self.directory = directory
        self.config = config
        self.store = store
        self.features = features

    @classmethod
    def open(cls, directory: str | os.PathLike[str]) -> Project:
        """Open the project in ``directory``.

        Raises:
            ProjectError: If the directory holds no project (run ``activelab label init``) or its
                files do not match (feature rows vs items).
        """
        from .store import Store

        path = Path(directory).expanduser()
        config_path = path / PROJECT_FILE
        if not config_path.is_file():
            raise ProjectError(f"{path} holds no labelling project (no {PROJECT_FILE}); create one with `activelab label init`.")
        try:
            config = ProjectConfig.from_json(json.loads(config_path.read_text()))
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise ProjectError(f"{config_path} is unreadable ({type(err).__name__}: {err}).") from err
        store = Store(path / STORE_FILE)
        features = np.load(path / FEATURES_FILE, mmap_mode="r")
        if len(features) != store.n_items:
            raise ProjectError(
                f"{path / FEATURES_FILE} has {len(features)} rows but the store holds {store.n_items} items; "
                "the project is damaged: create it again with `activelab label init`."
            )
        return cls(path, config, store, features)


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
    from .trainer import refresh

    refresh(project)
    return project
